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
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_urgency_levels(classify, text, expected):
    assert classify(text).urgency == expected


@pytest.mark.parametrize(("text", "expected"), NEGATED)
def test_negated_danger_is_no_emergency(classify, text, expected):
    assert classify(text).urgency == expected


def test_the_negation_guards_only_its_own_sentence(classify):
    text = "Non ci sono cavi scoperti alla base. Sul palo di fronte invece i fili penzolano."
    assert classify(text).urgency == "emergenza"
