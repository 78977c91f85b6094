"""Urgency: danger signs make an emergency, darkness of a whole place an urgency; negations hold."""

from __future__ import annotations

import pytest

CASES = [
    ("Un'auto ha abbattuto il palo IP-006701, è steso sulla carreggiata.", "emergenza"),
    ("Il palo è molto inclinato e rischia di cadere sulla strada.", "emergenza"),
    ("Alla base del palo ci sono i fili elettrici a vista.", "emergenza"),
    ("Dal lampione escono scintille e si sente odore di bruciato.", "emergenza"),
    ("Il quadro elettrico è aperto e si vedono i cavi scoperti.", "emergenza"),
    ("Tutta via Leopardi è al buio da ieri sera.", "urgente"),
    ("L'attraversamento pedonale davanti alla scuola è completamente al buio.", "urgente"),
    ("La rotatoria di via Matteotti è priva di illuminazione.", "urgente"),
    ("Il lampione davanti al civico 8 è spento.", "ordinaria"),
    ("Il lampione IP-010010 lampeggia tutta la notte.", "ordinaria"),
    ("Vorrei sapere gli orari dello sportello.", "ordinaria"),
    # falling, swaying, hanging, in other words
    ("Il palo traballa ogni volta che passa un camion.", "emergenza"),
    ("Temo che il lampione venga giù alla prossima raffica.", "emergenza"),
    ("Il palo urtato è piegato sulla carreggiata.", "emergenza"),
    ("Il faro del campetto è appeso solo al cavo.", "emergenza"),
    ("Il palo si piega sempre più verso le case.", "emergenza"),
    # live metal, heat, water in a panel
    ("Toccando il palo ho sentito la scossa.", "emergenza"),
    ("La cassetta del quadro è bollente e puzza di bruciato.", "emergenza"),
    ("Il quadro elettrico del parcheggio è allagato.", "emergenza"),
    ("Dentro l'armadio aperto si vedono i morsetti.", "emergenza"),
    # darkness of a whole place in other words
    ("I lampioni sono spenti da piazza Verdi fino al ponte.", "urgente"),
    ("Stasera è tutto buio dal cimitero al paese.", "urgente"),
    ("Nella scuola le luci di emergenza della scala non funzionano.", "urgente"),
    ("Il chiusino del pozzetto della luce è sollevato e ci si può infilare un piede.", "urgente"),
]

NEGATED = [
    ("Lo sportello si è staccato. Non ci sono cavi scoperti, la morsettiera è chiusa.",
     "ordinaria"),
    ("Il palo è un po' storto, non sembra pericoloso.", "ordinaria"),
    ("Il palo è inclinato. Non c'è nessun pericolo, ma controllate.", "ordinaria"),
    ("Il palo è stato urtato ma resta dritto: nessun pericolo.", "ordinaria"),
    ("Nessun pericolo immediato, ma l'intera via Carducci è al buio.", "urgente"),
    ("Non c'è fumo né scintille, il lampione è solo spento.", "ordinaria"),
    ("In caso di palo abbattuto o cavi scoperti chi devo chiamare?", "ordinaria"),
    # a street name is no fallen pole, one doorstep is no street, a part is no pole
    ("Tre lampioni spenti in piazza dei Caduti.", "ordinaria"),
    ("Il lampione è spento e la sera è tutto buio davanti al cancello.", "ordinaria"),
    ("Il vetro del lampione è caduto a terra.", "ordinaria"),
    # negations after the noun, and in other words
    ("Fumo no, fili scoperti no: il lampione si accende e si spegne.", "ordinaria"),
    ("Il palo è stato urtato ma non si muove, niente pericolo.", "ordinaria"),
    ("Il coperchio del pozzetto è crepato ma al suo posto.", "ordinaria"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_urgency_levels(classify, text, expected):
    assert classify(text).urgency == expected


@pytest.mark.parametrize(("text", "expected"), NEGATED)
def test_negated_danger_is_no_emergency(classify, text, expected):
    assert classify(text).urgency == expected


def test_a_guard_covers_every_sentence_its_match_touches(classify):
    # the match runs from the subject into the body, where the question is asked
    verdict = classify("Vorrei sapere se i pali abbattuti verranno rimessi.", subject="pali")
    assert verdict.urgency == "ordinaria"


def test_the_negation_guards_only_its_own_sentence(classify):
    text = "Non ci sono cavi scoperti alla base. Sul palo di fronte invece i fili penzolano."
    assert classify(text).urgency == "emergenza"
