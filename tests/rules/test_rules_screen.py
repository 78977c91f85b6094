"""The one-scan screen that rules a rule out must never change what the rules decide."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import rules
from rules.engine import _screen

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def test_screen_matches_wherever_any_pattern_does():
    patterns = (re.compile(r"palo\s+caduto", re.I), re.compile(r"cavi?\s+scopert", re.I))
    screen = _screen(patterns)
    assert screen is not None
    for text in ("il PALO  caduto", "un cavo scoperto", "tutto a posto", "palo in piedi"):
        assert bool(screen.search(text)) == any(p.search(text) for p in patterns), text


def test_patterns_that_cannot_be_joined_safely_get_no_screen():
    backref = (re.compile(r"(\w+) \1", re.I), re.compile("x", re.I))
    clash = (re.compile(r"(?P<a>x)", re.I), re.compile(r"(?P<a>y)", re.I))
    assert _screen(backref) is None
    assert _screen(clash) is None
    assert _screen((re.compile("solo", re.I),)) is None  # one pattern: nothing to gain


def test_classification_is_the_same_with_and_without_the_screen(monkeypatch):
    ruleset = rules.load_ruleset()
    docs = [
        rules.RuleInput(m["subject"], m["body"])
        for name in ("requests", "blind4")
        for m in tomllib.loads((CORPUS / f"{name}.toml").read_text("utf-8"))["message"]
    ]
    screened = [rules.classify(d, ruleset, rules.DEFAULT_POLE_FORMATS) for d in docs]
    monkeypatch.setattr("rules.engine._screen", lambda patterns: None)
    plain = [rules.classify(d, ruleset, rules.DEFAULT_POLE_FORMATS) for d in docs]
    assert screened == plain
