"""Request type: the bureaucratic traps of DESIGN.md, each beside the reading it must not get."""

from __future__ import annotations

import pytest

TRAPS = [
    # «sollecito» as an adjective asks for a prompt repair; as a noun or verb it is a reminder
    ("Si segnala il guasto del punto luce IP-000777. Si chiede un sollecito intervento.",
     "manutenzione"),
    ("Il lampione di via Roma è spento, si richiede un sollecito ripristino.", "manutenzione"),
    ("Vi sollecito per il lampione di via Roma, segnalato il 2 marzo, tuttora spento.",
     "sollecito"),
    ("Il lampione di via Roma è spento, provvedete con la massima sollecitudine.",
     "manutenzione"),
    # «per vostra informazione» closing a fault report is not an information request
    ("Il lampione di via Emilia è spento. Per vostra informazione, è quello davanti al bar.",
     "manutenzione"),
    ("Vorrei sapere quali sono gli orari del servizio.", "informazione"),
    # «reclamo» negated introduces a plain report; asserted, it is a complaint
    ("Non è un reclamo, ma il lampione di via Cavour fa una luce intermittente.",
     "manutenzione"),
    ("Presento reclamo per il comportamento del vostro tecnico, scortese e arrogante.",
     "reclamo"),
    # earlier requests recalled
    ("Lampione di via Saffi spento, già segnalato in data 3 marzo.", "sollecito"),
    ("Ennesima segnalazione per il lampione di via Fondazza, sempre spento.", "sollecito"),
    ("Il 15 febbraio ho segnalato il palo che lampeggia: nessuno è intervenuto.", "sollecito"),
    ("A distanza di due settimane il lampione sotto casa è ancora spento.", "sollecito"),
    ("Il lampione della segnalazione 2026/000123 è spento.", "sollecito"),
    # …but time alone describes the fault, and the police are not us
    ("Il lampione davanti a casa è spento da due settimane.", "manutenzione"),
    ("Hanno rubato i cavi, la via è al buio. Abbiamo già chiamato i carabinieri. Potete"
     " ripristinare?", "manutenzione"),
    # a question about an earlier request still unhandled is a reminder
    ("Vorrei sapere a che punto è la mia segnalazione del 20 febbraio, il lampione è spento.",
     "sollecito"),
    # fault words inside a question about the service
    ("Vorrei sapere quali sono i tempi di intervento per un lampione spento.", "informazione"),
    # nothing to register
    ("Approfitta dello sconto del 30%! Clicca qui.", "da_classificare"),
    ("Buongiorno.", "da_classificare"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), TRAPS)
def test_traps(classify, text, expected):
    assert classify(text).request_type == expected


def test_a_quoted_ticket_number_votes_for_a_reminder(classify):
    verdict = classify("Il lampione è ancora spento.", subject="Re: pratica 2026/000777")
    assert verdict.request_type == "sollecito"
    assert verdict.ticket_refs == ("2026/000777",)
    assert any(h.rule == "request_type.quoted_ticket" for h in verdict.hits)


def test_the_decision_and_its_evidence_are_recorded(classify):
    verdict = classify("Vi sollecito per il lampione di via Roma.")
    hit = next(h for h in verdict.hits if h.rule == "sollecito.dichiarato")
    assert (hit.field, hit.value, hit.evidence) == ("request_type", "sollecito", "sollecito")
    assert any(h.rule == "request_type.decision" and h.value == "sollecito" for h in verdict.hits)


def test_an_undecided_message_says_so(classify):
    verdict = classify("Buongiorno.")
    assert [h.rule for h in verdict.hits if h.field == "request_type"] == [
        "request_type.not_confident"
    ]


def test_matching_tolerates_missing_accents_and_capitals(classify):
    assert classify("GIA SEGNALATO IL LAMPIONE SPENTO").request_type == "sollecito"
    assert classify("gia' segnalato il lampione spento").request_type == "sollecito"
