"""Urgency: the most severe level that the rules find enough evidence for.

Severity is an order, not a vote: one clear sign of immediate danger (a pole knocked down, live
wires) makes an emergency however many ordinary words surround it. Negations ("nessun pericolo",
"non ci sono cavi scoperti") are `unless` guards on the danger rules, and a rule may carry a
negative weight to cancel a level outright.
"""

from __future__ import annotations

from rules import engine
from rules.types import URGENCIES, Hit

FIELD = "urgency"
DEFAULT = "ordinaria"


def decide(document: engine.Document, ruleset: engine.RuleSet) -> tuple[str, list[Hit]]:
    """The most severe urgency whose votes reach `min_score`, else `ordinaria`."""
    decision = ruleset.decision(FIELD)
    fired = engine.run(ruleset.for_field(FIELD), document)
    hits = [item.hit for item in fired]
    totals = engine.scores(fired)
    for level in URGENCIES:  # most severe first
        if level != DEFAULT and totals.get(level, 0.0) >= decision.min_score:
            return level, hits
    hits.append(Hit("urgency.default", FIELD, DEFAULT, "no danger or safety rule is confident"))
    return DEFAULT, hits
