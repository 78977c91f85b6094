"""The labelled corpus: the rules' figures against messages labelled by meaning.

`requests.toml` is the tuning corpus; `holdout.toml` was written before the rules and is never
tuned against, so its looser bar shows how the rules do on text they were not fitted to.
`blind2.toml` is a second held-out set, written blind by authors unlike the first (dialect, all
caps, PEC letters, odd pole codes); its bar sits just below what the rules reach on it.
`blind3.toml` is measured only (see its header): it was never tuned on. `blind4.toml` was written
for the compositional danger rule before it existed; its bar sits just below what it reaches.
Run with `-s` to see the report, or `python -m rules.report tests/corpus/*.toml`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rules import REQUEST_TYPES
from rules.report import Report, evaluate, format_report, load_corpus, main

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture(scope="module")
def main_report(ruleset) -> Report:
    report = evaluate(load_corpus(CORPUS / "requests.toml"), ruleset)
    print("\n" + format_report(report, "requests.toml"))
    return report


@pytest.fixture(scope="module")
def holdout_report(ruleset) -> Report:
    report = evaluate(load_corpus(CORPUS / "holdout.toml"), ruleset)
    print("\n" + format_report(report, "holdout.toml"))
    return report


@pytest.fixture(scope="module")
def blind2_report(ruleset) -> Report:
    report = evaluate(load_corpus(CORPUS / "blind2.toml"), ruleset)
    print("\n" + format_report(report, "blind2.toml"))
    return report


@pytest.fixture(scope="module")
def blind4_report(ruleset) -> Report:
    report = evaluate(load_corpus(CORPUS / "blind4.toml"), ruleset)
    print("\n" + format_report(report, "blind4.toml"))
    return report


def test_the_corpus_is_large_and_balanced():
    messages = load_corpus(CORPUS / "requests.toml")
    assert len(messages) >= 100
    assert len({m.id for m in messages}) == len(messages)
    share = {t: sum(m.request_type == t for m in messages) / len(messages) for t in REQUEST_TYPES}
    assert 0.30 <= share["manutenzione"] <= 0.50
    assert all(share[t] >= 0.10 for t in ("reclamo", "sollecito", "informazione"))
    assert share["da_classificare"] > 0


def test_request_type(main_report):
    assert main_report.request_type_accuracy >= 0.90


def test_urgency(main_report):
    assert main_report.urgency_accuracy >= 0.85


def test_pole_codes(main_report):
    assert main_report.pole_f1 >= 0.97


def test_crime_recall(main_report):
    assert main_report.crime_recall == 1.0


def test_emergency_recall(main_report):
    assert main_report.emergency_recall == 1.0


def test_holdout_request_type(holdout_report):
    assert holdout_report.request_type_accuracy >= 0.80


def test_blind2_request_type(blind2_report):
    assert blind2_report.request_type_accuracy >= 0.95


def test_blind2_urgency(blind2_report):
    assert blind2_report.urgency_accuracy >= 0.98  # 1.00 (w37 no longer urgente)


def test_blind2_crime_recall(blind2_report):
    assert blind2_report.crime_recall >= 0.9


def test_blind2_emergency_recall(blind2_report):
    assert blind2_report.emergency_recall >= 0.9


def test_blind4(blind4_report):
    assert blind4_report.request_type_accuracy >= 0.85
    assert blind4_report.urgency_accuracy >= 0.85  # 0.90 (0.80 before round four)
    assert blind4_report.emergency_recall >= 0.70


def test_the_held_out_sets_are_well_formed():
    for name in ("holdout.toml", "blind2.toml", "blind3.toml", "blind4.toml"):
        messages = load_corpus(CORPUS / name)
        assert len({m.id for m in messages}) == len(messages), name
        assert all(m.request_type in REQUEST_TYPES for m in messages), name


def test_the_report_command(capsys):
    assert main([str(CORPUS / "holdout.toml")]) == 0
    out = capsys.readouterr().out
    assert "request type accuracy" in out and "pole codes" in out and "emergency recall" in out


def test_the_report_lists_disagreements(ruleset, tmp_path):
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(
        '[[message]]\nid = "x1"\nsubject = ""\nbody = "Vi sollecito: palo IP-000001 spento."\n'
        'sender = "a@b.it"\nrequest_type = "reclamo"\nurgency = "ordinaria"\n'
        'criminal_event = true\npole_codes = ["IP-000002"]\n',
        encoding="utf-8",
    )
    report = evaluate(load_corpus(wrong), ruleset)
    assert {m.field for m in report.misses} == {"request_type", "pole_codes", "criminal_event"}
    assert (report.crime_recall, report.pole_f1) == (0.0, 0.0)
    assert "x1     request_type    expected reclamo" in format_report(report)


def test_competence_on_its_tuning_set_and_no_false_hand_off_elsewhere(ruleset):
    """Matters for the Vigili del Fuoco or the Polizia Locale are found; the supplier's own
    matters, in every corpus, are almost never handed off."""
    tuning = evaluate(load_corpus(CORPUS / "competence1.toml"), ruleset)
    print("\n" + format_report(tuning, "competence1.toml"))
    assert tuning.competence_accuracy >= 0.95
    false_hand_offs = sum(
        evaluate(load_corpus(CORPUS / name), ruleset).elsewhere_fp
        for name in ("requests.toml", "holdout.toml", "blind2.toml", "blind3.toml", "blind4.toml")
    )
    assert false_hand_offs <= 2  # of 365 messages, all the supplier's but one


def test_competence_on_the_blind_set(ruleset):
    """blind5, never tuned on: a floor under the figure measured once (0.75 recall)."""
    report = evaluate(load_corpus(CORPUS / "blind5.toml"), ruleset)
    print("\n" + format_report(report, "blind5.toml"))
    assert report.elsewhere_recall >= 0.7 and report.elsewhere_precision >= 0.9


def test_details_on_their_tuning_set_and_the_blind_one(ruleset):
    """The kind of fault, what a complaint is about, a question's topic (floors under the
    figures measured once: 0.94 tuned, 0.69 blind)."""
    tuning = evaluate(load_corpus(CORPUS / "details1.toml"), ruleset)
    blind = evaluate(load_corpus(CORPUS / "blind6.toml"), ruleset)
    print("\n" + format_report(tuning, "details1.toml") + "\n" + format_report(blind, "blind6"))
    assert tuning.details_accuracy >= 0.9 and blind.details_accuracy >= 0.65
