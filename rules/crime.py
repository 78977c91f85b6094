"""Crime flag: thefts, break-ins, vandalism and assaults are for the police, not the queue.

The Contact Center must recognise them and tell the sender to call 112, while the ticket still
records the technical damage. Missing one costs more than an operator's second look, so the
rules lean towards recall; negated mentions ("non si tratta di furto") and fears ("abbiamo paura
dei furti") are `unless` guards.
"""

from __future__ import annotations

from rules import engine
from rules.types import Hit

FIELD = "criminal_event"


def decide(document: engine.Document, ruleset: engine.RuleSet) -> tuple[bool, list[Hit]]:
    """True when the crime rules' votes reach `min_score`; the hits say which fired."""
    fired = engine.run(ruleset.for_field(FIELD), document)
    score = engine.scores(fired).get("true", 0.0)
    held = engine.silenced(ruleset.for_field(FIELD), document, fired)
    return score >= ruleset.decision(FIELD).min_score, [item.hit for item in fired] + held
