"""`rules.classify` gives, for every corpus message, exactly what it gave when the snapshot was
taken: every field of the verdict, every hit with its rule, value and evidence (the span's text
and its message part), in order. It pins the engine's speed work to the same output.

The snapshot (`classify_snapshot.jsonl`) was written by the code before that work. When the
rules are changed on purpose to decide differently, write it again with one command:

    .venv/bin/python tests/rules/classify_snapshot.py

and review its diff: each changed line is a message the change decides differently.
"""

from __future__ import annotations

import json

import rules
from tests.rules.classify_snapshot import SNAPSHOT, as_json, cases


def test_every_corpus_verdict_is_the_snapshot(ruleset: rules.RuleSet) -> None:
    expected = {}
    with SNAPSHOT.open(encoding="utf-8") as handle:
        for line in handle:
            entry = json.loads(line)
            expected[entry["key"]] = entry["verdict"]
    seen = set()
    different = []
    for key, doc in cases():
        seen.add(key)
        got = as_json(rules.classify(doc, ruleset, rules.DEFAULT_POLE_FORMATS))
        if got != expected.get(key):
            different.append(key)
    assert not different, f"{len(different)} verdicts differ, first: {different[:5]}"
    assert seen == set(expected)  # no message dropped from the corpus nor from the snapshot
    assert len(seen) > 2000
