"""Request type: which kind of request a message is, by weighted votes of named rules.

One word decides nothing in bureaucratic Italian ("si chiede un sollecito intervento" asks for a
prompt repair, "per vostra informazione" closes a fault report), so every rule votes with a
weight, traps are written as `unless` guards beside the rule they fool, and the value with the
most votes wins only when it reaches the decision's `min_score`; otherwise the message is left
`da_classificare` for an operator. A quoted ticket number votes for `sollecito`.
"""

from __future__ import annotations

from collections.abc import Sequence

from rules import engine
from rules.linking import TicketRef
from rules.types import Hit

FIELD = "request_type"
UNDECIDED = "da_classificare"


def decide(
    document: engine.Document, ruleset: engine.RuleSet, refs: Sequence[TicketRef] = ()
) -> tuple[str, list[Hit]]:
    """The request type and the hits that voted, plus one hit saying how it was decided."""
    decision = ruleset.decision(FIELD)
    fired = engine.run(ruleset.for_field(FIELD), document)
    hits = [item.hit for item in fired]
    totals = engine.scores(fired)
    if refs and decision.quoted_ticket_weight:
        totals["sollecito"] = totals.get("sollecito", 0.0) + decision.quoted_ticket_weight
        hits.append(Hit("request_type.quoted_ticket", FIELD, "sollecito", refs[0].raw))
    value, score = _best(totals, decision.prefer)
    if value is None or score < decision.min_score:
        summary = f"best {value} {score:g} < {decision.min_score:g}" if value else "no rule fired"
        hits.append(Hit("request_type.not_confident", FIELD, UNDECIDED, summary))
        return UNDECIDED, hits
    hits.append(Hit("request_type.decision", FIELD, value, _summary(totals)))
    return value, hits


def _best(totals: dict[str, float], prefer: Sequence[str]) -> tuple[str | None, float]:
    """The value with the highest score; ties go to the one listed first in `prefer`."""
    if not totals:
        return None, 0.0
    rank = {value: i for i, value in enumerate(prefer)}
    value = max(totals, key=lambda v: (totals[v], -rank.get(v, len(rank))))
    return value, totals[value]


def _summary(totals: dict[str, float]) -> str:
    ordered = sorted(totals.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{value} {score:g}" for value, score in ordered)
