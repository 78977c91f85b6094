"""Anchors may leave out of a rule's places only where none of its matches begins: checked for
every pattern of every shipped rule on every text of the labelled corpus (also in capitals and
with the case-folding oddities), and on the strings a pattern's starts are read as."""

from __future__ import annotations

import re

import pytest

import rules
from rules import engine
from rules.prefilter import ASCII_SPACES, at_word_boundary, build_anchors, pattern_starts


def test_every_match_begins_at_one_of_its_rules_places(ruleset, corpus_texts):
    anchors = ruleset.anchors
    checked = 0
    for doc in corpus_texts:
        lowered = engine.Document.of(doc).lowered
        if lowered is None:
            continue  # anchors are read on lower-cased ASCII text only
        places = anchors.places(lowered)
        for rule in ruleset.rules:
            twin = rule.lower_case
            assert twin is not None
            for family, patterns in (
                (rule.name, twin.patterns),
                (engine.near_key(rule), twin.near),
            ):
                if family not in anchors.literals_of:
                    continue
                where = set(anchors.where(places, family))
                for pattern in patterns:
                    for match in pattern.finditer(lowered):
                        assert match.start() in where, (family, pattern.pattern, doc.subject)
                        checked += 1
    assert checked > len(corpus_texts)  # the texts do match
    assert len(anchors.literals_of) > 0.9 * len(ruleset.rules)  # and nearly every rule is anchored


def test_every_match_of_a_pattern_begins_at_one_of_its_own_places(ruleset, corpus_texts):
    """Each pattern is tried at its own places (`Rule.keys`): the literal there is one of its."""
    anchors = ruleset.anchors
    checked = 0
    for doc in corpus_texts:
        document = engine.Document.of(doc).for_rules(ruleset)
        if document.lowered is None:
            continue
        for rule in ruleset.rules:
            twin = rule.lower_case
            assert twin is not None
            for family, patterns, keys in (
                (rule.name, twin.patterns, twin.keys),
                (engine.near_key(rule), twin.near, twin.near_keys),
            ):
                spots = document.spots(family)
                if spots is None:
                    continue
                for pattern, key in zip(patterns, keys, strict=True):
                    mine = {
                        place for place, literal in spots if literal in anchors.literals_of[key]
                    }
                    for match in pattern.finditer(document.lowered):
                        assert match.start() in mine, (key, pattern.pattern, doc.subject)
                        checked += 1
    assert checked > len(corpus_texts)


def test_matches_at_places_are_finditers_matches():
    pattern = re.compile(r"\bpal[oi]\b|\bpalo\s+piegato")
    text = "il palo piegato, i pali e il palo"
    spots = [(m.start(), "pal") for m in re.finditer(r"pal", text)]
    found = [m.span() for m in engine.matches_at(pattern, text, spots, frozenset({"pal"}))]
    assert found == [m.span() for m in pattern.finditer(text)]
    later = [m.span() for m in engine.matches_at(pattern, text, spots, frozenset({"pal"}), 10)]
    assert later == [m.span() for m in pattern.finditer(text, 10)]
    assert list(engine.matches_at(pattern, text, spots, frozenset({"x"}))) == []


@pytest.mark.parametrize(
    ("pattern", "starts"),
    [
        (r"\bguast[oiae]\b", {"guasto", "guasti", "guasta", "guaste"}),
        (r"x?abc", {"abc", "xabc"}),  # an optional word, taken or not
        (r"(ab)+c", {"ab"}),
        (r"\b(la|il|nel)\s*(via|strada)", {"la", "il", "nel"}),
        (r"\ba\s+distanza", {f"a{space}" for space in ASCII_SPACES}),  # then more spaces
        (r"a|bc", None),  # "a" is too short to tell places apart
        (r"\b(l\W?|lo)\s*avete", {"l", "lo"}),  # but one letter at a word's start is not
        (r"\?", {"?"}),  # nor a mark rarely written
        (r"\b\d\d\s+pali", set("0123456789")),  # `\d`: the digits of ASCII text
        (r"\w+x", None),
        (r"ab{0,3}c", None),
        (r"(?i)guasto", None),  # case-insensitive: read the lower-case twin instead
    ],
)
def test_the_starts_of_a_pattern(pattern, starts):
    assert pattern_starts(pattern) == starts


def test_ascii_spaces_are_what_backslash_s_matches_in_ascii():
    assert {chr(c) for c in range(128) if re.match(r"\s", chr(c))} == ASCII_SPACES


def test_starts_bound_to_a_word_are_not_looked_for_inside_one():
    assert at_word_boundary(r"\bal\s+buio") and at_word_boundary(r"\ba|\bb")
    assert at_word_boundary(r"(?<!via\s)(?<!dei\s)\bcadut[oaie]|\bcade")  # lookbehinds first
    assert not at_word_boundary(r"al\s+buio") and not at_word_boundary(r"\ba|b")
    anchors = build_anchors([("buio", (re.compile(r"\bal\s+buio"),)), ("fa", (re.compile("fa"),))])
    places = anchors.places("normale al buio, fa freddo")
    assert anchors.where(places, "buio") == [8]  # not the «al» of «normale»
    assert anchors.where(places, "fa") == [17]


def test_an_unanchored_rule_is_still_found(classify):
    # informazione.domanda_diretta is a lone «?»: no start, scanned as before
    verdict = classify("Quando passate?")
    assert any(hit.rule == "informazione.domanda_diretta" for hit in verdict.hits)


def test_classification_is_the_same_without_anchors(ruleset, corpus_texts, monkeypatch):
    formats = rules.DEFAULT_POLE_FORMATS
    anchored = [rules.classify(d, ruleset, formats) for d in corpus_texts]
    monkeypatch.setattr(engine.Document, "_places", None)  # every screen searched as before
    plain = [rules.classify(d, ruleset, formats) for d in corpus_texts]
    assert anchored == plain
