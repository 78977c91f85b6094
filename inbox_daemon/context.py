"""Everything the pipeline needs, built once from the validated config."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

import rules
from inbox_daemon.acks import own_addresses
from inbox_daemon.calendar import ServiceCalendar
from inbox_daemon.config import AcknowledgementsConfig, Config, RoutingRule
from inbox_daemon.errors import ConfigError
from inbox_daemon.spool import BlobStore, Spool
from inbox_daemon.store.db import open_store

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
    routing: tuple[RoutingRule, ...]
    max_attempts: int
    max_attachment_bytes: int
    reminder_window_days: int
    own_addresses: frozenset[str]  # never acknowledged: derived from the config, once


def build_context(config: Config) -> Context:
    """Open the store (migrating it) and load the rules; raises StoreError or ConfigError."""
    check_templates(config)
    engine = open_store(config.database.url)
    cal = config.calendar
    formats = tuple(rules.PoleFormat(f.regex, f.canonical) for f in config.poles.formats)
    return Context(
        config=config,
        engine=engine,
        spool=Spool(engine, BlobStore(config.storage.dir, config.storage.sync)),
        calendar=ServiceCalendar(
            cal.timezone, cal.opening_hours, cal.holidays or None, cal.closures
        ),
        ruleset=load_rules(config),
        pole_formats=formats or tuple(rules.DEFAULT_POLE_FORMATS),
        tz=ZoneInfo(cal.timezone),
        acks=config.acknowledgements,
        routing=tuple(config.routing),
        max_attempts=config.processing.max_attempts,
        max_attachment_bytes=config.processing.max_attachment_mb * 1024 * 1024,
        reminder_window_days=config.processing.reminder_window_days,
        own_addresses=own_addresses(config),
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
