"""Measure the rules against a labelled corpus: `python -m rules.report CORPUS.toml [...]`.

A corpus is a TOML file of `[[message]]` tables with `id`, `subject`, `body`, `sender` and the
labels `request_type`, `urgency`, `criminal_event`, `pole_codes`. A body is read as the pipeline
reads a mail body (`parsers.quoting`: the new text, a forwarded message, the quoted history), so
that forwards and replies are measured as they are classified. The report gives per-field
figures and every disagreement, so that a rule change can be judged by what it fixes and breaks.
The daemon's CLI can call `evaluate` and `format_report` the same way.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from parsers.quoting import split
from rules import classify
from rules.engine import RulesError, RuleSet
from rules.loader import load_ruleset
from rules.poles import DEFAULT_POLE_FORMATS
from rules.types import PoleFormat, RuleInput, Verdict


@dataclass(frozen=True)
class Labelled:
    """One corpus message with its expected labels."""

    id: str
    doc: RuleInput
    request_type: str
    urgency: str
    criminal_event: bool
    pole_codes: tuple[str, ...]
    competence: str = "fornitore"  # a corpus without the label: the supplier's
    details: dict[str, tuple[str, ...]] | None = None  # only where the corpus labels them


@dataclass(frozen=True)
class Miss:
    id: str
    field: str
    expected: str
    got: str


@dataclass
class Report:
    """Agreement between labels and verdicts, field by field."""

    total: int = 0
    request_type_ok: int = 0
    urgency_ok: int = 0
    poles_tp: int = 0
    poles_fp: int = 0
    poles_fn: int = 0
    crime_tp: int = 0
    crime_fp: int = 0
    crime_fn: int = 0
    emergency_tp: int = 0
    emergency_fn: int = 0
    emergency_fp: int = 0
    competence_ok: int = 0
    elsewhere_tp: int = 0  # outside the supplier's competence, and found so
    elsewhere_fn: int = 0
    elsewhere_fp: int = 0
    details_total: int = 0  # messages labelled with their details
    details_ok: int = 0  # of those, the ones whose details came out exactly so
    misses: list[Miss] = field(default_factory=list)

    @property
    def details_accuracy(self) -> float:
        return _ratio(self.details_ok, self.details_total)

    @property
    def competence_accuracy(self) -> float:
        return _ratio(self.competence_ok, self.total)

    @property
    def elsewhere_recall(self) -> float:
        """Of the matters for another body, the share found (whichever body was named)."""
        return _ratio(self.elsewhere_tp, self.elsewhere_tp + self.elsewhere_fn)

    @property
    def elsewhere_precision(self) -> float:
        return _ratio(self.elsewhere_tp, self.elsewhere_tp + self.elsewhere_fp)

    @property
    def request_type_accuracy(self) -> float:
        return _ratio(self.request_type_ok, self.total)

    @property
    def urgency_accuracy(self) -> float:
        return _ratio(self.urgency_ok, self.total)

    @property
    def pole_precision(self) -> float:
        return _ratio(self.poles_tp, self.poles_tp + self.poles_fp)

    @property
    def pole_recall(self) -> float:
        return _ratio(self.poles_tp, self.poles_tp + self.poles_fn)

    @property
    def pole_f1(self) -> float:
        p, r = self.pole_precision, self.pole_recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def crime_recall(self) -> float:
        return _ratio(self.crime_tp, self.crime_tp + self.crime_fn)

    @property
    def crime_precision(self) -> float:
        return _ratio(self.crime_tp, self.crime_tp + self.crime_fp)

    @property
    def emergency_recall(self) -> float:
        return _ratio(self.emergency_tp, self.emergency_tp + self.emergency_fn)

    @property
    def emergency_precision(self) -> float:
        """Of the messages called emergencies, the share that are: a false one costs a call."""
        return _ratio(self.emergency_tp, self.emergency_tp + self.emergency_fp)


def _ratio(part: int, whole: int) -> float:
    """A share; 1.0 when there is nothing to count (no positives cannot be missed)."""
    return part / whole if whole else 1.0


def load_corpus(path: Path) -> list[Labelled]:
    """The labelled messages of a corpus file; raises ValueError naming a malformed entry."""
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    messages = []
    for i, raw in enumerate(data.get("message", [])):
        try:
            messages.append(
                Labelled(
                    id=str(raw["id"]),
                    doc=_input(raw),
                    request_type=raw["request_type"],
                    urgency=raw["urgency"],
                    criminal_event=bool(raw["criminal_event"]),
                    pole_codes=tuple(raw["pole_codes"]),
                    competence=raw.get("competence", "fornitore"),
                    details=_details(raw.get("details")),
                )
            )
        except KeyError as exc:
            raise ValueError(f"{path}: message #{i + 1} lacks {exc}") from None
    return messages


def _input(raw: dict) -> RuleInput:
    """What the pipeline hands the rules for this body (`analysis.classify`)."""
    parts = split(raw["body"], raw["subject"])
    subject, sender = raw["subject"], raw.get("sender")
    return RuleInput(subject, parts.text, sender, forwarded=parts.forwarded, quoted=parts.quoted)


def evaluate(
    messages: Sequence[Labelled],
    ruleset: RuleSet,
    formats: Sequence[PoleFormat] = DEFAULT_POLE_FORMATS,
) -> Report:
    report = Report()
    for message in messages:
        _count(report, message, classify(message.doc, ruleset, formats))
    return report


def _count(report: Report, message: Labelled, verdict: Verdict) -> None:
    report.total += 1
    miss = report.misses.append
    if verdict.request_type == message.request_type:
        report.request_type_ok += 1
    else:
        miss(Miss(message.id, "request_type", message.request_type, verdict.request_type))
    if verdict.urgency == message.urgency:
        report.urgency_ok += 1
    else:
        miss(Miss(message.id, "urgency", message.urgency, verdict.urgency))
    expected, got = set(message.pole_codes), set(verdict.pole_codes)
    report.poles_tp += len(expected & got)
    report.poles_fp += len(got - expected)
    report.poles_fn += len(expected - got)
    if expected != got:
        miss(Miss(message.id, "pole_codes", _codes(expected), _codes(got)))
    if message.criminal_event and verdict.criminal_event:
        report.crime_tp += 1
    elif verdict.criminal_event:
        report.crime_fp += 1
    elif message.criminal_event:
        report.crime_fn += 1
    if message.criminal_event != verdict.criminal_event:
        expected_crime, got_crime = str(message.criminal_event), str(verdict.criminal_event)
        miss(Miss(message.id, "criminal_event", expected_crime, got_crime))
    if message.urgency == "emergenza":
        if verdict.urgency == "emergenza":
            report.emergency_tp += 1
        else:
            report.emergency_fn += 1
    elif verdict.urgency == "emergenza":
        report.emergency_fp += 1
    _count_competence(report, message, verdict)
    _count_details(report, message, verdict)


def _details(raw: dict[str, list[str]] | None) -> dict[str, tuple[str, ...]] | None:
    return None if raw is None else {key: tuple(sorted(v)) for key, v in raw.items()}


def _count_details(report: Report, message: Labelled, verdict: Verdict) -> None:
    if message.details is None:
        return
    report.details_total += 1
    got = {key: tuple(sorted(values)) for key, values in verdict.details.items()}
    if got == message.details:
        report.details_ok += 1
    else:
        report.misses.append(Miss(message.id, "details", str(message.details), str(got)))


def _count_competence(report: Report, message: Labelled, verdict: Verdict) -> None:
    if verdict.competence == message.competence:
        report.competence_ok += 1
    else:
        report.misses.append(Miss(message.id, "competence", message.competence, verdict.competence))
    expected, got = message.competence != "fornitore", verdict.competence != "fornitore"
    report.elsewhere_tp += expected and got
    report.elsewhere_fn += expected and not got
    report.elsewhere_fp += got and not expected


def _codes(codes: set[str]) -> str:
    return ", ".join(sorted(codes)) or "-"


def format_report(report: Report, title: str = "corpus") -> str:
    lines = [
        f"{title}: {report.total} messages",
        f"  request type accuracy  {report.request_type_accuracy:.3f}"
        f"  ({report.request_type_ok}/{report.total})",
        f"  urgency accuracy       {report.urgency_accuracy:.3f}"
        f"  ({report.urgency_ok}/{report.total})",
        f"  pole codes             precision {report.pole_precision:.3f}"
        f"  recall {report.pole_recall:.3f}  F1 {report.pole_f1:.3f}"
        f"  (tp {report.poles_tp}, fp {report.poles_fp}, fn {report.poles_fn})",
        f"  crime                  recall {report.crime_recall:.3f}"
        f"  precision {report.crime_precision:.3f}"
        f"  (tp {report.crime_tp}, fp {report.crime_fp}, fn {report.crime_fn})",
        f"  emergency recall       {report.emergency_recall:.3f}"
        f"  ({report.emergency_tp}/{report.emergency_tp + report.emergency_fn})"
        f"  precision {report.emergency_precision:.3f}"
        f"  ({report.emergency_tp}/{report.emergency_tp + report.emergency_fp})",
        f"  competence accuracy    {report.competence_accuracy:.3f}"
        f"  ({report.competence_ok}/{report.total})  not ours: recall"
        f" {report.elsewhere_recall:.3f}  precision {report.elsewhere_precision:.3f}"
        f"  (tp {report.elsewhere_tp}, fp {report.elsewhere_fp}, fn {report.elsewhere_fn})",
    ]
    if report.details_total:
        lines.append(
            f"  details accuracy       {report.details_accuracy:.3f}"
            f"  ({report.details_ok}/{report.details_total}, exactly the labelled ones)"
        )
    if report.misses:
        lines.append("  misclassified:")
        lines += [
            f"    {m.id:<6} {m.field:<15} expected {m.expected:<16} got {m.got}"
            for m in report.misses
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rules.report", description=__doc__)
    parser.add_argument("corpus", nargs="+", type=Path, help="labelled corpus TOML files")
    parser.add_argument(
        "--rules", action="append", type=Path, default=[], help="an override rule file"
    )
    args = parser.parse_args(argv)
    try:
        ruleset = load_ruleset(args.rules)
        for path in args.corpus:
            print(format_report(evaluate(load_corpus(path), ruleset), title=str(path)))
    except (RulesError, ValueError, OSError) as exc:  # TOMLDecodeError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
