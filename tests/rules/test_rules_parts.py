"""Message parts with roles: a forwarded message is the request, a reply's history is context;
dialect, misspellings and OCR slips read as the standard words the rules are written in."""

from __future__ import annotations

import pytest

import rules
from rules.spelling import normalise


@pytest.fixture(scope="module")
def read(ruleset):
    def run(text: str, subject: str = "", forwarded: str = "", quoted: str = "") -> rules.Verdict:
        doc = rules.RuleInput(subject, text, forwarded=forwarded, quoted=quoted)
        return rules.classify(doc, ruleset, rules.DEFAULT_POLE_FORMATS)

    return run


def test_a_forwarded_report_sets_type_urgency_and_poles_and_says_where_it_came_from(read):
    verdict = read(
        "Si inoltra per competenza la segnalazione pervenuta.",
        subject="I: palo",
        forwarded="Il palo IP-060412 è stato abbattuto da un'auto e giace sulla carreggiata.",
    )
    assert (verdict.request_type, verdict.urgency) == ("manutenzione", "emergenza")
    assert verdict.pole_codes == ("IP-060412",)
    urgency = [h for h in verdict.hits if h.field == "urgency" and h.value == "emergenza"]
    assert urgency and all(h.evidence.startswith("[inoltrato] ") for h in urgency)
    pole = next(h for h in verdict.hits if h.rule == "poles.format")
    assert pole.evidence.startswith("[inoltrato] ")


def test_a_reply_takes_its_pole_from_the_quoted_history_but_not_its_danger(read):
    verdict = read(
        "Il lampione è ancora spento, vedi sotto.",
        subject="Re: lampione",
        quoted="Il lampione IP-038812 è a terra con i fili scoperti.",
    )
    assert verdict.pole_codes == ("IP-038812",)
    assert verdict.urgency == "ordinaria"
    assert any(h.rule == "poles.quoted" and h.evidence.startswith("[citato]") for h in verdict.hits)


def test_a_ticket_number_in_the_history_links_but_does_not_make_a_thank_you_a_reminder(read):
    verdict = read(
        "Grazie mille, stasera il lampione funzionava di nuovo.",
        subject="Re: vostra pratica",
        quoted="La sua segnalazione è registrata con il numero 2026/004512.",
    )
    assert verdict.ticket_refs == ("2026/004512",)
    assert verdict.request_type != "sollecito"


def test_a_code_in_both_parts_is_listed_once(read):
    verdict = read("Il palo IP-038812 è spento.", quoted="> palo IP-038812 spento")
    assert verdict.pole_codes == ("IP-038812",)


@pytest.mark.parametrize(
    ("written", "standard"),
    [
        ("o lampiune e stutatu", "o lampione e stutato"),
        ("nun s'allumina", "non s'illumina"),
        ("il palu e scuperto", "il palo e scoperto"),
        ("spent0 da ieri, pa1o storto", "spento da ieri, palo storto"),
    ],
)
def test_dialect_misspellings_and_ocr_slips_read_as_standard_words(written, standard):
    assert normalise(written).rstrip() == standard


def test_the_mapping_keeps_the_length_and_leaves_codes_and_numbers_alone():
    text = "palu IP-O12345, pratica 2026/000123, ore 20:10, cchiu"
    out = normalise(text)
    assert len(out) == len(text)
    assert "IP-O12345" in out and "2026/000123" in out and "20:10" in out


def test_a_dialect_report_is_a_fault(read):
    verdict = read("nun s'allumina cchiu o lampiune e vico Lungo")
    assert verdict.request_type == "manutenzione"
