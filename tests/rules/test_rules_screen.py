"""The one-scan screen that rules a rule out must never change what the rules decide."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import rules
from rules import engine
from rules.screen import case_insensitive_screen, lower_letters, lower_screen, lower_twin

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def test_screen_matches_wherever_any_pattern_does():
    patterns = (re.compile(r"palo\s+caduto", re.I), re.compile(r"cavi?\s+scopert", re.I))
    screen = case_insensitive_screen(patterns)
    assert screen is not None
    for text in ("il PALO  caduto", "un cavo scoperto", "tutto a posto", "palo in piedi"):
        assert bool(screen.search(text)) == any(p.search(text) for p in patterns), text


def test_patterns_that_cannot_be_joined_safely_get_no_screen():
    backref = (re.compile(r"(\w+) \1", re.I), re.compile("x", re.I))
    clash = (re.compile(r"(?P<a>x)", re.I), re.compile(r"(?P<a>y)", re.I))
    assert case_insensitive_screen(backref) is None
    assert case_insensitive_screen(clash) is None
    assert (
        case_insensitive_screen((re.compile("solo", re.I),)) is None
    )  # one pattern: nothing to gain


def test_classification_is_the_same_with_and_without_the_screens(monkeypatch):
    ruleset = rules.load_ruleset()
    docs = [
        rules.RuleInput(m["subject"], m["body"])
        for name in ("requests", "blind4")
        for m in tomllib.loads((CORPUS / f"{name}.toml").read_text("utf-8"))["message"]
    ]
    screened = [rules.classify(d, ruleset, rules.DEFAULT_POLE_FORMATS) for d in docs]
    monkeypatch.setattr("rules.engine.earliest_match", lambda *args: 0)  # anywhere, maybe
    plain = [rules.classify(d, ruleset, rules.DEFAULT_POLE_FORMATS) for d in docs]
    assert screened == plain


def test_lower_case_twins_decide_as_the_rules_do(ruleset, corpus_texts, monkeypatch):
    """On ASCII text the engine runs each rule's lower-case, case-sensitive twin."""
    assert all(rule.lower_case is not None for rule in ruleset.rules)  # they are in use
    formats = rules.DEFAULT_POLE_FORMATS
    twinned = [rules.classify(d, ruleset, formats) for d in corpus_texts]
    monkeypatch.setattr(engine.Document, "lower_case", None)  # documents are made anew
    plain = [rules.classify(d, ruleset, formats) for d in corpus_texts]
    assert twinned == plain


def test_a_pattern_whose_case_cannot_be_lowered_safely_has_no_twin():
    assert lower_twin(re.compile(r"\x41BC", re.I)) is None  # \x41 is "A"
    assert lower_twin(re.compile(r"(?-i:Roma)", re.I)) is None  # would match "roma" too
    twin = lower_twin(re.compile(r"Palo\s+N\W?\d+", re.I))
    assert twin is not None and twin.pattern == r"palo\s+n\W?\d+"
    assert not twin.flags & re.IGNORECASE


def test_lower_casing_keeps_escapes():
    assert lower_letters(r"Palo\S+\W[A-Z]\bIP\d") == r"palo\S+\W[a-z]\bip\d"


def test_lower_screen_agrees_with_the_case_insensitive_patterns():
    patterns = (re.compile(r"Cavi?\s+SCOPERT", re.I), re.compile(r"palo\S*\W+caduto", re.I))
    screen = lower_screen(patterns)
    assert screen is not None and not screen.flags & re.IGNORECASE
    for text in ("CAVO  scoperto", "Il PALO,  Caduto", "cavo coperto", "palo in piedi"):
        assert bool(screen.search(text.lower())) == any(p.search(text) for p in patterns), text


def test_a_character_code_escape_gets_no_lower_screen():
    # \x41 is "A": lower-cased text never holds it, so lower-casing would hide a match.
    patterns = (re.compile(r"\x41B", re.I), re.compile("c", re.I))
    assert lower_screen(patterns) is None
