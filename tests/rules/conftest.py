"""The shipped rule set, loaded once: the tests read it, none changes it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

import rules
from rules.report import load_corpus

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture(scope="session")
def ruleset() -> rules.RuleSet:
    return rules.load_ruleset()


@pytest.fixture(scope="session")
def classify(ruleset: rules.RuleSet) -> Callable[..., rules.Verdict]:
    """Classify a body (and optional subject) with the shipped rules and pole formats."""

    def run(text: str, subject: str = "") -> rules.Verdict:
        return rules.classify(rules.RuleInput(subject, text), ruleset, rules.DEFAULT_POLE_FORMATS)

    return run


@pytest.fixture(scope="session")
def rules_only(ruleset: rules.RuleSet) -> Callable[..., rules.Verdict]:
    """`classify` without the learned stage (`rules.learned`): for the tests that pin what a
    rule reads, where the model's vote would hide whether the rule did its part."""
    alone = dataclasses.replace(ruleset, learned=None)

    def run(text: str, subject: str = "") -> rules.Verdict:
        return rules.classify(rules.RuleInput(subject, text), alone, rules.DEFAULT_POLE_FORMATS)

    return run


@pytest.fixture(scope="session")
def corpus_texts() -> list[rules.RuleInput]:
    """Every text of the labelled corpus, also in capitals and with the characters that
    Python's case-insensitive matching equates with ASCII letters (the long s with "s", the
    Kelvin sign with "k"): for checking that a shortcut of the engine changes no decision."""
    docs = [m.doc for path in sorted(CORPUS.glob("*.toml")) for m in load_corpus(path)]
    shouted = [rules.RuleInput(d.subject.upper(), d.text.upper()) for d in docs]
    odd = [
        rules.RuleInput(d.subject, d.text.replace("s", "\u017f").replace("k", "\u212a"))
        for d in docs
    ]
    return docs + shouted + odd
