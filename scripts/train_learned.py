"""Train the learned stage (`rules/learned.py`) from the labelled corpus; write its weights.

    .venv/bin/python scripts/train_learned.py              # write rules/tables/learned.json
    .venv/bin/python scripts/train_learned.py --check      # is the committed file up to date?
    .venv/bin/python scripts/train_learned.py --validate blind10
    .venv/bin/python scripts/train_learned.py --cross      # leave one corpus out, see below

scikit-learn is needed here only (a dev dependency, `scripts/setup.sh test`); the daemon reads
the JSON with dict lookups. Training is deterministic (files and messages in order, lbfgs,
rounded weights, sorted keys), so the same corpus writes the same bytes and the file's diff is
the corpus's. The blind batches never tuned on (`EXCLUDED`) are never trained on, so that each
can be measured once, honestly. `--validate BATCH` trains without BATCH too and prints, on it,
the rules alone, the model alone and the two combined as the decision tables say: the one
place where the settings below are chosen. `--cross` trains once without each training corpus
in turn and prints, over all of them, what a doubt on the rules' emergencies and crimes, and a
lift of the crimes they miss, would gain and lose at each threshold: one blind batch holds a
dozen emergencies, too few to show that a threshold never costs a true one.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rules  # noqa: E402
from rules import learned  # noqa: E402
from rules.engine import Document  # noqa: E402
from rules.poles import DEFAULT_POLE_FORMATS  # noqa: E402
from rules.report import Labelled, evaluate, load_corpus  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"
# never tuned on, so never trained on
EXCLUDED = frozenset({"holdout", "blind11", "blind12", "blind13"})
FIELDS = ("request_type", "urgency", "criminal_event")
C = 4.0  # inverse regularisation: chosen on blind10 (--validate)
MIN_DF = 2  # a feature seen in one message only is that message's, not the language's
PRUNE = 0.1  # smaller weights are dropped: a third of the file, one blind10 message (--validate)
DECIMALS = 2


def training_files(also_excluded: Iterable[str] = ()) -> list[Path]:
    """The corpus files the model learns from, in order."""
    left_out = EXCLUDED | set(also_excluded)
    return [p for p in sorted(CORPUS.glob("*.toml")) if p.stem not in left_out]


def digest(paths: Sequence[Path]) -> str:
    """sha256 of the files' names and bytes: the model says which corpus it was trained on,
    and a test fails when the corpus changed and the model was not trained again."""
    hashed = hashlib.sha256()
    for path in paths:
        hashed.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return hashed.hexdigest()


def samples(paths: Sequence[Path]) -> list[tuple[set[str], Labelled]]:
    """(features, labelled message) for every message, read as the rules read it."""
    return [
        (learned.features(learned.text_of(Document.of(m.doc))), m)
        for path in paths
        for m in load_corpus(path)
    ]


def label(message: Labelled, field: str) -> str:
    """The value the model learns for `field`: the crime flag as the rules write it, "true"."""
    value = getattr(message, field)
    return str(value).lower() if isinstance(value, bool) else str(value)


def fit(data: Sequence[tuple[set[str], Labelled]], field: str) -> dict[str, object]:
    """One multinomial logistic regression over binary features, as `learned.json` stores it."""
    import numpy as np
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    counts: dict[str, int] = {}
    for found, _ in data:
        for feature in found:
            counts[feature] = counts.get(feature, 0) + 1
    vocabulary = sorted(f for f, n in counts.items() if n >= MIN_DF)
    column = {f: i for i, f in enumerate(vocabulary)}
    rows, cols = [], []
    for i, (found, _) in enumerate(data):
        kept = sorted(column[f] for f in found if f in column)
        rows += [i] * len(kept)
        cols += kept
    matrix = csr_matrix(([1.0] * len(rows), (rows, cols)), shape=(len(data), len(vocabulary)))
    labels = [label(m, field) for _, m in data]
    model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced", random_state=0)
    model.fit(matrix, labels)
    classes = [str(c) for c in model.classes_]
    coef, intercepts = model.coef_, model.intercept_
    if len(classes) == 2:  # sklearn keeps one row for two classes: the first's is then 0
        coef, intercepts = np.vstack([np.zeros_like(coef), coef]), np.r_[0.0, intercepts]
    weights = {}
    for j, feature in enumerate(vocabulary):
        row = [round(float(w), DECIMALS) for w in coef[:, j]]
        if max(abs(w) for w in row) >= PRUNE:
            weights[feature] = [w if abs(w) >= PRUNE else 0 for w in row]
    intercept = [round(float(b), DECIMALS) for b in intercepts]
    return {"classes": classes, "intercept": intercept, "weights": weights}


def train(also_excluded: Iterable[str] = ()) -> dict[str, object]:
    """The whole `learned.json` document."""
    paths = training_files(also_excluded)
    data = samples(paths)
    return {
        "corpus": {
            "files": [p.name for p in paths],
            "messages": len(data),
            "sha256": digest(paths),
        },
        "settings": {"C": C, "min_df": MIN_DF, "prune": PRUNE, "stem": learned.STEM},
        "fields": {field: fit(data, field) for field in FIELDS},
    }


def dumps(document: dict[str, object]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n"


def check() -> int:
    """0 when the committed model is the one the corpus trains now."""
    committed = learned.MODEL_FILE.read_text(encoding="utf-8")
    stored = json.loads(committed)["corpus"]["sha256"]
    if stored != digest(training_files()):
        print("learned.json: the corpus changed since it was trained (run the script)")
        return 1
    if committed != dumps(train()):
        print("learned.json: the corpus is the same but training now gives other weights")
        return 1
    print("learned.json is up to date")
    return 0


def validate(batch: str) -> int:
    """Rules, model and combined on `batch`, with a model trained without it."""
    model = learned.Model.of(train([batch]))
    messages = load_corpus(CORPUS / f"{batch}.toml")
    shipped = rules.load_ruleset()
    off = {
        name: dataclasses.replace(d, learned_weight=0.0) for name, d in shipped.decisions.items()
    }
    alone = [
        {f: learned.best(model.read(Document.of(m.doc), f))[0] for f in FIELDS} for m in messages
    ]
    print(f"{batch}: {len(messages)} messages, model trained without it")
    combined = evaluate(messages, dataclasses.replace(shipped, learned=model))
    by_rules = evaluate(messages, dataclasses.replace(shipped, decisions=off, learned=None))
    for field in ("request_type", "urgency"):  # the crime flag: recall and precision below
        right = sum(a[field] == label(m, field) for a, m in zip(alone, messages, strict=True))
        print(
            f"  {field:13} rules {getattr(by_rules, f'{field}_accuracy'):.3f}"
            f"  model {right / len(messages):.3f}"
            f"  combined {getattr(combined, f'{field}_accuracy'):.3f}"
        )
    for name, report in (("rules", by_rules), ("combined", combined)):
        print(
            f"  {name:9} emergency {report.emergency_recall:.3f} / {report.emergency_precision:.3f}"
            f"  crime {report.crime_recall:.3f} / {report.crime_precision:.3f}"
            f"  pole F1 {report.pole_f1:.3f}"
        )
    return 0


THRESHOLDS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
LIFTS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


@dataclasses.dataclass(frozen=True)
class Read:
    """One message read out of fold: its labels, the rules' verdict, the model's probabilities."""

    corpus: str
    message: Labelled
    urgency: str  # the rules' (with the learned stage as shipped: it never makes an emergency)
    crime: bool  # the rules' alone
    p_emergency: float
    p_ordinary: float
    p_crime: float


def out_of_fold() -> list[Read]:
    """Every training message read by a model trained without its corpus."""
    shipped = rules.load_ruleset()
    crime_off = dataclasses.replace(shipped.decision("criminal_event"), learned_weight=0.0)
    decisions = {**shipped.decisions, "criminal_event": crime_off}
    found: list[Read] = []
    for path in training_files():
        model = learned.Model.of(train([path.stem]))
        ruleset = dataclasses.replace(shipped, decisions=decisions, learned=model)
        for m in load_corpus(path):
            verdict = rules.classify(m.doc, ruleset, DEFAULT_POLE_FORMATS)
            read = model.probabilities(learned.text_of(Document.of(m.doc)))
            urgency, crime = read["urgency"], read["criminal_event"]
            found.append(
                Read(
                    path.stem,
                    m,
                    verdict.urgency,
                    verdict.criminal_event,
                    urgency["emergenza"],
                    urgency["ordinaria"],
                    crime["true"],
                )
            )
    return found


def cross() -> int:
    """What a doubt or a lift would gain and lose at each threshold, leave one corpus out."""
    reads = out_of_fold()
    alarms = [r for r in reads if r.urgency == "emergenza"]
    flagged = [r for r in reads if r.crime]
    missed = [r for r in reads if not r.crime]
    print(f"{len(reads)} messages of {len({r.corpus for r in reads})} corpora, each out of fold")
    for name, pool, truth, p in (
        ("emergency doubt p(emergenza) <", alarms, _emergency, lambda r: r.p_emergency),
        ("emergency doubt 1 - p(ordinaria) <", alarms, _emergency, lambda r: 1 - r.p_ordinary),
        ("crime doubt p(crime) <", flagged, _crime, lambda r: r.p_crime),
    ):
        true = [p(r) for r in pool if truth(r)]
        print(
            f"{name} t: of {len(true)} true (lowest p {min(true):.3f}) and"
            f" {len(pool) - len(true)} false"
        )
        for t in THRESHOLDS:
            lost = _by_corpus(r for r in pool if truth(r) and p(r) < t)
            gone = _by_corpus(r for r in pool if not truth(r) and p(r) < t)
            print(
                f"  {t:<6} true lost {sum(lost.values()):3}, false removed"
                f" {sum(gone.values()):3}   lost {_list(lost)} removed {_list(gone)}"
            )
    print(f"crime lift p(crime) >= t where the rules say none ({sum(map(_crime, missed))} crimes)")
    for t in LIFTS:
        won = _by_corpus(r for r in missed if _crime(r) and r.p_crime >= t)
        wrong = _by_corpus(r for r in missed if not _crime(r) and r.p_crime >= t)
        print(
            f"  {t:<6} found {sum(won.values()):3}, false {sum(wrong.values()):3}"
            f"   found {_list(won)} false {_list(wrong)}"
        )
    return 0


def _emergency(read: Read) -> bool:
    return read.message.urgency == "emergenza"


def _crime(read: Read) -> bool:
    return read.message.criminal_event


def _by_corpus(reads: Iterable[Read]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for read in reads:
        counts[read.corpus] = counts.get(read.corpus, 0) + 1
    return counts


def _list(counts: dict[str, int]) -> str:
    return "(" + ", ".join(f"{c} {n}" for c, n in counts.items()) + ")" if counts else "-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="is learned.json up to date?")
    parser.add_argument("--validate", metavar="BATCH", help="train without BATCH, measure on it")
    parser.add_argument("--cross", action="store_true", help="leave one corpus out: doubts, lifts")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    if args.cross:
        return cross()
    if args.validate:
        return validate(args.validate)
    document = train()
    learned.MODEL_FILE.write_text(dumps(document), encoding="utf-8")
    size = learned.MODEL_FILE.stat().st_size
    print(f"{learned.MODEL_FILE.relative_to(ROOT)}: {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
