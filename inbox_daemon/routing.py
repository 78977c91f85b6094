"""Smistamento: which queue a request goes to, by its type, urgency, channel and the like.

`[[routing]]` rules are tried in order and the first whose every `match` key fits wins, as
in a Mailman chain; a rule without `match` catches the rest. Pure: the rules come as plain
values, so that routing runs in the worker processes with the other pure stages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The facts a rule may match on. `competence`, `municipality` and `zone` come with the pole
# register; until then they are unknown and a rule naming them does not match.
FACTS = (
    "request_type", "urgency", "channel", "criminal_event",
    "competence", "municipality", "zone", "sender_domain",
)  # fmt: skip


@dataclass(frozen=True)
class RouteRule:
    """One `[[routing]]` entry: `match` maps a fact to a value or to a list of values."""

    queue: str
    match: Mapping[str, Any] = field(default_factory=dict)
    notify: tuple[str, ...] = ()
    forward: tuple[str, ...] = ()
    webhook: str | None = None


@dataclass(frozen=True)
class Route:
    """Where a request goes, and which rule sent it there (1-based, as an operator counts)."""

    queue: str
    rule: int
    because: str  # the matched facts, for the ticket's rule hits
    notify: tuple[str, ...] = ()
    forward: tuple[str, ...] = ()
    webhook: str | None = None


def route(facts: Mapping[str, Any], rules: Sequence[RouteRule]) -> Route | None:
    """The first rule whose `match` fits `facts`; None when no rule does."""
    for number, rule in enumerate(rules, start=1):
        if all(_fits(facts.get(key), want) for key, want in rule.match.items()):
            because = ", ".join(f"{key}={facts.get(key)}" for key in rule.match) or "default"
            return Route(rule.queue, number, because, rule.notify, rule.forward, rule.webhook)
    return None


def _fits(value: Any, want: Any) -> bool:
    return value in want if isinstance(want, list | tuple) else value == want
