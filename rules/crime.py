"""Crime flag: thefts, break-ins, vandalism and assaults are for the police, not the queue.

The Contact Center must recognise them and tell the sender to call 112, while the ticket still
records the technical damage. Missing one costs more than an operator's second look, so the
rules lean towards recall; negated mentions ("non si tratta di furto") and fears ("abbiamo paura
dei furti") are `unless` guards. The learned stage (`rules.learned`) may add a crime the rules
miss when it is very sure (`learned_weight`, `learned_min_p`; 0 switches it off); it never
removes one the rules found (README, Classification: no threshold was safe).
"""

from __future__ import annotations

from rules import engine, learned
from rules.types import Hit

FIELD = "criminal_event"


def decide(document: engine.Document, ruleset: engine.RuleSet) -> tuple[bool, list[Hit]]:
    """True when the crime rules' votes, and the learned stage's, reach `min_score`; the hits
    say which fired."""
    decision = ruleset.decision(FIELD)
    fired = engine.run(ruleset.for_field(FIELD), document)
    score = engine.scores(fired).get("true", 0.0)
    held = engine.silenced(ruleset.for_field(FIELD), document, fired)
    hits = [item.hit for item in fired] + held
    if score < decision.min_score:
        vote, learned_hit = _learned(document, ruleset, decision, bool(held))
        score += vote
        if learned_hit is not None:
            hits.append(learned_hit)
    return score >= decision.min_score, hits


def _learned(
    document: engine.Document, ruleset: engine.RuleSet, decision: engine.Decision, held: bool
) -> tuple[float, Hit | None]:
    """The learned stage's vote for a crime the rules did not find: `learned_weight` when the
    model reads one with probability `learned_min_p` or more. A crime rule held back by a scope
    (a question, a hypothesis, long ago) keeps the model out: the rules read that no crime is
    reported here and now, and the model cannot tell «in caso di furto» from a theft."""
    read = learned.reading(document, ruleset, decision, FIELD)
    if read is None:
        return 0.0, None
    p = read.get("true", 0.0)
    if p < decision.learned_min_p:
        return 0.0, None
    if held:
        return 0.0, learned.hit(FIELD, "true", p, None)
    return decision.learned_weight, learned.hit(FIELD, "true", p, decision.learned_weight)
