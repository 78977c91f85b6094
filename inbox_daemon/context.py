"""Everything the pipeline needs, built once from the validated config."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

import rules
from inbox_daemon.acks import AckPolicy, own_addresses
from inbox_daemon.calendar import ServiceCalendar
from inbox_daemon.config import AcknowledgementsConfig, Config
from inbox_daemon.decide import Policy
from inbox_daemon.errors import ConfigError
from inbox_daemon.register import LoadedRegister
from inbox_daemon.routing import RouteRule
from inbox_daemon.spool import BlobStore, Spool
from inbox_daemon.store.db import open_store

if TYPE_CHECKING:
    from parsers.pec import TrustStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    config: Config
    engine: Engine
    spool: Spool
    calendar: ServiceCalendar
    ruleset: rules.RuleSet
    pole_formats: tuple[rules.PoleFormat, ...]
    tz: ZoneInfo
    acks: AcknowledgementsConfig
    routing: tuple[RouteRule, ...]
    max_attempts: int
    max_attachment_bytes: int
    reminder_window_days: int
    own_addresses: frozenset[str]  # never acknowledged: derived from the config, once
    policy: Policy  # what `decide` applies: calendar, reminder window, acknowledgements
    register: LoadedRegister  # the pole register, for the locate stage
    pec_trust: TrustStore | None = None  # `[pec] trust_store`, read once
    instance: str | None = None  # this daemon's id on a shared database (`instances.py`)


def build_context(config: Config, engine: Engine | None = None) -> Context:
    """Open the store (migrating it) and load the rules; raises StoreError or ConfigError.
    `engine`: a store already open (a reload keeps the running daemon's)."""
    check_templates(config)
    engine = engine or open_store(config.database.url)
    cal = config.calendar
    calendar = ServiceCalendar(cal.timezone, cal.opening_hours, cal.holidays or None, cal.closures)
    tz = ZoneInfo(cal.timezone)
    ack = AckPolicy.from_config(config, tz) if config.acknowledgements.enabled else None
    window = config.processing.reminder_window_days
    return Context(
        config=config,
        engine=engine,
        spool=Spool(engine, BlobStore(config.storage.dir, config.storage.sync)),
        calendar=calendar,
        ruleset=load_rules(config),
        pole_formats=config.poles.pole_formats(),
        tz=tz,
        acks=config.acknowledgements,
        routing=routing_rules(config),
        max_attempts=config.processing.max_attempts,
        max_attachment_bytes=config.processing.max_attachment_mb * 1024 * 1024,
        reminder_window_days=window,
        own_addresses=own_addresses(config),
        policy=Policy(calendar, tz, timedelta(days=window), ack, config.voicemail.sms_gateway),
        register=LoadedRegister(engine),
        pec_trust=load_trust(config),
    )


def load_trust(config: Config) -> TrustStore | None:
    """The PEC providers' CA bundle; a file that holds none is a configuration error."""
    path = config.pec.trust_store
    if path is None:
        return None
    from parsers.pec import TrustStore, TrustStoreError  # its crypto: only with a trust store

    try:
        return TrustStore.from_pem(path.read_bytes())
    except (OSError, TrustStoreError) as exc:
        raise ConfigError([f"pec.trust_store: {path}: {exc}"]) from None


def routing_rules(config: Config) -> tuple[RouteRule, ...]:
    """`[[routing]]` as plain values, for the routing stage in the worker processes."""
    return tuple(
        RouteRule(r.queue, dict(r.match), tuple(r.notify), tuple(r.forward), r.webhook)
        for r in config.routing
    )


def check_templates(config: Config) -> None:
    from inbox_daemon.acks import template_problems

    problems = template_problems(config.acknowledgements)
    if problems:
        raise ConfigError(problems)


def load_rules(config: Config) -> rules.RuleSet:
    try:
        return rules.load_ruleset(config.rules.files)
    except rules.RulesError as exc:
        raise ConfigError([f"rules.files: {exc}"]) from None
