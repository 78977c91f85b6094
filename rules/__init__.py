"""Classification rules: request type, urgency, crime flag, pole codes and quoted tickets.

Pure: takes text and plain values, returns a `Verdict` whose hits say why. It never imports the
daemon, the database or the config model (DESIGN.md, STYLE.md §7).

    ruleset = load_ruleset(config_rule_files)     # once, at startup; raises RulesError
    verdict = classify(RuleInput(subject, text, sender), ruleset, pole_formats)
"""

from __future__ import annotations

from collections.abc import Sequence

from rules import competence, crime, details, request_type, urgency
from rules.engine import Document, Rule, RulesError, RuleSet
from rules.linking import TicketRef, find_ticket_refs, ticket_ref_hits
from rules.loader import load_ruleset
from rules.poles import DEFAULT_POLE_FORMATS, PoleHit, find_poles
from rules.types import REQUEST_TYPES, URGENCIES, Hit, PoleFormat, RuleInput, Verdict

__all__ = [
    "DEFAULT_POLE_FORMATS",
    "REQUEST_TYPES",
    "URGENCIES",
    "Hit",
    "PoleFormat",
    "PoleHit",
    "Rule",
    "RuleInput",
    "RuleSet",
    "RulesError",
    "Verdict",
    "classify",
    "find_poles",
    "find_ticket_refs",
    "load_ruleset",
]


def classify(doc: RuleInput, ruleset: RuleSet, pole_formats: Sequence[PoleFormat]) -> Verdict:
    """Classify one request; every decision leaves hits naming the rule and its evidence."""
    document = Document.of(doc).for_rules(ruleset)
    refs = ticket_ref_hits(document.original, document.accents_folded)
    poles = find_poles(document.original, pole_formats)
    # a reply's quoted history says which pole and ticket it is about, and nothing else
    quoted_poles, qr = _quoted(doc.quoted, pole_formats, poles, refs)
    body, competence_hits = competence.decide(document, ruleset)
    criminal, crime_hits = crime.decide(document, ruleset)
    # what another field found sets the least urgency (gas, a theft of the line's cables)
    level, urgency_hits = urgency.decide(document, ruleset, [*competence_hits, *crime_hits])
    kind, type_hits = request_type.decide(document, ruleset, refs, level, criminal, body)
    fields, detail_hits = details.extract(kind, f"{doc.subject}\n{doc.text}")
    hits = [
        *crime_hits,
        *competence_hits,
        *type_hits,
        *urgency_hits,
        *(Hit("poles.format", "pole_codes", p.code, _tag(document, p.start, p.raw)) for p in poles),
        *(Hit("poles.quoted", "pole_codes", p.code, f"[{QUOTED}] {p.raw}") for p in quoted_poles),
        *(Hit("linking.ticket_ref", "ticket_refs", r.number, r.raw) for r in refs),
        *(Hit("linking.quoted_ref", "ticket_refs", r.number, f"[{QUOTED}] {r.raw}") for r in qr),
        *detail_hits,
    ]
    return Verdict(
        request_type=kind,
        urgency=level,
        criminal_event=criminal,
        pole_codes=tuple(p.code for p in (*poles, *quoted_poles)),
        ticket_refs=tuple(r.number for r in (*refs, *qr)),
        hits=tuple(hits),
        competence=body,
        details=fields,
    )


QUOTED = "citato"  # the tag of evidence found in a reply's quoted history


def _quoted(
    quoted: str,
    formats: Sequence[PoleFormat],
    poles: Sequence[PoleHit],
    refs: Sequence[TicketRef],
) -> tuple[list[PoleHit], list[TicketRef]]:
    """Pole codes and ticket numbers of the quoted history that the new text does not name."""
    if not quoted.strip():
        return [], []
    codes, numbers = {p.code for p in poles}, {r.number for r in refs}
    found_poles = [p for p in find_poles(quoted, formats) if p.code not in codes]
    found_refs = [r for r in ticket_ref_hits(quoted) if r.number not in numbers]
    return found_poles, list({r.number: r for r in found_refs}.values())


def _tag(document: Document, start: int, raw: str) -> str:
    part = document.part(start)
    return f"[{part}] {raw}" if part else raw
