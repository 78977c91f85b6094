"""Scopes: which clauses of a message do not report a state here and now.

A danger named in a question («come si segnala un guasto?»), in a hypothesis («se qualcuno
dovesse rubare i cavi») or in a past the sender says is over («era buio la settimana scorsa,
ora è tutto a posto») is no danger, no fault and no crime. Rules used to carry these guards,
copied into each one and bound to the whole sentence; here they are computed once per message
from one table (`tables/scopes.toml`), clause by clause, and a rule names the scopes it does
not fire in (`outside`). Linear: a few regex scans and a bisection per lookup.
"""

from __future__ import annotations

import bisect
import itertools
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from rules.marks import Marks, Reading
from rules.prefilter import Anchors

TABLE = Path(__file__).parent / "tables" / "scopes.toml"
QUESTION, HYPOTHESIS, PAST, REMOTE = "domanda", "ipotesi", "passato", "remoto"
NAMES = (QUESTION, HYPOTHESIS, PAST, REMOTE)
_CLAUSE = re.compile(r"[,;:.!?()]+|\n|\s(?=(?:ma|pero|invece|mentre)\s)")
_SENTENCE = re.compile(r"[.!?;]+(?=\s|$)|\n[ \t]*\n")


@dataclass(frozen=True)
class Markers:
    question: tuple[re.Pattern[str], ...]
    hypothesis: tuple[re.Pattern[str], ...]
    hypothesis_ends: tuple[re.Pattern[str], ...]
    resolved: tuple[re.Pattern[str], ...]
    past: tuple[re.Pattern[str], ...]
    remote: tuple[re.Pattern[str], ...] = ()

    @cached_property
    def marks(self) -> Marks:
        """The markers searched along a text or a clause (`rules.marks`), read fast."""
        return Marks.of(
            "scopes",
            {
                QUESTION: self.question,
                HYPOTHESIS: self.hypothesis,
                "resolved": self.resolved,
                PAST: self.past,
                REMOTE: self.remote,
            },
        )


@cache
def markers(path: Path = TABLE) -> Markers:
    with open(path, "rb") as handle:
        data = tomllib.load(handle)

    def compiled(table: str, key: str) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p, re.IGNORECASE) for p in data[table].get(key, []))

    return Markers(
        compiled(QUESTION, "starts"),
        compiled(HYPOTHESIS, "starts"),
        compiled(HYPOTHESIS, "ends"),
        compiled(PAST, "resolved"),
        compiled(PAST, "marks"),
        compiled(REMOTE, "marks"),
    )


@dataclass(frozen=True)
class Scopes:
    """Spans of the text (start, end, scope name), sorted by start; the spans of one scope do
    not overlap, so a lookup is a bisection per scope."""

    spans: tuple[tuple[int, int, str], ...]

    def at(self, pos: int) -> frozenset[str]:
        """The scopes holding `pos`."""
        found = []
        for name, (starts, ends) in self._index.items():
            i = bisect.bisect_right(starts, pos) - 1
            if i >= 0 and pos < ends[i]:
                found.append(name)
        return frozenset(found)

    @cached_property
    def _index(self) -> dict[str, tuple[list[int], list[int]]]:
        index: dict[str, tuple[list[int], list[int]]] = {}
        for start, end, name in self.spans:
            starts, ends = index.setdefault(name, ([], []))
            if starts and start < ends[-1]:  # overlapping: merge into the previous span
                ends[-1] = max(ends[-1], end)
                continue
            starts.append(start)
            ends.append(end)
        return index


NO_SCOPES = Scopes(())


def find(
    text: str,
    anchors: Anchors | None = None,
    places: dict[str, list[int]] | None = None,
    sentence_ends: Sequence[int] | None = None,
) -> Scopes:
    """The question, hypothesis and past scopes of `text` (folded, any case); `places`: the
    `Anchors.places` of it lower-cased, found with `anchors` built with `Markers.marks`'s
    families (`RuleSet.anchors`), which saves a scan; `sentence_ends`: where its sentences
    end (`Document.sentence_ends`, the same regex on the same text), which saves another."""
    read = markers().marks.read(text.lower(), anchors, places)
    if not possible(read):
        return NO_SCOPES  # a third of the corpus: no clause need be cut
    return Scopes(tuple(sorted(spans(read, sentence_ends))))


def possible(read: Reading) -> bool:
    """False when no scope can begin anywhere in the text: a question needs its «?», and the
    others a marker of the group that opens them (`spans` asks `may_begin` the same of each
    sentence or clause, which cannot answer yes where the whole text answers no)."""
    return "?" in read.text or any(map(read.may_begin, (HYPOTHESIS, "resolved", REMOTE)))


def spans(read: Reading, sentence_ends: Sequence[int] | None = None) -> list[tuple[int, int, str]]:
    """The scopes' spans in the lower-cased text of `read`, clause by clause, unsorted."""
    m = markers()
    lowered = read.text
    clauses = _clauses(lowered)
    found: list[tuple[int, int, str]] = []
    starts = [c[0] for c in clauses]
    for start, end in _sentences(lowered, sentence_ends):
        if "?" in lowered[start:end] and read.may_begin(QUESTION, start, end):
            inside = clauses[bisect.bisect_left(starts, start) : bisect.bisect_left(starts, end)]
            found += _question(read, start, end, inside)
        if read.may_begin(HYPOTHESIS, start, end):
            inside = clauses[bisect.bisect_left(starts, start) : bisect.bisect_left(starts, end)]
            found += _hypothesis(read, end, inside, m)
    found += _past(read, clauses)
    found += _remote(read, clauses)
    return found


def _sentences(text: str, ends: Sequence[int] | None = None) -> list[tuple[int, int]]:
    if ends is None:
        ends = [m.end() for m in _SENTENCE.finditer(text)]
    starts = [0, *ends]
    return [(s, e) for s, e in zip(starts, [*ends, len(text)], strict=True) if e > s]


def _clauses(text: str) -> list[tuple[int, int]]:
    cuts = [0, *(m.end() for m in _CLAUSE.finditer(text)), len(text)]
    return [(s, e) for s, e in itertools.pairwise(cuts) if e > s]


def _question(
    read: Reading, start: int, end: int, clauses: Sequence[tuple[int, int]]
) -> list[tuple[int, int, str]]:
    mark = read.text.rfind("?", start, end)
    for c_start, c_end in clauses:
        if c_start > mark:
            break
        if _in_clause(read, QUESTION, c_start, c_end):
            return [(c_start, mark + 1, QUESTION)]
    return []  # no interrogative word: a rhetorical "ma vi rendete conto che sta per cadere?"


def _in_clause(read: Reading, group: str, start: int, end: int) -> bool:
    """A marker of `group` found in the clause [start, end)."""
    if not read.may_begin(group, start, end):
        return False
    return any(read.search(mark, start, end) for mark in read.marks.groups[group])


def _hypothesis(
    read: Reading, end: int, clauses: Sequence[tuple[int, int]], m: Markers
) -> list[tuple[int, int, str]]:
    text = read.text
    for i, (c_start, c_end) in enumerate(clauses):
        if not read.may_begin(HYPOTHESIS, c_start, c_end):
            continue
        marks = read.marks.groups[HYPOTHESIS]
        found = [x.start() for mark in marks if (x := read.search(mark, c_start, c_end))]
        if not found:
            continue
        stop = end
        for n_start, n_end in clauses[i + 1 :]:
            if any(p.match(text, n_start, n_end) for p in _leading(m.hypothesis_ends)):
                stop = n_start
                break
        return [(min(found), stop, HYPOTHESIS)]
    return []


@cache
def _leading(patterns: tuple[re.Pattern[str], ...]) -> tuple[re.Pattern[str], ...]:
    """The patterns anchored at a clause's first word."""
    return tuple(re.compile(r"\s*" + p.pattern, p.flags) for p in patterns)


def _past(read: Reading, clauses: Sequence[tuple[int, int]]) -> list[tuple[int, int, str]]:
    if not read.may_begin("resolved"):
        return []
    ends = [x.start() for mark in read.marks.groups["resolved"] for x in read.finditer(mark)]
    if not ends:
        return []
    resolved_at = max(ends)
    return [
        (c_start, c_end, PAST)
        for c_start, c_end in clauses
        if c_end <= resolved_at + 1 and _in_clause(read, PAST, c_start, c_end)
    ]


def _remote(read: Reading, clauses: Sequence[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """The clauses dated in a remote past, whatever the rest of the message says."""
    marks = read.marks.groups[REMOTE]
    if not read.may_begin(REMOTE) or not any(read.search(mark) for mark in marks):
        return []
    return [
        (c_start, c_end, REMOTE)
        for c_start, c_end in clauses
        if _in_clause(read, REMOTE, c_start, c_end)
    ]
