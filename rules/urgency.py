"""Urgency: the most severe level that the rules find enough evidence for.

Severity is an order, not a vote: one clear sign of immediate danger (a pole knocked down, live
wires) makes an emergency however many ordinary words surround it. Negations ("nessun pericolo",
"non ci sono cavi scoperti") are `unless` guards on the danger rules, and a rule may carry a
negative weight to cancel a level outright. A negative vote reaches to the end of the sentence
of its last match, and over the whole message when that is the subject: a subject that says
«cavo del telefono», or a body that says it again after the wire «a terra», ends that danger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rules import engine, learned
from rules.types import URGENCIES, Hit

FIELD = "urgency"
DEFAULT = "ordinaria"


def decide(
    document: engine.Document, ruleset: engine.RuleSet, found: Sequence[Hit] = ()
) -> tuple[str, list[Hit]]:
    """The most severe urgency whose votes reach `min_score`, or that a matter found by another
    field's rule (`found`) or a sign of this one implies (looked up in the decision's `floors`:
    a pole knocked down and made safe stays urgent), else `ordinaria`."""
    decision = ruleset.decision(FIELD)
    fired = [_reach_last(item, document) for item in engine.run(ruleset.for_field(FIELD), document)]
    hits = [item.hit for item in fired] + engine.silenced(ruleset.for_field(FIELD), document, fired)
    totals = engine.scores(fired)
    # a sign of this field may set a floor too: a pole knocked down and made safe is no longer an
    # emergency (its negative vote) but has to be taken up soon (its floor)
    own = [item.hit for item in fired if item.hit.rule in decision.floors]
    for hit in [*found, *own]:
        level = decision.floors.get(hit.rule)
        if level is not None and level != DEFAULT:
            totals[level] = max(totals.get(level, 0.0), decision.min_score)
            hits.append(Hit(f"{FIELD}.floor", FIELD, level, f"{hit.rule}: {hit.evidence}"))
    learned_hit = _learned(document, ruleset, decision, fired, totals)
    if learned_hit is not None:
        hits.append(learned_hit)
    for level in URGENCIES:  # most severe first
        if level != DEFAULT and totals.get(level, 0.0) >= decision.min_score:
            return level, hits
    hits.append(Hit("urgency.default", FIELD, DEFAULT, "no danger or safety rule is confident"))
    return DEFAULT, hits


LIFT = "urgente"  # the most the learned stage may lift a message to: never an emergency


def _learned(
    document: engine.Document,
    ruleset: engine.RuleSet,
    decision: engine.Decision,
    fired: Sequence[engine.Fired],
    totals: dict[str, float],
) -> Hit | None:
    """The learned stage's vote (`rules.learned`): `learned_weight` for `urgente` when the
    model reads the message as urgent or worse with probability `learned_min_p` or more. An
    emergency stays the rules' call (their hits are its explanation), and a reassurance of
    weight `learned_sure` or more («nessun pericolo», made safe) keeps the model out."""
    read = learned.reading(document, ruleset, decision, FIELD)
    if read is None:
        return None
    p = sum(read.get(level, 0.0) for level in URGENCIES if level != DEFAULT)
    if p < decision.learned_min_p:
        return None
    reassured = [item for item in fired if item.weight < 0]
    if decision.learned_sure and any(-item.weight >= decision.learned_sure for item in reassured):
        return learned.hit(FIELD, LIFT, p, None)
    totals[LIFT] = totals.get(LIFT, 0.0) + decision.learned_weight
    return learned.hit(FIELD, LIFT, p, decision.learned_weight)


def _reach_last(item: engine.Fired, document: engine.Document) -> engine.Fired:
    """A negative vote reaching to the end of the sentence of its last match that no `unless`
    silences (the engine keeps the first: a reassurance in the subject would cancel nothing),
    or to the end of the message when it is only in the subject, which names what it is about."""
    if item.weight >= 0 or not item.reach:
        return item
    # the text the rule ran on: lower-cased when it is ASCII (the rule is then its lower-case twin)
    text = document.lowered if document.lowered is not None else document.folded
    last = item.start
    for pattern in item.rule.patterns:
        for match in pattern.finditer(text, item.start):
            start, end = document.sentence(match.start())
            guarded = any(u.search(text, start, end) for u in item.rule.unless)
            if match.start() > last and not guarded:
                last = match.start()
    if document.sentence(last)[1] <= _subject_end(document):  # the subject is about it all
        return replace(item, reach=len(text))
    return replace(item, reach=document.sentence(last)[1]) if last > item.start else item


def _subject_end(document: engine.Document) -> int:
    """Where the subject line ends (`Document.of` puts a blank line after it)."""
    end = document.original.find("\n\n")
    return end + 2 if end > 0 else -1
