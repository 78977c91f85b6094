"""Ticket numbers quoted in a message, so that a reminder links to the request it recalls.

Our numbers are "YYYY/NNNNNN" (the acknowledgement says so), but people quote them loosely:
"n. 2026/123", "pratica 123/2026". Municipal mail is full of look-alikes that are not ours:
"Prot. n. 12345/2026", "fattura n. 118/2026", "ordine n. 2026/1234", dates such as 05/03/2026.
So the word just before a number decides: a year-first number counts unless a foreign word
(protocol, invoice, order…) introduces it; a number-first one counts only when one of our words
(pratica, ticket, segnalazione, richiesta) does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rules.engine import fold

_YEAR_FIRST = re.compile(r"(?<![\d/.])(20\d\d)\s?/\s?(\d{1,6})(?![\d/])")
_NUMBER_FIRST = re.compile(r"(?<![\d/.])(\d{1,6})\s?/\s?(20\d\d)(?![\d/])")
_OURS = r"pratic\w*|ticket|segnalazion\w*|richiest\w*|registrat\w*|sollecit\w*|numero"
_FOREIGN = (
    r"prot\w*|nota|ordin\w*|fattur\w*|ddt|bolla|determin\w*|delibera\w*|decret\w*|sinistr\w*"
    r"|verbale|matricola|art|contratt\w*|cig|preventiv\w*|circolare|legge|d\.?\s?lgs|dpr"
)
_KEYWORD = re.compile(rf"\b(?:(?P<ours>{_OURS})|(?P<foreign>{_FOREIGN}))\b", re.IGNORECASE)
LOOKBACK = 40


@dataclass(frozen=True)
class TicketRef:
    """A quoted ticket number: canonical form, the text as written, and where."""

    number: str
    raw: str
    start: int
    end: int


def find_ticket_refs(text: str) -> list[str]:
    """Canonical ticket numbers quoted in `text`, each once, in order.

    >>> find_ticket_refs("rif. pratica 123/2026, prot. n. 4521/2026, vs n. 2026/88")
    ['2026/000123', '2026/000088']
    """
    return [ref.number for ref in ticket_ref_hits(text)]


def ticket_ref_hits(text: str, folded: str | None = None) -> list[TicketRef]:
    """Like `find_ticket_refs`, with the text as written and its span; `folded` is `fold(text)`
    when the caller has it already (`Document.accents_folded`)."""
    folded = fold(text) if folded is None else folded
    if "/" not in folded:
        return []  # most messages: both forms need their slash (tests/rules/test_exactness.py)
    candidates = [
        (m, m.group(1), m.group(2))
        for m in _YEAR_FIRST.finditer(folded)
        if _introduced_by(folded, m.start()) != "foreign"
    ] + [
        (m, m.group(2), m.group(1))
        for m in _NUMBER_FIRST.finditer(folded)
        if _introduced_by(folded, m.start()) == "ours"
    ]
    found = sorted(
        (ref for m, year, seq in candidates if (ref := _ref(text, m, year, seq))),
        key=lambda ref: ref.start,
    )
    seen: set[str] = set()
    return [ref for ref in found if not (ref.number in seen or seen.add(ref.number))]


def _ref(text: str, match: re.Match[str], year: str, seq: str) -> TicketRef | None:
    """The canonical reference; None for 0 and for a school year such as "2025/2026"."""
    number = int(seq)
    if number == 0 or abs(number - int(year)) == 1:
        return None
    start, end = match.span()
    return TicketRef(f"{year}/{number:06d}", text[start:end], start, end)


def _introduced_by(folded: str, start: int) -> str | None:
    """'ours', 'foreign' or None: the kind of the last keyword shortly before `start`."""
    window = folded[max(0, start - LOOKBACK) : start]
    last = None
    for match in _KEYWORD.finditer(window):
        last = "ours" if match.group("ours") else "foreign"
    return last
