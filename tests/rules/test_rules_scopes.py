"""Scopes, negation reach, precedence and carried objects, on realistic Italian requests.

Each test is a pattern of issue #18: a fault named inside a question, a danger in a hypothesis
or in a past the sender says is over, a reassurance that must not cancel a second, real danger,
an explicit complaint outvoted by loose reminder cues, an object named in one sentence and
described in the next.
"""

from __future__ import annotations

import pytest

import rules
from rules.engine import fold
from rules.scopes import find


def scopes_of(text: str) -> list[tuple[str, str]]:
    return [(text[a:b].strip(), name) for a, b, name in find(fold(text)).spans]


def test_a_question_is_scoped_from_its_interrogative_to_the_mark():
    text = "Mi sono trasferito. Come si segnala un guasto a un lampione?"
    assert scopes_of(text) == [("Come si segnala un guasto a un lampione?", "domanda")]


def test_a_rhetorical_question_or_a_reminder_question_is_no_question_scope():
    assert scopes_of("Il palo sta per cadere, quando venite?") == []
    assert scopes_of("Ma vi rendete conto che il palo cade?") == []
    assert scopes_of("Com'è possibile?") == []


def test_a_hypothesis_runs_to_the_end_of_the_sentence_or_to_a_contrast():
    text = "Se dovessero staccarsi i fili sarebbe un pericolo, ma per ora sta bene."
    assert scopes_of(text) == [("Se dovessero staccarsi i fili sarebbe un pericolo,", "ipotesi")]


def test_an_indirect_question_is_no_hypothesis():
    assert scopes_of("Un cavo è a terra, non so se c'è ancora corrente.") == []


def test_the_past_is_history_only_where_the_sender_says_it_is_over():
    over = "La settimana scorsa via Trieste era tutta al buio, ora è tutto a posto."
    assert scopes_of(over) == [("La settimana scorsa via Trieste era tutta al buio,", "passato")]
    assert scopes_of("Da ieri via Trieste era tutta al buio e lo è ancora.") == []


@pytest.mark.parametrize(
    ("text", "kind", "level"),
    [
        ("Buongiorno, come si fa a segnalare un lampione rotto di notte?", "informazione", None),
        (
            "Se vedo le scintille da un lampione devo chiamare voi o l'Enel?",
            "informazione",
            "ordinaria",
        ),
        (
            "Vorrei sapere se avete un allarme: se qualcuno dovesse rubare i cavi resteremmo"
            " al buio.",
            "informazione",
            "ordinaria",
        ),
        (
            "Ieri il palo era caduto sulla strada, stamattina l'avete già rimosso. Grazie.",
            None,
            "ordinaria",
        ),
    ],
)
def test_states_in_a_question_a_hypothesis_or_a_past_that_is_over_are_not_reported(
    classify, text, kind, level
):
    verdict = classify(text)
    if kind:
        assert verdict.request_type == kind
    if level:
        assert verdict.urgency == level
    assert verdict.request_type != "manutenzione"
    assert not verdict.criminal_event


def test_a_hypothetical_theft_is_no_crime_and_a_real_one_without_the_word_is(classify):
    assert not classify("Se qualcuno dovesse rubare i cavi restiamo al buio?").criminal_event
    assert classify("Hanno tagliato i cavi e se li sono portati via.").criminal_event


def test_a_reassurance_cancels_what_comes_before_it_not_a_second_danger_after_it(classify):
    first = "Il lampione di via Pola ha il vetro sporco, niente di pericoloso."
    second = " Invece in via Fiume un palo spezzato alla base sta venendo giù sulla fermata."
    assert classify(first).urgency == "ordinaria"
    assert classify(first + second).urgency == "emergenza"
    assert classify("Il palo è inclinato. Non sembra pericoloso.").urgency != "emergenza"


def test_an_explicit_complaint_outranks_a_loose_reminder_cue(classify):
    text = (
        "Sporgo reclamo formale: come già segnalato verbalmente al caposquadra, la vostra squadra "
        "ha lasciato un rotolo di cavo nel mio giardino."
    )
    verdict = classify(text)
    assert verdict.request_type == "reclamo"
    assert any(h.rule == "request_type.outranked" for h in verdict.hits)


def test_a_wind_load_is_no_reminder_and_a_report_to_the_council_is_no_earlier_request(classify):
    wind = "Il palo subisce una forte sollecitazione dal vento e rischia di cadere sulla strada."
    assert classify(wind).request_type == "manutenzione"
    council = (
        "L'ho già segnalato al Comune, mi hanno detto di scrivere a voi: il lampione è spento."
    )
    assert classify(council).request_type == "manutenzione"


def test_an_object_named_alone_is_carried_to_the_next_sentence(classify):
    verdict = classify(
        "Il lampione all'ingresso della scuola. È inclinato verso il cancello e si muove."
    )
    assert verdict.urgency == "emergenza"
    assert classify(
        "Vi scrivo per il palo IP-000123. Il vento ha ribaltato il cassonetto."
    ).urgency != ("emergenza")


def test_explain_names_the_scope_of_a_question(classify):
    verdict = classify("Chi decide dove mettere i lampioni nuovi?")
    assert verdict.request_type == "informazione"
    question = next(h for h in verdict.hits if h.rule == "request_type.question")
    assert question.evidence.startswith("[domanda] ")


def test_a_rule_names_only_known_scopes(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text(
        '[[rule]]\nname = "x"\nfield = "urgency"\nvalue = "emergenza"\n'
        "patterns = ['palo']\noutside = ['futuro']\n",
        encoding="utf-8",
    )
    with pytest.raises(rules.RulesError, match="outside"):
        rules.load_ruleset([path])


def test_a_hazard_for_another_body_is_a_report_with_the_urgency_of_what_it_is(classify):
    gas = classify("All'incrocio con via Dante c'è un forte odore di gas che esce da un tombino.")
    assert (gas.competence, gas.request_type, gas.urgency) == (
        "vigili_del_fuoco",
        "manutenzione",
        "emergenza",
    )
    floor = next(h for h in gas.hits if h.rule == "urgency.floor")
    assert floor.evidence.startswith("competenza.vvf.gas")


def test_a_question_about_a_hazard_for_another_body_is_no_hazard(classify):
    verdict = classify("Se sento odore di gas in strada, chi devo chiamare?")
    assert verdict.urgency == "ordinaria"
    assert verdict.request_type == "informazione"


def test_floors_name_values_of_the_field(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('field = "urgency"\n[decision.urgency.floors]\n"x" = "subito"\n', "utf-8")
    with pytest.raises(rules.RulesError, match="floors"):
        rules.load_ruleset([path])


def test_explain_says_which_scope_held_a_rule_back(classify):
    verdict = classify("Se vedo le scintille da un lampione devo chiamare voi o l'Enel?")
    held = [h for h in verdict.hits if h.rule == "scope.silenced" and h.field == "urgency"]
    assert held and held[0].evidence.startswith(("[ipotesi] emergenza.", "[domanda] emergenza."))
    assert verdict.urgency == "ordinaria"
