"""The shipped rule set, loaded once: the tests read it, none changes it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import rules


@pytest.fixture(scope="session")
def ruleset() -> rules.RuleSet:
    return rules.load_ruleset()


@pytest.fixture(scope="session")
def classify(ruleset: rules.RuleSet) -> Callable[..., rules.Verdict]:
    """Classify a body (and optional subject) with the shipped rules and pole formats."""

    def run(text: str, subject: str = "") -> rules.Verdict:
        return rules.classify(rules.RuleInput(subject, text), ruleset, rules.DEFAULT_POLE_FORMATS)

    return run
