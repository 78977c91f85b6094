"""The scopes' markers read at their places (`rules.marks`) give what `re` gives: every search
along a text and within each of its clauses, every `finditer`, on every corpus text (also in
capitals and with the case-folding oddities), with the places of the rules' one scan and alone."""

from __future__ import annotations

import re

from rules import engine, scopes
from rules.marks import Marks


def _clauses(text: str) -> list[tuple[int, int]]:
    return scopes._clauses(text)


def test_markers_read_at_their_places_match_as_re_does(ruleset, corpus_texts):
    marks = scopes.markers().marks
    checked = 0
    for doc in corpus_texts:
        document = engine.Document.of(doc).for_rules(ruleset)
        lowered = document.folded.lower()
        for read in (
            marks.read(lowered, document.anchors, document._places),
            marks.read(lowered),
        ):
            for group, group_marks in marks.groups.items():
                for mark in group_marks:
                    expected = [m.span() for m in mark.pattern.finditer(lowered)]
                    assert [m.span() for m in read.finditer(mark)] == expected
                    first = mark.pattern.search(lowered)
                    got = read.search(mark)
                    assert (got and got.span()) == (first and first.span())
                    for start, end in _clauses(lowered):
                        want = mark.pattern.search(lowered, start, end)
                        found = read.search(mark, start, end)
                        assert (found and found.span()) == (want and want.span())
                        if want is not None:
                            assert read.may_begin(group, start, end)
                            checked += 1
    assert checked > len(corpus_texts) // 10


def test_a_marker_without_starts_or_twin_is_read_as_written():
    marks = Marks.of("t", {"g": (re.compile(r"\w+x", re.I), re.compile(r"(?-i:Roma)", re.I))})
    read = marks.read("una roma, la boxx")
    starts, inline = marks.groups["g"]
    assert inline.twin is None
    assert [m.group() for m in read.finditer(starts)] == ["boxx"]
    assert read.search(inline) is None
    assert read.may_begin("g", 0, 3)  # not known: anywhere, maybe
