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


# the batch of rules tuned on the u1xx corpus messages: new wordings of a danger, the traps beside
# them, and what is urgent without being an emergency
MORE_DANGER = [
    ("Il sostegno risulta in precarie condizioni di stabilità.", "emergenza"),
    ("Il palo è sbilanciato verso la carreggiata con rischio di rovina.", "emergenza"),
    ("Il lampione pende sopra le auto in sosta.", "emergenza"),
    ("Il palo ora è a 40 gradi sul marciapiede.", "emergenza"),
    ("Dalla colonnina escono delle faville.", "emergenza"),
    ("La cassetta del lampione sta andando a fuoco.", "emergenza"),
    ("Mi sono appoggiato al palo e ho sentito la corrente.", "emergenza"),
    ("I conduttori distaccati giacciono sul marciapiede.", "emergenza"),
    ("Il cavo della luce è di traverso sulla strada.", "emergenza"),
    ("Il palo del giardino sta in piedi per miracolo.", "emergenza"),
]

NOT_AN_EMERGENCY = [
    # the danger is over: removed, fixed, thanked for, answered late
    ("Il palo caduto in via Po: la vostra squadra lo ha rimosso subito.", "ordinaria"),
    ("I fili erano a terra. I tecnici sono arrivati dopo tre ore.", "ordinaria"),
    ("Il palo abbattuto è stato tolto, ora manca solo la luce.", "ordinaria"),
    ("Il vecchio palo smontato è ancora per terra in cortile.", "ordinaria"),
    # dangers talked about in general: the service, numbers, a footer, the news
    ("Come gestite i pali pericolanti nei giorni festivi?", "ordinaria"),
    ("Entro quanto tempo rialzate un palo caduto?", "ordinaria"),
    ("Per segnalare situazioni di pericolo (cavi scoperti) chiamate il numero verde.",
     "ordinaria"),
    ("Ho letto di un lampione caduto su un'auto a Modena.", "ordinaria"),
    # word senses
    ("Lampione spento in largo delle Fiamme Gialle.", "ordinaria"),
    ("Dopo la scossa di terremoto il lampione è spento.", "ordinaria"),
]  # fmt: skip

URGENT = [
    ("Lo sportello del quadro della luce è aperto, dentro è tutto chiuso dal pannello.",
     "urgente"),
    ("Il palo ha la base ammaccata ma è stabile.", "urgente"),
    ("Il palo ha una piccola ammaccatura alla base.", "ordinaria"),
    ("Si segnala lo spegnimento totale dell'impianto di via Po.", "urgente"),
    ("Nessuno dei lampioni del parco si accende.", "urgente"),
    ("Via Manzoni tutta spenta da ieri.", "urgente"),
    ("I lampioni di via Bixio sono tutti spenti.", "urgente"),
    ("Hanno tolto il palo e il moncone con i ferri che sporgono è senza segnalazione.",
     "urgente"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), MORE_DANGER + NOT_AN_EMERGENCY + URGENT)
def test_tuned_wordings_and_traps(classify, text, expected):
    assert classify(text).urgency == expected


def test_a_danger_said_over_still_counts_when_a_live_one_is_left(classify):
    text = "Il palo è stato rimosso ma i cavi scoperti sono rimasti sul marciapiede."
    assert classify(text).urgency == "emergenza"
