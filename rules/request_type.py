"""Request type: which kind of request a message is, by weighted votes of named rules.

One word decides nothing in bureaucratic Italian ("si chiede un sollecito intervento" asks for a
prompt repair, "per vostra informazione" closes a fault report), so every rule votes with a
weight, traps are written as `unless` guards beside the rule they fool, and the value with the
most votes wins only when it reaches the decision's `min_score` (or `lone_min_score` when no
other value has a vote: a short message says one thing); otherwise the message is left
`da_classificare` for an operator. A quoted ticket number votes for `sollecito`.

The other fields are evidence too: a danger or a dark street that the urgency rules found, or a
crime against the plant, is damage to repair: each lifts the `manutenzione` score to at least
`danger_weight` / `crime_weight`. They stand for a fault described, so they do not add to the
fault rules' own votes, and a reminder or a complaint about the same damage still wins on its own
words; the fault vocabulary need not repeat every danger word.
"""

from __future__ import annotations

from collections.abc import Sequence

from rules import engine, learned
from rules.linking import TicketRef
from rules.scopes import QUESTION
from rules.types import Hit

FIELD = "request_type"
UNDECIDED = "da_classificare"


def decide(
    document: engine.Document,
    ruleset: engine.RuleSet,
    refs: Sequence[TicketRef] = (),
    urgency: str = "ordinaria",
    criminal: bool = False,
    competence: str = "fornitore",
) -> tuple[str, list[Hit]]:
    """The request type and the hits that voted, plus one hit saying how it was decided.

    `urgency` and `criminal` are the other fields' verdicts on the same document.
    """
    decision = ruleset.decision(FIELD)
    fired, void = outrank(engine.run(ruleset.for_field(FIELD), document), decision)
    held = engine.silenced(ruleset.for_field(FIELD), document, fired)
    hits = [item.hit for item in fired] + void + held
    totals = engine.scores(fired)
    question = _question(document) if decision.question_weight else None
    if question is not None:
        _at_least(totals, "informazione", decision.question_weight)
        hits.append(Hit("request_type.question", FIELD, "informazione", question))
    if refs and decision.quoted_ticket_weight:
        totals["sollecito"] = totals.get("sollecito", 0.0) + decision.quoted_ticket_weight
        hits.append(Hit("request_type.quoted_ticket", FIELD, "sollecito", refs[0].raw))
    if urgency != "ordinaria" and decision.danger_weight:
        _at_least(totals, "manutenzione", decision.danger_weight)
        hits.append(Hit("request_type.danger", FIELD, "manutenzione", f"urgency {urgency}"))
    if competence != "fornitore" and decision.competence_weight:
        _at_least(totals, "manutenzione", decision.competence_weight)
        hits.append(Hit("request_type.competence", FIELD, "manutenzione", f"hazard: {competence}"))
    if criminal and decision.crime_weight:
        _at_least(totals, "manutenzione", decision.crime_weight)
        hits.append(Hit("request_type.crime", FIELD, "manutenzione", "criminal event"))
    learned_hit = _learned(document, ruleset, decision, totals)
    if learned_hit is not None:
        hits.append(learned_hit)
    value, score = _best(totals, decision.prefer)
    if value is not None and _lone(fired, totals, value, decision):
        hits.append(Hit("request_type.decision", FIELD, value, f"{_summary(totals)}, alone"))
        return value, hits
    if value is None or score < decision.min_score:
        summary = f"best {value} {score:g} < {decision.min_score:g}" if value else "no rule fired"
        hits.append(Hit("request_type.not_confident", FIELD, UNDECIDED, summary))
        return UNDECIDED, hits
    hits.append(Hit("request_type.decision", FIELD, value, _summary(totals)))
    return value, hits


def _learned(
    document: engine.Document,
    ruleset: engine.RuleSet,
    decision: engine.Decision,
    totals: dict[str, float],
) -> Hit | None:
    """The learned stage's vote (`rules.learned`), added to `totals`: `learned_weight` for the
    type it reads with probability `learned_min_p` or more, unless a rival type's rule score
    reaches `learned_sure` (the message says what it is). Its hit says so either way."""
    read = learned.reading(document, ruleset, decision, FIELD)
    if read is None:
        return None
    value, p = learned.best(read)
    if value == UNDECIDED or p < decision.learned_min_p:
        return None
    rival = max((s for v, s in totals.items() if v != value), default=0.0)
    if decision.learned_sure and rival >= decision.learned_sure:
        return learned.hit(FIELD, value, p, None)
    totals[value] = totals.get(value, 0.0) + decision.learned_weight
    return learned.hit(FIELD, value, p, decision.learned_weight)


def outrank(
    fired: Sequence[engine.Fired], decision: engine.Decision
) -> tuple[list[engine.Fired], list[Hit]]:
    """The votes that stand after the precedence table, and a hit for each one made void."""
    present = {item.rule.name for item in fired}
    void_by = {
        loser: winner
        for winner, losers in decision.outranks.items()
        if winner in present
        for loser in losers
    }
    kept = [item for item in fired if item.rule.name not in void_by]
    void = [
        Hit(f"{FIELD}.outranked", FIELD, item.rule.value, f"{item.rule.name} < {void_by[name]}")
        for item in fired
        if (name := item.rule.name) in void_by
    ]
    return kept, void


def _question(document: engine.Document) -> str | None:
    """The first question scope's text, when the message asks something."""
    if "?" not in document.folded:
        return None  # a question scope ends at its «?» (`rules.scopes`): none to find here
    for start, end, name in document.scopes.spans:
        if name == QUESTION:
            return f"[{name}] {document.evidence(start, end)}"
    return None


def _lone(
    fired: Sequence[engine.Fired], totals: dict[str, float], value: str, decision: engine.Decision
) -> bool:
    """One value alone has votes, enough for a short message that says one thing: «Che
    vergogna.» (`lone_min_score`; 0 keeps the usual floor). The rules in `lone_ignores` (a «?»,
    a topic word, «vorrei segnalare») say too little to decide alone."""
    if not decision.lone_min_score or any(v > 0 for k, v in totals.items() if k != value):
        return False
    said = sum(
        item.weight
        for item in fired
        if item.rule.value == value and item.rule.name not in decision.lone_ignores
    )
    return said >= decision.lone_min_score


def _at_least(totals: dict[str, float], value: str, score: float) -> None:
    totals[value] = max(totals.get(value, 0.0), score)


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
