"""A table's patterns read on one text, each tried only where a match of it may begin.

The scopes' markers (`rules.scopes`) are case-insensitive patterns searched along each message
and in its clauses. On lower-cased ASCII text their lower-case twins (`rules.screen.lower_twin`)
match at the same places, and the scan that tells where the rules' matches may begin
(`rules.prefilter.Anchors`, which holds the markers' starts too: `Marks.families`) tells where
theirs may. So a search along the whole text tries a marker at those few places only, and a
sentence or a clause where none of a group's markers may begin is not searched at all: the
results are those `re` gives. On other text, or for a marker without a twin or starts, `re`
reads it as written.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from rules.prefilter import Anchors, Needs, build_anchors, pattern_needs, present
from rules.screen import lower_twin


@dataclass(frozen=True, eq=False)
class Mark:
    """One marker: the pattern as written, its twin for lower-cased ASCII text, its family."""

    pattern: re.Pattern[str]
    twin: re.Pattern[str] | None
    family: str  # its name in `Anchors`

    @cached_property
    def needs(self) -> Needs | None:
        """What every match of its twin holds (`rules.prefilter.pattern_needs`), None if
        unknown: a marker is searched only in a text that holds it. A marker with unknown
        starts («(\\w+\\s+)?anni») was searched along every message, and one whose start is
        a common word («del» of «del 2024») tried at each place it is."""
        if self.twin is None:
            return None
        return pattern_needs(self.twin.pattern, self.twin.flags)


@dataclass(frozen=True, eq=False)
class Marks:
    """Named groups of markers (case-insensitive patterns)."""

    name: str  # its families are named after it: "scopes domanda", "scopes domanda 0"…
    groups: Mapping[str, tuple[Mark, ...]]

    @classmethod
    def of(cls, name: str, groups: Mapping[str, Sequence[re.Pattern[str]]]) -> Marks:
        return cls(name, {
            group: tuple(
                Mark(p, lower_twin(p), f"{name} {group} {i}") for i, p in enumerate(patterns)
            )
            for group, patterns in groups.items()
        })  # fmt: skip

    def families(self) -> list[tuple[str, tuple[re.Pattern[str], ...]]]:
        """(family, twins) for `rules.prefilter.build_anchors`: every marker with a twin, on
        its own, and every group whose markers all have one (named after the group)."""
        families: list[tuple[str, tuple[re.Pattern[str], ...]]] = []
        for group, marks in self.groups.items():
            twins = tuple(mark.twin for mark in marks if mark.twin is not None)
            families += ((mark.family, (mark.twin,)) for mark in marks if mark.twin is not None)
            if twins and len(twins) == len(marks):
                families.append((self.family(group), twins))
        return families

    def family(self, group: str) -> str:
        """The name of a group's family in `Anchors`."""
        return self._group_families[group]

    @cached_property
    def _group_families(self) -> dict[str, str]:
        return {group: f"{self.name} {group}" for group in self.groups}

    @cached_property
    def anchors(self) -> Anchors:
        """Anchors of these markers alone, for a text read without the rules' (`read`)."""
        return build_anchors(self.families())

    def read(
        self,
        lowered: str,
        anchors: Anchors | None = None,
        places: dict[str, list[int]] | None = None,
    ) -> Reading:
        """The markers on `lowered` (lower-cased text), with the `Anchors.places` of it that
        the caller found (`anchors` built with `families`), else found here if it is ASCII."""
        if not lowered.isascii():
            return Reading(self, lowered, None, None)
        if anchors is None or places is None:
            anchors = self.anchors
            places = anchors.places(lowered)
        return Reading(self, lowered, anchors, places)


@dataclass
class Reading:
    """`Marks` on one lower-cased text: `search` and `finditer` as `re` gives them."""

    marks: Marks
    text: str
    anchors: Anchors | None  # None: not ASCII, every marker read by `re` as written
    places: dict[str, list[int]] | None
    _where: dict[str, list[int] | None] = field(default_factory=dict)
    # `_absent`, by marker family, and by group in `may_begin` (a group is not a family name)
    _missing: dict[str, bool] = field(default_factory=dict)

    def search(self, mark: Mark, pos: int = 0, endpos: int | None = None) -> re.Match[str] | None:
        """`mark.pattern.search(self.text, pos, endpos)`."""
        end = len(self.text) if endpos is None else endpos
        if self.anchors is None or mark.twin is None:
            return mark.pattern.search(self.text, pos, end)
        if self._absent(mark):
            return None
        if endpos is not None:  # a clause: a few characters cost less than places one by one
            return mark.twin.search(self.text, pos, end)
        return next(self.finditer(mark, pos), None)

    def finditer(self, mark: Mark, pos: int = 0) -> Iterator[re.Match[str]]:
        """`mark.pattern.finditer(self.text, pos)`: tried only where a match may begin."""
        if self.anchors is None or mark.twin is None:
            yield from mark.pattern.finditer(self.text, pos)
            return
        if self._absent(mark):
            return
        places = self._of(mark.family)
        if places is None:
            yield from mark.twin.finditer(self.text, pos)
            return
        end = pos
        for place in places[bisect.bisect_left(places, pos) :]:
            if place >= end and (match := mark.twin.match(self.text, place)) is not None:
                yield match  # a match holds the literal it begins with: none is empty
                end = match.end()

    def may_begin(self, group: str, start: int = 0, end: int | None = None) -> bool:
        """False when no match of a marker of `group` can begin in [start, end), not even
        one searched for with `endpos` there (it holds its literal before `endpos`)."""
        if self.anchors is not None:  # ASCII: is any marker of the group anywhere at all?
            if group not in self._missing:
                marks = self.marks.groups[group]
                self._missing[group] = all(m.twin is not None and self._absent(m) for m in marks)
            if self._missing[group]:
                return False
        places = self._of(self.marks.family(group))
        if places is None:
            return True
        i = bisect.bisect_left(places, start)
        return i < len(places) and (end is None or places[i] < end)

    def _absent(self, mark: Mark) -> bool:
        """True when none of the literals that every match of `mark`'s twin holds is in the
        text (found once per marker): it matches nowhere, in no clause. Asked only of ASCII
        text, where the twin is read (a «ſ» matches «s» case-insensitively, not in `in`)."""
        if mark.needs is None:
            return False
        if mark.family not in self._missing:
            self._missing[mark.family] = not present(mark.needs, self.text)
        return self._missing[mark.family]

    def _of(self, family: str) -> list[int] | None:
        """Where a match of a family (a marker's, or a group's: all its markers') may begin,
        found once; None when not known (not ASCII, a marker without a twin or starts)."""
        if self.anchors is None or self.places is None:
            return None
        if family not in self._where:
            known = family in self.anchors.literals_of
            self._where[family] = self.anchors.where(self.places, family) if known else None
        return self._where[family]
