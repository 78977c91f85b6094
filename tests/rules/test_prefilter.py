"""The prefilter may skip a rule only where the rule cannot match: checked on every text of the
labelled corpus, and on the same texts in capitals and with the characters that Python's
case-insensitive matching equates with ASCII letters."""

from __future__ import annotations

import re
import sys

import pytest

import rules
from rules import engine
from rules.prefilter import CASE_FOLDS, build_prefilter, fold_case, pattern_literals


def fires(rule: engine.Rule, document: engine.Document) -> bool:
    if rule.near:
        return engine.compose_match(rule, document) is not None
    return engine.first_match(rule, document) is not None


def test_no_rule_that_fires_is_ever_ruled_out(ruleset, corpus_texts):
    texts = corpus_texts
    fired = skipped = 0
    for doc in texts:
        document = engine.Document.of(doc)
        candidates = document.for_rules(ruleset).candidates
        assert candidates is not None
        for rule in ruleset.rules:
            if fires(rule, document):
                fired += 1
                assert rule.name in candidates, (rule.name, doc.subject)
            elif rule.name not in candidates:
                skipped += 1
    assert fired > len(texts)  # the texts do make rules fire
    assert skipped > 10 * len(texts)  # and the prefilter does spare most of the work


def test_classification_is_the_same_with_and_without_the_prefilter(
    ruleset, corpus_texts, monkeypatch
):
    docs = corpus_texts
    formats = rules.DEFAULT_POLE_FORMATS
    with_prefilter = [rules.classify(doc, ruleset, formats) for doc in docs]
    monkeypatch.setattr(engine.Document, "for_rules", lambda self, ruleset: self)
    without = [rules.classify(doc, ruleset, formats) for doc in docs]
    assert with_prefilter == without


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"\bguast[oiae]\b", {"guasto", "guasti", "guasta", "guaste"}),
        (r"\b(furt[oi]|rubat\w*|ladr[oi])\b", {"furto", "furti", "rubat", "ladro", "ladri"}),
        (r"\b(non|no|nun)\s+(si\s+)?(accend|funzion)", {"accend", "funzion"}),
        (r"Lampion\w*\s+\d+", {"lampion"}),
        (r"(?:palo|sostegno)\s+n\W?\s*\d+", {"palo", "sostegno"}),
        (r"\d{6}", None),  # nothing literal: always tried
        (r"\b(ab|\w+x)\b", None),  # one alternative needs no literal
        (r"[a-z]", None),
    ],
)
def test_the_literals_a_pattern_needs(pattern, literals):
    assert pattern_literals(pattern, re.IGNORECASE) == literals


def test_a_literal_found_admits_the_rules_of_its_prefixes():
    """The scan reports the longest literal at each place: "spento" must admit the rule that
    needs only "spent", and overlapping literals must each be found."""
    prefilter = build_prefilter(
        [
            ("a", [[re.compile("spent")]]),
            ("b", [[re.compile("spento")]]),
            ("c", [[re.compile("ento")]]),
            ("d", [[re.compile("lampione")]]),
            ("e", [[re.compile(r"\d+")]]),
            ("object and state", [[re.compile("palo")], [re.compile("piegat")]]),
        ]
    )
    assert prefilter.candidates("il lampione e spento") == {"a", "b", "c", "d", "e"}
    assert prefilter.candidates("spenti") == {"a", "e"}
    assert prefilter.candidates("nulla") == {"e"}
    assert prefilter.candidates("il palo piegato") == {"e", "object and state"}
    assert prefilter.candidates("il palo e spento") == {"a", "b", "c", "e"}


@pytest.mark.skipif(sys.maxunicode < 0x10FFFF, reason="needs every code point")
def test_case_folds_lists_every_non_ascii_character_that_matches_an_ascii_one():
    """What re.IGNORECASE equates with an ASCII character must fold to it: else a capital
    that the rules match could hide a literal from the prefilter."""
    ascii_class = re.compile(r"[\x00-\x7f]", re.IGNORECASE)
    for code in range(0x80, sys.maxunicode + 1):
        char = chr(code)
        if ascii_class.fullmatch(char):
            folded = fold_case(char)
            assert folded.isascii() and re.fullmatch(re.escape(folded), char, re.IGNORECASE)
    assert all(chr(code).isascii() is False for code in CASE_FOLDS)
