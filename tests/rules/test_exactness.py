"""The engine's shortcuts leave out only what cannot match, checked on every text of the
labelled corpus (also in capitals and with the case-folding oddities):

- a family's openers (`Anchors.openers`: at a place, only the patterns that may begin with the
  literal reported there) say a family matches at a place exactly where one of its patterns
  does, so that `Document.earliest` finds the place a scan of the whole text finds;
- a marker whose needed literals (`pattern_needs`) are not all in a text never matches it,
  so that skipping it there (`rules.marks`) changes nothing; the rules' `unless` patterns
  are read too, as more cases of the same reading;
- `engine.fold` and `prefilter.fold_case` translate only what they may change (a run of
  characters beyond plain ASCII, a text holding a letter of `CASE_FOLDS`): the same text;
- a text without a ticket number's slash holds no ticket number, so that
  `linking.ticket_ref_hits` returns nothing for it unsearched;
- a text without a run of a pole code's digits holds no bare pole number
  (`pole_numbers.find_bare`), so that no pole noun need be looked for;
- `learned._ASCII_TOKEN` finds on ASCII text the tokens `learned._TOKEN` finds;
- a text without «?» has no question scope, so that `request_type` need not find its scopes
  to look for one; and a text where no scope can begin (`scopes.possible`) has none;
- the spelling table's OCR slips, written to open with their digit, match where their plain
  forms (lookbehind first) do;
- a details pattern none of whose literals (`details.literals`) is in a text matches nowhere
  in it, so that `details.extract` need not search it;
- the scopes' sentences end where the document's do (`Document.sentence_ends`), so that
  `scopes.find` need not scan for them again.
"""

from __future__ import annotations

import itertools
import re
from re import _constants as sre
from re import _parser as sre_parse

import pytest

from rules import (
    DEFAULT_POLE_FORMATS,
    details,
    engine,
    learned,
    linking,
    pole_numbers,
    scopes,
    spelling,
)
from rules.prefilter import CASE_FOLDS, fold_case, pattern_needs, present
from rules.scopes import QUESTION, markers


def _families(ruleset) -> dict[str, tuple[re.Pattern[str], ...]]:
    """Every family of `RuleSet.anchors` with its patterns (lower-case twins)."""
    families = dict(markers().marks.families())
    for rule in ruleset.rules:
        twin = rule.lower_case
        assert twin is not None
        families[rule.name] = twin.patterns
        if twin.near:
            families[engine.near_key(rule)] = twin.near
    return families


def _lowered(corpus_texts) -> list[str]:
    texts = [engine.Document.of(doc).lowered for doc in corpus_texts]
    return [text for text in texts if text is not None]  # anchors: lower-cased ASCII only


def test_an_opener_matches_at_a_place_exactly_where_its_family_does(ruleset, corpus_texts):
    anchors = ruleset.anchors
    families = _families(ruleset)
    assert len(anchors.openers) > 30  # most families of several patterns have openers
    tried = matched = 0
    for text in _lowered(corpus_texts):
        places = anchors.places(text)
        for family, openers in anchors.openers.items():
            patterns = families[family]
            for literal in anchors.literals_of[family].intersection(places):
                for place in places[literal]:
                    expected = any(p.match(text, place) for p in patterns)
                    assert bool(openers[literal].match(text, place)) == expected, (family, text)
                    tried += 1
                    matched += expected
    assert matched > 1000 and tried > 10 * matched  # both answers are checked, many times


def test_earliest_is_where_a_scan_of_the_whole_text_finds_the_first_match(ruleset, corpus_texts):
    found = 0
    for doc in corpus_texts:
        document = engine.Document.of(doc).for_rules(ruleset).lower_case
        if document is None:
            continue
        for rule in ruleset.rules:
            twin = rule.lower_case
            for family, screens, patterns in (
                (rule.name, twin.screens, twin.patterns),
                (engine.near_key(rule), twin.near_screens, twin.near),
            ):
                if not patterns:
                    continue
                starts = [m.start() for p in patterns if (m := p.search(document.folded))]
                expected = min(starts) if starts else None
                assert document.earliest(family, screens) == expected, (family, doc.subject)
                found += expected is not None
    assert found > len(corpus_texts)


def test_a_pattern_matches_only_a_text_that_holds_what_it_needs(ruleset, corpus_texts):
    patterns = [mark.twin for marks in markers().marks.groups.values() for mark in marks]
    patterns += [p for rule in ruleset.rules for p in rule.lower_case.unless]
    needs = [(p, pattern_needs(p.pattern, p.flags)) for p in patterns if p is not None]
    assert sum(n is not None for _, n in needs) > 0.9 * len(needs)  # nearly all are read
    skipped = matched = 0
    for text in _lowered(corpus_texts):
        for pattern, need in needs:
            if need is None:
                continue
            if pattern.search(text):
                assert present(need, text), (pattern.pattern, text)
                matched += 1
            elif not present(need, text):
                skipped += 1
    assert matched > 100 and skipped > 10 * matched  # the check does spare searches


@pytest.mark.parametrize(
    ("pattern", "needs"),
    [
        (
            r"\bsi\s+chiede\s+di\s+(sapere|conoscere)",
            [[{"si"}, {"chiede"}, {"di"}, {"sapere", "conoscere"}]],
        ),
        (r"\ba\s+che\s+ora\b|\bquanto\s+costa", [[{"che"}, {"ora"}], [{"quanto"}, {"costa"}]]),
        (r"\b(nel|del)\s*(19|20)\d\d\b", [[{"nel", "del"}, {"19", "20"}]]),
        (r"\b(\w+\s+)?anni\s+fa\b", [[{"anni"}, {"fa"}]]),
        (r"\d{4}", None),  # nothing literal: always searched
        (r"\bab\b|\w+x", None),  # one alternative needs no literal
    ],
)
def test_what_a_pattern_needs(pattern, needs):
    expected = None if needs is None else tuple(tuple(map(frozenset, a)) for a in needs)
    found = pattern_needs(pattern)
    if found is not None:
        found = tuple(tuple(sorted(a, key=sorted)) for a in found)
        expected = tuple(tuple(sorted(a, key=sorted)) for a in expected)
    assert found == expected


def test_present_needs_a_literal_of_every_clause_of_one_alternative():
    needs = pattern_needs(r"\b(nel|del)\s*(19|20)\d\d\b|\banno\s+scorso\b")
    assert present(needs, "nel 2024")
    assert present(needs, "l'anno scorso")
    assert not present(needs, "nel parco")  # «19» or «20» missing
    assert not present(needs, "2024, anno")  # «nel»/«del» missing, «scorso» missing


def test_folding_only_the_runs_that_may_change_folds_alike(corpus_texts):
    """`engine.fold` translates only the runs of `_FOLDABLE`, `fold_case` only a text holding
    one of `CASE_FOLDS`'s letters: the same as translating it all."""
    plain = [chr(code) for code in range(128) if not engine._FOLDABLE.match(chr(code))]
    assert len(plain) == 127 and "`" not in plain
    assert all(char.translate(engine._FOLD) == char for char in plain)
    for doc in corpus_texts:
        text = engine.Document.of(doc).original
        assert engine.fold(text) == text.translate(engine._FOLD)
        assert fold_case(text) == text.translate(CASE_FOLDS).lower()
    assert engine.fold("perché l`ho visto – ſì") == "perche l'ho visto - ſi"
    assert fold_case("İſ K") == "is k"


def _needs_char(pattern: re.Pattern[str], char: str) -> bool:
    """True when `char` is an item of `pattern`'s top-level sequence: every match holds it."""
    return (sre.LITERAL, ord(char)) in list(sre_parse.parse(pattern.pattern, pattern.flags))


def test_a_ticket_number_holds_a_slash(corpus_texts):
    """`linking.ticket_ref_hits` returns nothing for a text without «/» unsearched."""
    forms = (linking._YEAR_FIRST, linking._NUMBER_FIRST)
    assert all(_needs_char(form, "/") for form in forms)
    found = 0
    for doc in corpus_texts:
        document = engine.Document.of(doc)
        folded = document.accents_folded
        assert folded == engine.fold(document.original)
        if "/" not in folded:
            assert not any(form.search(folded) for form in forms)
        found += bool(linking.ticket_ref_hits(document.original, folded))
    assert found > 10


def test_a_bare_pole_number_holds_a_run_of_the_codes_digits(corpus_texts):
    """`pole_numbers.find_bare` reads no noun in a text without a run of the code's width."""
    fmt = DEFAULT_POLE_FORMATS[0]
    compiled = pole_numbers.bare_number(fmt)
    assert compiled is not None
    number, name, run = compiled
    assert run.pattern in number.pattern  # every match of the number is such a run
    skipped = 0
    for doc in corpus_texts:
        text = engine.Document.of(doc).original
        if run.search(text) is None:
            assert pole_numbers.after_nouns(text, fmt, number, name) == []
            assert not number.search(text)
            skipped += 1
        else:
            assert pole_numbers.find_bare(text, fmt) == pole_numbers.after_nouns(
                text, fmt, number, name
            )
    assert skipped > len(corpus_texts) // 2


def test_ascii_text_is_tokenised_alike_by_the_learned_stage(corpus_texts):
    """`learned._ASCII_TOKEN` finds on ASCII text what `learned._TOKEN` finds."""
    ascii_chars = "".join(map(chr, range(128)))
    for char in ascii_chars:
        assert learned._ASCII_TOKEN.findall(char) == learned._TOKEN.findall(char), char
    assert learned._ASCII_TOKEN.findall(ascii_chars) == learned._TOKEN.findall(ascii_chars)
    read = 0
    for doc in corpus_texts:
        text = learned.text_of(engine.Document.of(doc))
        if text.isascii():
            assert learned._ASCII_TOKEN.findall(text) == learned._TOKEN.findall(text)
            read += 1
    assert read > len(corpus_texts) // 2


def test_a_text_without_a_question_mark_has_no_question_scope(ruleset, corpus_texts):
    """`request_type._question` answers None unread for a text without «?»."""
    asked = 0
    for doc in corpus_texts:
        document = engine.Document.of(doc).for_rules(ruleset)
        names = {name for _, _, name in document.scopes.spans}
        if "?" not in document.folded:
            assert QUESTION not in names, doc.subject
        asked += QUESTION in names
    assert asked > 100


def test_a_text_where_no_scope_can_begin_has_none(ruleset, corpus_texts):
    """`scopes.find` returns no scope unread where `scopes.possible` says none can begin."""
    skipped = 0
    for doc in corpus_texts:
        document = engine.Document.of(doc).for_rules(ruleset)
        places = document.anchors.places(document.lowered) if document.lowered else None
        found = scopes.find(document.folded, document.anchors, places)
        read = markers().marks.read(document.folded.lower(), document.anchors, places)
        assert found.spans == tuple(sorted(scopes.spans(read))), doc.subject
        skipped += found is scopes.NO_SCOPES
    assert skipped > len(corpus_texts) // 5


# the OCR slips as they were first written, lookbehind first (`rules.spelling`)
_PLAIN_OCR = (
    (spelling._OCR_ZERO, r"(?<=[a-z])0(?=[a-z])|(?<=[a-z]{2})0\b"),
    (spelling._OCR_ONE, r"(?<=[a-z])1(?=[a-z])|\b1(?=ampion|uce\b|uci\b)"),
)


def test_the_ocr_slips_opening_with_their_digit_match_where_their_plain_forms_do(corpus_texts):
    texts = [engine.fold(engine.Document.of(doc).original) for doc in corpus_texts]
    # every context of a digit the lookarounds read, in short strings, and the words they name
    short = [
        "".join(chars) for n in range(1, 6) for chars in itertools.product("aZ01_ -", repeat=n)
    ]
    words = [f"{a}1{w}{b}" for a in ("", " ", "a") for w in ("ampion", "uce", "uci", "ucente")
             for b in ("", " ", "x")]  # fmt: skip
    found = 0
    for fast, plain in _PLAIN_OCR:
        reference = re.compile(plain, fast.flags)
        for text in [*texts, *short, *words]:
            spans = [m.span() for m in fast.finditer(text)]
            assert spans == [m.span() for m in reference.finditer(text)], (plain, text)
            found += bool(spans)
    assert found > 1000


def test_a_details_pattern_without_its_literals_in_a_text_matches_nowhere_in_it(corpus_texts):
    skipped = 0
    tables = details._tables()
    for doc in corpus_texts:
        text = f"{doc.subject}\n{doc.text}"
        folded = fold_case(text)
        for kind, (_, rows) in tables.items():
            for (value, patterns), needs in zip(rows, details.literals()[kind], strict=True):
                for pattern, needed in zip(patterns, needs, strict=True):
                    if needed is not None and not any(lit in folded for lit in needed):
                        assert not pattern.search(text), (value, pattern.pattern, text)
                        skipped += 1
    assert skipped > len(corpus_texts)


def test_the_scopes_sentences_end_where_the_documents_do(corpus_texts):
    assert scopes._SENTENCE.pattern == engine._SENTENCE_END.pattern
    assert scopes._SENTENCE.flags == engine._SENTENCE_END.flags
    for doc in corpus_texts:
        document = engine.Document.of(doc)
        lowered = document.folded.lower()
        assert len(lowered) == len(document.folded)
        ends = tuple(m.end() for m in scopes._SENTENCE.finditer(lowered))
        assert ends == document.sentence_ends, doc.subject
        assert scopes.find(document.folded, sentence_ends=ends) == scopes.find(document.folded)
