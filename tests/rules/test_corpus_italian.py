"""Issue #18's corpora: blind7 to blind12 (written and measured before the rules changed,
never tuned on), tuning7 to tuning10 (tuned on), and the older competence sets, whose type
and urgency the same change moved. Bars sit just under the figures measured after the
change, to catch drift, not only collapse (README, Classification). The learned stage
(`rules.learned`) is trained on every corpus here but blind11, blind12 and holdout: on the
others the combined figures are figures on training data, optimistic, and the bars that rose
with it say so ("with the learned stage")."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules import REQUEST_TYPES
from rules.report import Report, evaluate, format_report, load_corpus

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def measured(ruleset, name: str) -> Report:
    report = evaluate(load_corpus(CORPUS / name), ruleset)
    print("\n" + format_report(report, name))
    return report


def assert_large_labelled_and_mixed(
    name: str, size: int, per_type: int, emergencies: int = 0, crimes: int = 0
) -> None:
    """A blind batch worth measuring: `size` messages or more, ids unique, known types, at
    least `per_type` of each of the four main types, and enough emergencies and crimes for
    their precision to mean something."""
    messages = load_corpus(CORPUS / name)
    assert len(messages) >= size and len({m.id for m in messages}) == len(messages)
    assert all(m.request_type in REQUEST_TYPES for m in messages)
    types = {t: sum(m.request_type == t for m in messages) for t in REQUEST_TYPES}
    assert all(
        types[t] >= per_type for t in ("manutenzione", "reclamo", "sollecito", "informazione")
    )
    assert sum(m.urgency == "emergenza" for m in messages) >= emergencies
    assert sum(m.criminal_event for m in messages) >= crimes


@pytest.fixture(scope="module")
def blind7(ruleset) -> Report:
    return measured(ruleset, "blind7.toml")


def test_blind7_is_large_labelled_and_mixed():
    assert_large_labelled_and_mixed("blind7.toml", 80, 10)


def test_blind7_forwards_and_replies_lose_no_pole_code(blind7):
    assert blind7.pole_f1 >= 0.99  # 0.68 before: codes only in a forward or a quote were lost


def test_blind7_type_urgency_crime_and_emergencies(blind7):
    # with the learned stage: 0.970 / 0.990 (rules alone 0.820 / 0.960)
    assert blind7.request_type_accuracy >= 0.96  # 0.82 measured (0.61 before, 0.80 round two)
    assert blind7.urgency_accuracy >= 0.98  # 0.96 (0.85, 0.92, 0.95 round three)
    assert blind7.crime_recall == 1.0 and blind7.crime_precision >= 0.85  # 1.00 / 1.00
    assert blind7.emergency_recall == 1.0 and blind7.emergency_precision >= 0.95  # 1.00/1.00 (0.93)


def test_tuning7(ruleset):
    report = measured(ruleset, "tuning7.toml")
    assert report.request_type_accuracy >= 0.95 and report.urgency_accuracy >= 0.95
    assert report.pole_f1 == 1.0 and report.crime_recall == 1.0
    assert report.emergency_recall == 1.0


@pytest.fixture(scope="module")
def blind8(ruleset) -> Report:
    return measured(ruleset, "blind8.toml")


def test_blind8_is_large_labelled_and_mixed():
    assert_large_labelled_and_mixed("blind8.toml", 80, 10, 10)


def test_blind8_persistence_conduct_panels_and_overcalled_dangers(blind8):
    """Round two (README, Classification): measured once before and once after tuning on
    tuning8; the bars sit just under the after figures."""
    # with the learned stage: 0.976 / 0.915 (rules alone 0.902 / 0.902)
    assert blind8.request_type_accuracy >= 0.96  # 0.902 measured (0.805, 0.866, 0.890 round three)
    assert blind8.urgency_accuracy >= 0.90  # 0.902 (0.829, 0.841, 0.866)
    assert blind8.pole_f1 == 1.0  # 1.000 (1.000)
    assert blind8.crime_recall == 1.0 and blind8.crime_precision >= 0.9  # 1.00 / 0.92
    assert blind8.emergency_recall >= 0.7 and blind8.emergency_precision >= 0.9  # 0.71/0.91 (0.71)


def test_tuning8(ruleset):
    report = measured(ruleset, "tuning8.toml")
    assert report.request_type_accuracy >= 0.98 and report.urgency_accuracy >= 0.98  # 1.00 / 1.00
    # crime recall 1.00 with the learned stage's lift of a very sure crime (rules alone 0.90):
    # tuning8 is training data for the model, so that figure is optimistic
    assert report.pole_f1 == 1.0 and report.crime_recall == 1.0  # 1.00, 1.00 (0.90)
    assert report.emergency_recall == 1.0 and report.emergency_precision >= 0.95  # 1.00 / 1.00


@pytest.fixture(scope="module")
def blind9(ruleset) -> Report:
    return measured(ruleset, "blind9.toml")


def test_blind9_is_large_labelled_and_mixed():
    assert_large_labelled_and_mixed("blind9.toml", 90, 12, 12, 10)


def test_blind9_across_sentences_other_networks_plain_complaints_and_crimes(blind9):
    """Round three (README, Classification): measured once before and once after tuning on
    tuning9; the bars sit just under the after figures."""
    # (round four, tuned on tuning10 with blind9's remaining misses in view: optimistic)
    assert blind9.request_type_accuracy >= 0.98  # 1.000 measured (0.771 before, 0.927 round three)
    assert blind9.urgency_accuracy >= 0.98  # 1.000 (0.906, 0.958)
    assert blind9.pole_f1 == 1.0  # 1.000 (1.000)
    assert blind9.crime_recall == 1.0 and blind9.crime_precision >= 0.95  # 1.0/1.0 (0.9/0.9)
    assert blind9.emergency_recall == 1.0 and blind9.emergency_precision >= 0.95  # 1.0/1.0 (0.82)


def test_tuning9(ruleset):
    report = measured(ruleset, "tuning9.toml")
    # 0.94 / 1.00 by the rules; 0.962 type with the learned stage
    assert report.request_type_accuracy >= 0.95 and report.urgency_accuracy >= 0.98
    assert report.pole_f1 == 1.0 and report.crime_recall == 1.0  # 1.00, 1.00
    assert report.emergency_recall == 1.0 and report.emergency_precision >= 0.95  # 1.00 / 1.00


def test_tuning10(ruleset):
    """Round four's tuning set: the patterns blind9 still missed and the false emergencies and
    crimes of every corpus (0.656 type, 0.672 urgency, crime 0.44 / 0.50, emergency precision
    0.22 before)."""
    report = measured(ruleset, "tuning10.toml")
    assert report.request_type_accuracy >= 0.98 and report.urgency_accuracy >= 0.96  # 1.00 / 0.98
    assert report.pole_f1 == 1.0 and report.crime_recall == 1.0  # 1.00, 1.00
    assert report.crime_precision >= 0.95  # 1.00
    assert report.emergency_recall == 1.0 and report.emergency_precision >= 0.8  # 1.00 / 0.80


@pytest.fixture(scope="module")
def blind10(ruleset) -> Report:
    return measured(ruleset, "blind10.toml")


def test_blind10_is_large_labelled_and_mixed():
    assert_large_labelled_and_mixed("blind10.toml", 110, 20, 12, 10)


def test_blind10_never_tuned_on(blind10):
    """Round four was tuned on tuning10 by someone who never saw blind10: these are the blind
    figures after that round (before it: type 0.702, urgency 0.886, crime 0.70 / 0.64,
    emergency 0.92 / 0.67). The bars catch drift; the targets are far above them. blind10
    then chose the learned stage's settings (trained without it: type 0.798, urgency 0.912,
    `scripts/train_learned.py --validate blind10`) and the shipped model is trained on it, so
    its figures with the stage are no longer blind: type 0.912, urgency 0.921, and crime 1.00 /
    0.714 with the lift of a crime the model is very sure of (0.90 / 0.643 with a model trained
    without blind10, the figure its threshold was chosen on)."""
    assert blind10.request_type_accuracy >= 0.90  # 0.912 (0.702 by the rules alone)
    assert blind10.urgency_accuracy >= 0.91  # 0.921 (0.895)
    assert blind10.pole_f1 == 1.0  # 1.000
    assert blind10.crime_recall == 1.0 and blind10.crime_precision >= 0.7  # 1.00/0.714 (0.70/0.636)
    assert blind10.emergency_recall >= 0.92 and blind10.emergency_precision >= 0.7  # 0.923 / 0.706


@pytest.fixture(scope="module")
def blind11(ruleset) -> Report:
    return measured(ruleset, "blind11.toml")


def test_blind11_is_large_labelled_and_mixed():
    assert_large_labelled_and_mixed("blind11.toml", 120, 24, 15, 14)


def test_blind11_never_tuned_on(blind11):
    """blind11 was measured once on the rules of 3969bbe (type 0.725, urgency 0.817, pole F1
    0.725, crime 0.50 / 0.50, emergency 1.00 / 0.56). Its pole-code misses were all bare
    numbers («palo n. 145117»), which `rules.pole_numbers` now reads: that field alone was
    fixed after seeing the batch, and is no longer blind. The learned stage, never trained on it
    and its settings chosen on blind10 first, was measured on it once: type 0.825, urgency
    0.817 (three lifted to urgente rightly, three wrongly), crime and emergency unchanged; and
    once more with the crime lift (settings chosen on blind10 and leave-one-corpus-out): all
    unchanged, no crime added."""
    assert blind11.request_type_accuracy >= 0.81  # 0.825 measured (0.725 by the rules alone)
    assert blind11.urgency_accuracy >= 0.80  # 0.817 (0.817)
    assert blind11.pole_f1 == 1.0  # 1.000 with bare numbers (0.725 before: seen, so not blind)
    assert blind11.crime_recall >= 0.5 and blind11.crime_precision >= 0.5  # 0.50 / 0.50
    assert blind11.emergency_recall == 1.0 and blind11.emergency_precision >= 0.55  # 1.00 / 0.556


@pytest.fixture(scope="module")
def blind12(ruleset) -> Report:
    return measured(ruleset, "blind12.toml")


def test_blind12_is_large_labelled_and_mixed():
    assert_large_labelled_and_mixed("blind12.toml", 120, 24, 15, 13)


def test_blind12_never_tuned_on(blind12):
    """blind12, another writer's, was measured once on the rules of 8427be3 (type 0.725,
    urgency 0.817, pole F1 0.989 with bare numbers, measured blind, crime 0.77 / 0.71,
    emergency 0.93 / 0.54). Its one pole miss («IP-156001/156002») was then mended. The learned
    stage, never trained on it and its settings chosen on blind10 first, was measured on it
    once: type 0.783, urgency 0.842, crime and emergency unchanged; and once more with the crime
    lift (settings chosen on blind10 and leave-one-corpus-out): crime 0.769 / 0.714 -> 0.846 /
    0.733 (one crime added, rightly), the rest unchanged."""
    assert blind12.request_type_accuracy >= 0.77  # 0.783 measured (0.725 by the rules alone)
    assert blind12.urgency_accuracy >= 0.83  # 0.842 (0.817)
    assert blind12.pole_f1 == 1.0  # 1.000 (0.989 before: the slash)
    assert blind12.crime_recall >= 0.84 and blind12.crime_precision >= 0.73  # 0.846/0.733 (0.769)
    assert blind12.emergency_recall >= 0.93 and blind12.emergency_precision >= 0.53  # 0.933/0.538


@pytest.fixture(scope="module")
def blind13(ruleset) -> Report:
    return measured(ruleset, "blind13.toml")


def test_blind13_is_large_labelled_and_mixed():
    assert_large_labelled_and_mixed("blind13.toml", 120, 25, 18, 15)


def test_blind13_never_tuned_on(blind13):
    """blind13, a third writer's, measured once on the rules and learned stage of c4facb1,
    before anything was changed for it (rules alone: type 0.775, urgency 0.783). Never tuned
    on, never trained on (`scripts/train_learned.py` EXCLUDED): the newest honest figure."""
    assert blind13.request_type_accuracy >= 0.83  # 0.850 measured (0.775 by the rules alone)
    assert blind13.urgency_accuracy >= 0.79  # 0.808 (0.783)
    assert blind13.pole_f1 >= 0.98  # 0.984, measured blind: one code missed, one false
    assert blind13.crime_recall >= 0.66 and blind13.crime_precision >= 0.7  # 0.667 / 0.714
    assert blind13.emergency_recall >= 0.88 and blind13.emergency_precision >= 0.63  # 0.889/0.640


def test_matters_for_another_body_are_reported_with_their_urgency(ruleset):
    """competence1 (tuned on) and blind5 (never tuned on): type and urgency of gas, fallen
    trees, floods and traffic lights (blind5 0.54 / 0.54 / recall 0.60 before)."""
    tuning, blind = measured(ruleset, "competence1.toml"), measured(ruleset, "blind5.toml")
    assert tuning.request_type_accuracy >= 0.95 and tuning.urgency_accuracy >= 0.80
    # with the learned stage, trained on blind5: 1.000 / 0.875 (rules alone 0.833 / 0.792)
    assert blind.request_type_accuracy >= 0.98 and blind.urgency_accuracy >= 0.85
    assert blind.emergency_recall >= 0.9 and blind.emergency_precision >= 0.85
