"""Competence: whether the supplier must act, or the matter belongs to another body.

A fallen tree, a smell of gas, a flooded underpass are for the Vigili del Fuoco; a traffic light
or a hole in the road for the Polizia Locale. The contracts ask that urgent ones be passed to
whoever handles them, so routing can match on `competence`. A matter that also involves the
plant (a tree fallen on a pole, a panel that smokes) stays the supplier's: the rules that find
the plant are `unless` guards, and the supplier is the default.
"""

from __future__ import annotations

from rules import engine
from rules.types import Hit

FIELD = "competence"
DEFAULT = "fornitore"


def decide(document: engine.Document, ruleset: engine.RuleSet) -> tuple[str, list[Hit]]:
    """The body with the most votes at or over `min_score`, else the supplier."""
    decision = ruleset.decision(FIELD)
    fired = engine.run(ruleset.for_field(FIELD), document)
    totals = engine.scores(fired)
    best = max((v for v in totals if v != DEFAULT), key=lambda v: totals[v], default=None)
    if best is not None and totals[best] >= decision.min_score:
        return best, [item.hit for item in fired]
    return DEFAULT, [item.hit for item in fired]
