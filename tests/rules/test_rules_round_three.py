"""Issue #18, round three: the patterns blind9 showed, each from a realistic text (in other words
than blind9's) and its near miss (README, Classification). Labels are the meaning of the text,
not the rules' output."""

from __future__ import annotations

import pytest

from rules.scopes import REMOTE, find


def test_a_remote_past_is_a_scope_of_its_own():
    text = "l'anno scorso hanno rubato i cavi, ora il lampione sfarfalla. ieri hanno rubato i cavi."
    spans = [(text[s:e], name) for s, e, name in find(text).spans]
    assert spans == [("l'anno scorso hanno rubato i cavi,", REMOTE)]
    assert not find("vi ho scritto il 3 novembre e il 16 novembre").spans  # a date, not remote


@pytest.mark.parametrize(
    "text",
    [
        "Anni fa ci avevano rubato i cavi e avete rifatto la linea. Ora il lampione sfarfalla.",
        "Si chiede la data di ripristino della linea dopo il furto di cavi subito nel maggio 2024.",
    ],
)
def test_a_theft_of_long_ago_is_history_not_a_crime(classify, text):
    assert not classify(text).criminal_event


def test_a_theft_told_today_is_still_a_crime(classify):
    assert classify("Stanotte hanno rubato i cavi dei lampioni di via Po.").criminal_event


@pytest.mark.parametrize(
    "text",
    [
        "Stanotte qualcuno si è preso il rame della linea: tutta la provinciale è spenta.",
        "Nella notte sono stati tagliati e rimossi cento metri di cavo. La linea è interrotta.",
    ],
)
def test_the_lines_cables_taken_are_a_crime_and_urgent(classify, text):
    verdict = classify(text)
    assert verdict.criminal_event and verdict.urgency == "urgente"
    assert any(h.rule == "urgency.floor" and "crime.furto_cavi" in h.evidence for h in verdict.hits)


def test_lamps_taken_are_a_crime_but_not_urgent(classify):
    verdict = classify("Dal sagrato sono sparite le due plafoniere, restano i pali.")
    assert verdict.criminal_event and verdict.urgency == "ordinaria"


@pytest.mark.parametrize(
    "text, subject",
    [
        ("Un cavo pende dal palo fino a terra. Il tecnico dice che è quello della fibra.", ""),
        ("Si è spezzato ed è a terra vicino al lampione. Niente linea da ieri.", "cavo telefono"),
        ("Dal lampione scende a terra un filo. Non è un filo elettrico, è dell'antenna.", ""),
    ],
)
def test_another_networks_wire_is_no_emergency(classify, text, subject):
    """The cue may come after the danger, in the subject and again in the body: the negative
    vote reaches to the sentence of its last match."""
    assert classify(text, subject).urgency == "ordinaria"


def test_a_live_wire_of_the_plant_beside_a_phone_line_is_still_one(classify):
    text = "Il cavo della luce è a terra e scintilla; quello del telefono è rimasto su."
    assert classify(text).urgency == "emergenza"


@pytest.mark.parametrize(
    "text",
    [
        "Il coperchio alla base del palo non c'è più e si vedono i cavi con i morsetti.",
        "Al palo manca lo sportello: si vedono i fili collegati, davanti all'asilo.",
    ],
)
def test_wires_in_view_after_a_negation_about_another_thing(classify, text):
    """«si vedono» was read only as «si vede»; «non c'è più» is the door's, not the wires'."""
    assert classify(text).urgency == "emergenza"


def test_wires_without_current_are_no_emergency(classify):
    text = "Sono rimasti due fili tagliati in cima al palo. Sono staccati dalla linea."
    assert classify(text).urgency != "emergenza"


def test_the_object_of_one_sentence_is_carried_to_the_next_without_a_subject(classify):
    text = (
        "Il palo del parcheggio è tutto mangiato dalla ruggine alla base. "
        "Con il vento di stamattina ho notato che si muove."
    )
    assert classify(text).urgency == "emergenza"


def test_a_new_subject_in_the_next_sentence_takes_no_object(classify):
    text = "Il lampione del cortile è spento da lunedì. Con il vento la tenda sbatte di notte."
    assert classify(text).urgency == "ordinaria"


@pytest.mark.parametrize(
    "text",
    [
        "Esigo che il lampione davanti alla mia finestra venga spostato.",
        "Il vostro camion ha piegato la mia ringhiera. Le spese sono a carico vostro.",
        "Vi sembra normale aspettare venti giorni per una lampadina?",
        "Sono stufo, mi prendete in giro da un mese.",
        "Avete segnato come chiusa la pratica ma nessuno è venuto.",
        "Ho segnalato cinque volte il lampione di via Isonzo: questo è un reclamo formale.",
        "Che schifo, un servizio scadente.",
    ],
)
def test_complaints_in_plain_words(classify, text):
    assert classify(text).request_type == "reclamo"


@pytest.mark.parametrize(
    "text",
    [
        "Dopo cinque telefonate il lampione di via Isonzo è sempre spento.",
        "Vi avevo scritto per il palo storto. Nessuno lo ha guardato. Quando lo raddrizzate?",
        "il lampione ip 091111 quando lo sistemate? e ankora spento",
    ],
)
def test_reminders_by_count_and_by_when(classify, text):
    assert classify(text).request_type == "sollecito"


@pytest.mark.parametrize(
    "text",
    [
        "Vi riscrivo perché ho dimenticato il civico: il lampione spento è al 12.",
        "Aggiungo alla mail di ieri che anche un altro lampione lampeggia.",
        "Il lampione che avevate sistemato a marzo si è spento di nuovo.",
    ],
)
def test_an_addition_or_a_new_failure_is_a_fault(classify, text):
    assert classify(text).request_type == "manutenzione"


@pytest.mark.parametrize(
    "text",
    [
        "Chiediamo copia del verbale relativo al palo abbattuto in via Tirso.",
        "Il condominio chiede un sopralluogo per valutare un nuovo punto luce nel vialetto.",
        "Il vostro sportello è aperto al pubblico il sabato?",
    ],
)
def test_documents_new_lights_and_offices_are_information(classify, text):
    verdict = classify(text)
    assert verdict.request_type == "informazione" and verdict.urgency == "ordinaria"


def test_a_lone_sign_decides_a_short_message_but_a_question_mark_does_not(classify):
    assert classify("Vergognatevi.").request_type == "reclamo"
    # (a question with content, «Consumano meno?», is information: round four's
    # informazione.domanda_chiusa; a bare "?" still decides nothing)
    assert classify("E quindi?").request_type == "da_classificare"


def test_sardinian_for_out(classify):
    assert classify("su lampioni de sa bia est istudau").request_type == "manutenzione"
