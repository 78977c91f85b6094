"""Write the snapshot that `test_classify_equivalence.py` compares `rules.classify` against.

    .venv/bin/python tests/rules/classify_snapshot.py

Run it only when the rules are meant to decide differently (a rule table changed on purpose):
the snapshot pins what the code gave when it was taken, so that a speed change to the engine
can be shown to change nothing. It classifies every labelled corpus message with the shipped
rules and pole formats, also in capitals and with the characters Python's case-insensitive
matching equates with ASCII letters (the engine's lower-case and non-ASCII paths), and writes
one JSON line per message: every field of the verdict, every hit with its evidence.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import rules  # noqa: E402
from rules.report import load_corpus  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"
SNAPSHOT = Path(__file__).with_name("classify_snapshot.jsonl")


def variants(doc: rules.RuleInput) -> Iterator[tuple[str, rules.RuleInput]]:
    """The message as written, shouted, and with the case-folding oddities."""
    yield "as_written", doc
    yield (
        "upper",
        dataclasses.replace(
            doc,
            subject=doc.subject.upper(),
            text=doc.text.upper(),
            forwarded=doc.forwarded.upper(),
            quoted=doc.quoted.upper(),
        ),
    )
    odd = str.maketrans({"s": "\u017f", "k": "\u212a"})
    yield (
        "odd_case",
        dataclasses.replace(
            doc,
            text=doc.text.translate(odd),
            forwarded=doc.forwarded.translate(odd),
        ),
    )


def cases() -> Iterator[tuple[str, rules.RuleInput]]:
    """(key, input) for every corpus message and variant, in a stable order."""
    for path in sorted(CORPUS.glob("*.toml")):
        for message in load_corpus(path):
            for name, doc in variants(message.doc):
                yield f"{path.stem}/{message.id}/{name}", doc


def as_json(verdict: rules.Verdict) -> dict:
    """Every field of the verdict as plain JSON values (tuples as lists)."""
    plain = dataclasses.asdict(verdict)
    plain["details"] = {key: list(values) for key, values in verdict.details.items()}
    return json.loads(json.dumps(plain))


def snapshot() -> Iterator[dict]:
    ruleset = rules.load_ruleset()
    for key, doc in cases():
        verdict = rules.classify(doc, ruleset, rules.DEFAULT_POLE_FORMATS)
        yield {"key": key, "verdict": as_json(verdict)}


def main() -> int:
    with SNAPSHOT.open("w", encoding="utf-8") as out:
        for line in snapshot():
            out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
