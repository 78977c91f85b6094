"""Crime flag: thefts, break-ins, vandalism, assaults; negated mentions and fears do not flag."""

from __future__ import annotations

import pytest

FLAGGED = [
    "Nella notte sono stati rubati i cavi di rame, la via è al buio.",
    "Ignoti hanno asportato i cavi della linea di illuminazione.",
    "Il quadro elettrico è stato forzato e lo sportello è divelto.",
    "Hanno scassinato la centralina della luce.",
    "Atto vandalico nel parco: tre lampioni spaccati.",
    "Il lampione è stato danneggiato a sassate da un gruppo di ragazzi.",
    "Il quadro è stato bruciato intenzionalmente.",
    "Il vostro tecnico è stato aggredito da un automobilista.",
    # in other words
    "Sono spariti i cavi di rame lungo tutta la provinciale.",
    "I cavi li hanno tagliati e se li sono portati via.",
    "Qualcuno ha tagliato il lucchetto dell'armadio stradale.",
    "Un gruppo di ragazzi ubriachi ieri notte ha divelto lo sportello del palo.",
    "Hanno tirato dei sassi contro il lampione fino a spaccarlo.",
    "L'operaio è stato minacciato da un passante.",
    "Nel sottopasso buio mi hanno scippato la borsa.",
]
NOT_FLAGGED = [
    "Non si tratta di furto: il cavo si è staccato per il vento.",
    "Il lampione è rotto, non si tratta di un atto vandalico ma di un ramo caduto.",
    "Lo sportello è aperto ma non è stato forzato.",
    "La zona è buia e abbiamo paura dei furti negli appartamenti.",
    "Il lampione di via Roma è spento da tre giorni.",
    "Nessuno l'ha forzato: la serratura si è rotta da sola.",
    "In caso di furto dei cavi chi dobbiamo avvisare?",
    "Il palo minaccia di cadere sulla strada.",
    "I vostri ragazzi hanno rotto il vaso sul mio balcone.",
]


@pytest.mark.parametrize("text", FLAGGED)
def test_crimes_are_flagged(classify, text):
    verdict = classify(text)
    assert verdict.criminal_event
    assert any(h.field == "criminal_event" for h in verdict.hits)


@pytest.mark.parametrize("text", NOT_FLAGGED)
def test_negated_or_unrelated_mentions_are_not(classify, text):
    assert not classify(text).criminal_event


def test_a_crime_still_records_the_technical_damage(classify):
    verdict = classify("Sono stati rubati i cavi di rame, tutta la strada è al buio. Ripristinate.")
    assert (verdict.criminal_event, verdict.request_type, verdict.urgency) == (
        True,
        "manutenzione",
        "urgente",
    )
