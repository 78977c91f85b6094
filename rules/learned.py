"""A learned reading of request type, urgency and crime: evidence the decision tables weigh.

Five rounds of rules each fixed what their tuning set showed and carried little to text nobody
had seen; a plain linear model trained on the labelled corpus reads fresh text better on type
and urgency (README, Classification). It is a stage of the rules, not a second classifier: its
vote is added to the rules' votes by `request_type.decide`, `urgency.decide` and `crime`'s
decision as their tables say (`learned_weight`, `learned_min_p`, `learned_sure`; 0 switches it
off). It never makes an emergency, and never undoes an emergency or a crime the rules found;
it adds a crime only where it is very sure (p 0.98, chosen out of fold: README).

Pure and cheap: a multinomial logistic regression per field over sparse binary features of the
folded, lower-cased text (words, 5-letter stems, adjacent stem pairs, the length of each run of
digits), its weights read from `tables/learned.json` (written by `scripts/train_learned.py`
from `tests/corpus/`, versioned with the rules) and scored with dict lookups; no scikit-learn
at run time. The features are this module's, for training and reading alike, so that what the
model learned is what it reads.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from rules.prefilter import fold_case
from rules.types import Hit

if TYPE_CHECKING:
    from rules.engine import Decision, Document, RuleSet

MODEL_FILE = Path(__file__).parent / "tables" / "learned.json"
STEM = 5  # letters of a word kept as its stem: «spento», «spenti», «spenta» are one
_TOKEN = re.compile(r"[^\W\d_]+|\d+")
# `_TOKEN` on ASCII text, where a letter is one of these: read by a table, not by category (3x)
_ASCII_TOKEN = re.compile(r"[A-Za-z]+|[0-9]+")
STEMS_KEPT = 50_000  # words whose stem is remembered; then forgotten, so a daemon's memory stays


class _Stems(dict[str, str]):
    """token -> its stem, each found once: a word's first letters, a digit run's length (a pole
    code, a ticket number, a year look alike so). Looked up in C, not computed in Python, at
    every word of every message."""

    def __missing__(self, token: str) -> str:
        if len(self) >= STEMS_KEPT:
            self.clear()
        stem = self[token] = f"#{len(token)}" if token[0].isdigit() else token[:STEM]
        return stem


_STEMS = _Stems()


def features(text: str) -> set[str]:
    """The features of a folded, lower-cased text: its words and numbers, their stems, and
    adjacent stem pairs («non funzi», «palo pieg»)."""
    tokens = (_ASCII_TOKEN if text.isascii() else _TOKEN).findall(text)
    stems = list(map(_STEMS.__getitem__, tokens))
    found = set(tokens)
    found.update(stems)  # a stem of a short word is the word: one feature
    found.update(map(" ".join, pairwise(stems)))
    return found


def text_of(document: Document) -> str:
    """The text the model reads: the document folded and lower-cased as the prefilter reads it
    (subject, body, forwarded message), so capitals and case oddities read alike."""
    return document.lowered if document.lowered is not None else fold_case(document.folded)


@dataclass(frozen=True, eq=False)
class Model:
    """The weights of one logistic regression per field, packed: one row per feature with a
    column per (field, value), so that a message costs one lookup per feature."""

    classes: Mapping[str, tuple[str, ...]]  # field -> its values, in column order
    intercepts: tuple[float, ...]
    rows: Mapping[str, tuple[float, ...]]
    digest: str = ""  # of the corpus files it was trained from (`scripts/train_learned.py`)

    @classmethod
    def of(cls, data: Mapping[str, object]) -> Model:
        """The model of a `learned.json` document."""
        fields = data["fields"]
        assert isinstance(fields, Mapping)
        classes = {name: tuple(spec["classes"]) for name, spec in fields.items()}
        intercepts = tuple(w for spec in fields.values() for w in spec["intercept"])
        width = len(intercepts)
        rows: dict[str, list[float]] = {}
        offset = 0
        for spec in fields.values():
            for feature, weights in spec["weights"].items():
                row = rows.setdefault(feature, [0.0] * width)
                row[offset : offset + len(weights)] = weights
            offset += len(spec["classes"])
        packed = {feature: tuple(row) for feature, row in rows.items()}
        return cls(classes, intercepts, packed, str(data.get("corpus", {}).get("sha256", "")))

    def probabilities(self, text: str) -> dict[str, dict[str, float]]:
        """field -> value -> probability, for a folded, lower-cased text."""
        known = filter(None, map(self.rows.get, features(text)))  # rows are non-empty tuples
        scores = [sum(column) for column in zip(self.intercepts, *known, strict=True)]
        found = {}
        offset = 0
        for name, values in self.classes.items():
            found[name] = _softmax(values, scores[offset : offset + len(values)])
            offset += len(values)
        return found

    def read(self, document: Document, field: str) -> dict[str, float]:
        """value -> probability for `field` of `document`, scored once per document."""
        cached = document.shared.get("learned")
        if cached is None:
            cached = document.shared["learned"] = self.probabilities(text_of(document))
        return cached.get(field, {})


def _softmax(values: Sequence[str], scores: Sequence[float]) -> dict[str, float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return {value: e / total for value, e in zip(values, exps, strict=True)}


def best(
    probabilities: Mapping[str, float], among: Iterable[str] | None = None
) -> tuple[str, float]:
    """The most probable value (of `among`, when given) and its probability."""
    pool = probabilities if among is None else {v: probabilities[v] for v in among}
    value = max(pool, key=pool.__getitem__)
    return value, pool[value]


def reading(
    document: Document, ruleset: RuleSet, decision: Decision, field: str
) -> dict[str, float] | None:
    """value -> probability for `field`, or None where the stage is off (no model shipped, or
    `learned_weight` 0 in the field's decision table)."""
    if not decision.learned_weight or ruleset.learned is None:
        return None
    return ruleset.learned.read(document, field)


def hit(field: str, value: str, p: float, vote: float | None) -> Hit:
    """The stage's hit as `rules explain` shows it: its probability and the vote it added, or
    (`vote` None) that the rules outweighed it."""
    said = f"+{vote:g}" if vote is not None else "outweighed by the rules"
    return Hit(f"{field}.learned", field, value, f"p {p:.2f}, {said}")


@cache
def load(path: Path = MODEL_FILE) -> Model | None:
    """The shipped model, read once; None when the file is missing (the stage is then off)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return Model.of(json.load(handle))
    except FileNotFoundError:
        return None
