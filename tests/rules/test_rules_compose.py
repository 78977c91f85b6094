"""The compositional danger rule: an object of the plant near a dangerous state, unless negated.

Wordings here are absent from the corpus files and from the phrase rules: they pass only if the
object and state families compose. The engine part is tested on a small rule of its own.
"""

from __future__ import annotations

import pytest

import rules
from rules import engine

UNSEEN_DANGER = [
    "Il sostegno della luce si è ribaltato sul vialetto.",
    "Il braccio del lampione ciondola sopra la fermata.",
    "Dal palo spuntano conduttori sguainati.",
    "Il cavo è squarciato e la guaina non c'è più.",
    "Appoggiandomi al palo mi sono preso la corrente.",
    "La centralina della luce è rovente e si sente odore acre.",
    "Il lampione della rotonda fumiga da stamattina.",
    "Il palo IP-000777 sta cascando verso le auto parcheggiate.",
    "Il sostegno è tutto accartocciato sopra il marciapiede della scuola.",
]

NOT_DANGER = [
    # negated in the sentence of the state
    "Nessun palo ribaltato, nessun cavo a terra: solo due lampioni spenti.",
    "Il sostegno non è ribaltato, è solo spento.",
    "Il lampione è leggermente inclinato verso il marciapiede.",
    "I cavi nel pozzetto sono scoperti ma ben isolati.",
    # a question, not a report
    "Chi bisogna chiamare quando un sostegno si ribalta?",
    # the object without a state, the state without an object
    "Il sostegno del lampione di via Po è arrugginito.",
    "Il cassonetto della carta è ribaltato sulla strada.",
    "Ieri sera fumiga il camino del vicino.",
    # a street name, a part of the fixture
    "Due lampioni spenti in via dei Caduti.",
    "Dal lampione è caduta la calotta di plastica.",
]


@pytest.mark.parametrize("text", UNSEEN_DANGER)
def test_an_object_in_a_dangerous_state_is_an_emergency(classify, text):
    assert classify(text).urgency == "emergenza"


@pytest.mark.parametrize("text", NOT_DANGER)
def test_negated_or_incomplete_pairs_do_not_compose(classify, text):
    # the phrase rules are judged elsewhere: some still fire on these ("a terra", "scoperti")
    assert not [h for h in classify(text).hits if h.rule.startswith("emergenza.oggetto")]


def test_the_hit_names_the_object_and_the_state(classify):
    hits = [h for h in classify(UNSEEN_DANGER[0]).hits if h.rule.startswith("emergenza.oggetto")]
    assert hits and hits[0].evidence.startswith("sostegno + ribaltato:")


def test_a_bent_pole_is_an_emergency_only_near_people(classify):
    assert classify("Il palo è piegato verso il parco giochi.").urgency == "emergenza"
    assert classify("Il palo in fondo al campo è piegato.").urgency == "ordinaria"


def test_a_reassurance_in_another_sentence_cancels_the_sign(classify):
    text = "Il lampione si è ribaltato sul prato. Nessun pericolo, il prato è recintato."
    assert classify(text).urgency != "emergenza"


def test_the_pair_must_share_a_sentence(classify):
    text = "Vi scrivo per il palo IP-000123. Il vento ha ribaltato il cassonetto."
    assert classify(text).urgency != "emergenza"


def _rule(tmp_path, body: str) -> engine.Rule:
    path = tmp_path / "compose.toml"
    path.write_text(
        '[[rule]]\nname = "x.compose"\nfield = "urgency"\nvalue = "emergenza"\n' + body,
        encoding="utf-8",
    )
    ruleset = rules.load_ruleset([path])
    return next(r for r in ruleset.rules if r.name == "x.compose")


def test_window_negation_and_boost(tmp_path):
    rule = _rule(
        tmp_path,
        "weight = 1\nboost_weight = 2\nwindow = 10\npatterns = ['\\bpalo\\b']\n"
        "near = ['\\bstorto\\b']\nnegations = ['\\bnon\\b']\nboost = ['\\bbambini\\b']\n",
    )

    def fire(text: str) -> engine.Fired | None:
        return engine.compose_match(rule, engine.Document.of(rules.RuleInput("", text)))

    assert fire("il palo storto").weight == 1.0
    assert fire("il palo storto vicino ai bambini").weight == 3.0
    assert fire("il palo non storto") is None
    assert fire("il palo di quella strada lunga storto") is None  # beyond the window
    assert fire("il palo. Storto il cartello") is None  # another sentence


def test_compositional_keys_need_near(tmp_path):
    with pytest.raises(rules.RulesError, match="needs `near`"):
        _rule(tmp_path, "patterns = ['x']\nboost = ['y']\n")


def test_a_large_text_is_judged_on_its_danger(classify):
    # About 100 KB; how long it takes is timed by bench/pathological_inputs.py.
    chunk = "Il palo storto e il cavo, non scoperto, della via " * 2000
    assert classify(chunk + "Il sostegno si è ribaltato.").urgency == "emergenza"
