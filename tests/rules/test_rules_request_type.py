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
    # faults in everyday, regional and telegraphic words
    ("Il lampione sotto casa s'è stutato da martedì.", "manutenzione"),
    ("la lampada del giardino pubblico nun s'appiccia cchiù", "manutenzione"),
    ("lampione davanti al 4 di via Po: non da piu luce", "manutenzione"),
    ("Il lampione in fondo alla via è morto.", "manutenzione"),
    ("C'è un cavo che pende dal lampione sopra il parcheggio.", "manutenzione"),  # via urgency
    ("Stanotte hanno portato via le lampade dai pali del parco.", "manutenzione"),  # via crime
    # a fault report with an aside about an operator stays a fault report
    ("Due lampioni spenti in via Roma. Al telefono siete stati sbrigativi, ma l'importante è"
     " che veniate a ripararli.", "manutenzione"),
    # "ho già" is a reminder only with a verb of contacting us
    ("Il palo è piegato, ho già messo un cono davanti per avvisare i passanti.", "manutenzione"),
    ("Ho già scritto per questo lampione, è sempre spento.", "sollecito"),
    # reminders without the word: time passed, nobody came, a promise not kept
    ("È passata una settimana dalla mia mail e il lampione di via Po è ancora spento.",
     "sollecito"),
    ("Per il lampione di via Po non è venuto nessuno.", "sollecito"),
    ("Mi avevano detto che entro venerdì veniva la squadra: lampione ancora spento.",
     "sollecito"),
    ("a dieci giorni dalla presa in carico le lampade non sono ancora state sostituite",
     "sollecito"),
    # complaints: the crew's work, manners, a no-show
    ("Dopo la vostra riparazione il lampione è spento come prima. Che lavoro è?", "reclamo"),
    ("La squadra doveva venire alle 8 ma non si è presentata e nessuno ci ha avvisati.",
     "reclamo"),
    # a supplier's payment reminder is not our «sollecito»
    ("Sollecito di pagamento: la fattura n. 12 del 31/01 risulta insoluta.", "da_classificare"),
    # information requests phrased as requests for documents
    ("Si chiede a codesta Ditta di trasmettere l'elenco dei punti luce.", "informazione"),
    ("Mi sapete dire se il lampione del cortile è vostro?", "informazione"),
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


def test_danger_and_crime_count_as_a_fault_but_do_not_add_to_one(classify):
    verdict = classify("Il cavo penzola dal palo fino al marciapiede.")
    assert verdict.request_type == "manutenzione"
    assert any(h.rule == "request_type.danger" for h in verdict.hits)
    # a reminder about the same danger still wins on its own words
    reminder = classify("Vi ho già telefonato ieri: il palo sta per cadere e nessuno è venuto.")
    assert (reminder.request_type, reminder.urgency) == ("sollecito", "emergenza")


def test_matching_tolerates_missing_accents_and_capitals(classify):
    assert classify("GIA SEGNALATO IL LAMPIONE SPENTO").request_type == "sollecito"
    assert classify("gia' segnalato il lampione spento").request_type == "sollecito"


TUNED = [
    # a fault talked about in general is no fault reported
    ("Vorrei chiedervi quanti pali vengono abbattuti ogni anno.", "informazione"),
    ("Entro quanto tempo intervenite su un palo abbattuto?", "informazione"),
    ("Mi chiedevo: chi dovrei chiamare se vedo un cavo a terra?", "informazione"),
    # thanks, explanations demanded, a careless job in idioms
    ("Volevamo solo ringraziarvi per la gentilezza dei tecnici.", "da_classificare"),
    ("Siete arrivati dopo quattro ore, è inaccettabile: chiedo spiegazioni.", "reclamo"),
    ("I lampioni nuovi fanno una luce accecante, un lavoro fatto coi piedi.", "reclamo"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), TUNED)
def test_tuned_request_types(classify, text, expected):
    assert classify(text).request_type == expected
