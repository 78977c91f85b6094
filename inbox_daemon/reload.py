"""SIGHUP (`systemctl reload`): the configuration read again and applied without losing work.

`prepare` reads the file, its secrets, rules and templates as a start would, and says what
changes; any problem raises ConfigError before anything is touched, so a broken file leaves
the daemon running on the configuration it had (the daemon logs why). The database and the
store cannot change under a running daemon: a change to them is refused, with the reason.

What the daemon then does (`daemon.Daemon._reload`), between two batches, so that no message
is half-way: sources removed or changed are closed (a mailbox after its poll in progress, an
SMTP ingress after the messages under way), sources added or changed are started; the rules,
templates, routing and calendar are those of the new context, the analysis workers are
started again with them; the outbox's threads are replaced only when a relay or the
acknowledgements changed (a job cut by that is queued again, due at once). Stored messages
and queued jobs are in the database: nothing in flight is dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from inbox_daemon.config import Config, load_config, not_acted_on, resolve_secrets
from inbox_daemon.context import Context, build_context
from inbox_daemon.errors import ConfigError

log = logging.getLogger(__name__)
RESTART_ONLY = ("database", "storage")  # the tables' keys that a running daemon cannot change


@dataclass(frozen=True)
class Plan:
    """The new context and, by source name, what happens to each source."""

    ctx: Context
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    outbox_changed: bool  # relays or acknowledgements: the delivery threads are replaced

    def describe(self) -> str:
        parts = [
            f"{what} {', '.join(names)}"
            for what, names in (
                ("added", self.added),
                ("removed", self.removed),
                ("restarted", self.changed),
            )
            if names
        ]
        sources = "; ".join(parts) or "unchanged"
        return f"sources {sources}; rules, templates, routing and calendar re-read"


def prepare(old: Context) -> Plan:
    """Read the configuration file again and build its context on the running store;
    raise ConfigError naming every problem (the running configuration then stays)."""
    path = old.config.path
    if path is None:
        raise ConfigError(["the configuration was not read from a file: nothing to reload"])
    config = load_config(Path(path))
    resolve_secrets(config)
    problems = [
        f"{key}: changed; a running daemon keeps its {key} (restart it to change that)"
        for key in RESTART_ONLY
        if getattr(config, key) != getattr(old.config, key)
    ]
    if problems:
        raise ConfigError(problems)
    for problem in not_acted_on(config):
        log.warning("%s (the key is ignored)", problem)
    ctx = build_context(config, engine=old.engine)
    before, after = _sources(old.config), _sources(config)
    return Plan(
        ctx=ctx,
        added=tuple(name for name in after if name not in before),
        removed=tuple(name for name in before if name not in after),
        changed=tuple(name for name in after if name in before and after[name] != before[name]),
        outbox_changed=_outbox(old.config) != _outbox(config),
    )


def _sources(config: Config) -> dict[str, object]:
    return {source.name: source for source in config.sources}


def _outbox(config: Config) -> tuple[object, ...]:
    """What the delivery threads read: the relays, the sender, the webhooks and their
    secrets (found by the routing rule's position)."""
    relays = tuple(getattr(source, "smtp", None) for source in config.sources)
    return config.acknowledgements, relays, tuple(config.routing)
