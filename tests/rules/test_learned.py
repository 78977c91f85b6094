"""The learned stage (`rules.learned`): it loads and scores, is deterministic, decides what the
rules leave `da_classificare`, never makes an emergency alone and never undoes the rules'
emergencies or crimes, adds a crime only when very sure, is switched off by weight 0, is trained
on the corpus as it is now, and leaves a hit that explain shows."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import pytest

import rules
from rules import learned
from rules.engine import Document
from rules.report import load_corpus

ROOT = Path(__file__).resolve().parents[2]
# a request for a document: no rule of request_type.toml says informazione without a question
CERTIFICATE = rules.RuleInput(
    "dichiarazione",
    "Spett.le ditta, ci serve copia del certificato di collaudo dell'impianto di illuminazione "
    "del parcheggio comunale per la pratica in corso.",
)


def training_script():
    """`scripts/train_learned.py` as a module (it needs scikit-learn only to train)."""
    spec = importlib.util.spec_from_file_location(
        "train_learned", ROOT / "scripts/train_learned.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def verdict(doc: rules.RuleInput, ruleset: rules.RuleSet) -> rules.Verdict:
    return rules.classify(doc, ruleset, rules.DEFAULT_POLE_FORMATS)


def test_the_shipped_model_loads_and_scores(ruleset):
    model = ruleset.learned
    assert model is not None and model is learned.load()
    assert set(model.classes["request_type"]) == set(rules.REQUEST_TYPES)
    assert set(model.classes["urgency"]) == set(rules.URGENCIES)
    read = model.probabilities("il lampione di via roma e spento da tre giorni")
    assert read["request_type"]["manutenzione"] > 0.5
    assert all(sum(p.values()) == pytest.approx(1.0) for p in read.values())
    assert learned.MODEL_FILE.stat().st_size < 300_000  # a table of the rules, not a blob


def test_features_and_scores_are_deterministic_and_case_blind(ruleset):
    text = "Il PALO di via Verdi è piegato, IP-145117"
    documents = [Document.of(rules.RuleInput("", t)) for t in (text, text, text.upper())]
    readings = [learned.text_of(d) for d in documents]
    assert len(set(readings)) == 1
    assert {"palo", "piega", "palo di", "#6"} <= learned.features(readings[0])
    scores = [ruleset.learned.probabilities(r) for r in readings]
    assert scores[0] == scores[1] == scores[2]


def test_it_decides_what_the_rules_leave_undecided(ruleset):
    alone = dataclasses.replace(ruleset, learned=None)
    assert verdict(CERTIFICATE, alone).request_type == "da_classificare"
    combined = verdict(CERTIFICATE, ruleset)
    assert combined.request_type == "informazione"
    (hit,) = [h for h in combined.hits if h.rule == "request_type.learned"]
    assert hit.value == "informazione" and hit.evidence.startswith("p 0.")


def sure_of(field: str, value: str) -> learned.Model:
    """A model that reads every text as `value` of `field`, with probability about 1."""
    classes = {
        "request_type": rules.REQUEST_TYPES,
        "urgency": rules.URGENCIES,
        "criminal_event": ("false", "true"),
    }
    intercepts = tuple(
        20.0 if (name, v) == (field, value) else 0.0 for name, vs in classes.items() for v in vs
    )
    return learned.Model(classes, intercepts, {})


def test_an_emergency_read_by_the_model_is_at_most_urgent(ruleset):
    sure = dataclasses.replace(ruleset, learned=sure_of("urgency", "emergenza"))
    text = rules.RuleInput("", "Il lampione di via Po è spento.")
    assert verdict(text, dataclasses.replace(ruleset, learned=None)).urgency == "ordinaria"
    got = verdict(text, sure)
    assert got.urgency == "urgente" and not got.criminal_event
    # a reassurance the rules found keeps the model out
    calm = verdict(
        rules.RuleInput("", "Nessun pericolo, il lampione di via Po è solo spento."), sure
    )
    assert calm.urgency == "ordinaria"
    assert any(h.evidence.endswith("outweighed by the rules") for h in calm.hits)


def test_the_model_makes_or_undoes_no_corpus_emergency_and_undoes_no_crime(ruleset):
    """Emergencies stay the rules' both ways (no doubt threshold was safe out of fold: README);
    a crime the model adds says so by its hit and by its probability."""
    alone = dataclasses.replace(ruleset, learned=None)
    for path in sorted((ROOT / "tests/corpus").glob("*.toml")):
        for message in load_corpus(path):
            by_rules, combined = verdict(message.doc, alone), verdict(message.doc, ruleset)
            assert (combined.urgency == "emergenza") == (by_rules.urgency == "emergenza")
            if combined.criminal_event != by_rules.criminal_event:
                assert combined.criminal_event, message.id  # added, never removed
                (hit,) = [h for h in combined.hits if h.rule == "criminal_event.learned"]
                assert float(hit.evidence.split()[1].rstrip(",")) >= 0.98, message.id


# cable thieves at work, in words no crime rule reads (cut, not «rubati» nor «portati via»)
CUT_CABLES = rules.RuleInput(
    "lampioni senza cavi",
    "Stanotte in via dei Mille qualcuno ha aperto i pozzetti e ha tagliato i cavi dei lampioni, "
    "stamattina c'erano solo i monconi. Tutta la via è al buio.",
)


def test_a_crime_the_rules_miss_is_added_when_the_model_is_very_sure(ruleset):
    alone = dataclasses.replace(ruleset, learned=None)
    assert not verdict(CUT_CABLES, alone).criminal_event
    got = verdict(CUT_CABLES, ruleset)
    assert got.criminal_event
    (hit,) = [h for h in got.hits if h.rule == "criminal_event.learned"]
    assert hit.value == "true" and hit.evidence.startswith("p 1.00, +1")
    # a plain fault is not one: the model is not sure of a crime there
    fault = rules.RuleInput("", "Il lampione davanti al civico 12 di via Po è spento da lunedì.")
    assert not verdict(fault, ruleset).criminal_event


def test_a_crime_held_back_by_a_scope_keeps_the_model_out(ruleset):
    """«se mi rubano i cavi…» asks what to do, it reports nothing: the rules' scope says so, and
    a model sure of a crime does not overturn it."""
    sure = dataclasses.replace(ruleset, learned=sure_of("criminal_event", "true"))
    question = rules.RuleInput(
        "", "Buongiorno, se di notte rubano i cavi dei lampioni della mia via, chi devo chiamare?"
    )
    got = verdict(question, sure)
    assert any(h.rule == "scope.silenced" and h.field == "criminal_event" for h in got.hits)
    assert not got.criminal_event
    (hit,) = [h for h in got.hits if h.rule == "criminal_event.learned"]
    assert hit.evidence.endswith("outweighed by the rules")
    # the same model adds a crime to a text no crime rule reads at all
    assert verdict(rules.RuleInput("", "Il lampione di via Po è spento."), sure).criminal_event


def test_a_crime_the_rules_found_is_never_removed(ruleset):
    never = dataclasses.replace(ruleset, learned=sure_of("criminal_event", "false"))
    theft = rules.RuleInput("", "Stanotte hanno rubato i cavi di rame dei lampioni di via Po.")
    assert verdict(theft, never).criminal_event


def test_crime_weight_zero_switches_the_lift_off(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text("[decision.criminal_event]\nlearned_weight = 0\n", encoding="utf-8")
    off = rules.load_ruleset([site])
    got = verdict(CUT_CABLES, off)
    assert not got.criminal_event
    assert not [h for h in got.hits if h.rule == "criminal_event.learned"]


def test_weight_zero_switches_it_off(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text(
        "[decision.request_type]\nlearned_weight = 0\n[decision.urgency]\nlearned_weight = 0\n"
        "[decision.criminal_event]\nlearned_weight = 0\n",
        encoding="utf-8",
    )
    off = rules.load_ruleset([site])
    alone = dataclasses.replace(rules.load_ruleset(), learned=None)
    assert verdict(CERTIFICATE, off) == verdict(CERTIFICATE, alone)
    messages = load_corpus(ROOT / "tests/corpus/blind10.toml")
    assert all(verdict(m.doc, off) == verdict(m.doc, alone) for m in messages)


@pytest.mark.parametrize("field", ["urgency", "criminal_event"])
def test_a_learned_weight_must_be_a_number(tmp_path, field):
    site = tmp_path / "site.toml"
    site.write_text(f'[decision.{field}]\nlearned_min_p = "high"\n', encoding="utf-8")
    with pytest.raises(rules.RulesError, match="learned_min_p must be a number"):
        rules.load_ruleset([site])


def test_the_model_is_trained_on_the_corpus_as_it_is():
    """Fails when a corpus file changed and the model was not trained again (`python
    scripts/train_learned.py`); the never-tuned blind batches are never in it."""
    script = training_script()
    stored = json.loads(learned.MODEL_FILE.read_text(encoding="utf-8"))["corpus"]
    files = script.training_files()
    assert stored["sha256"] == script.digest(files), "run scripts/train_learned.py"
    assert stored["files"] == [p.name for p in files]
    assert not {"holdout.toml", "blind11.toml", "blind12.toml", "blind13.toml"} & set(
        stored["files"]
    )


def test_explain_shows_the_learned_hit(ruleset):
    hits = verdict(CERTIFICATE, ruleset).hits
    lines = [f"{h.field} {h.value} {h.rule}: {h.evidence!r}" for h in hits]
    assert any(
        line.startswith("request_type informazione request_type.learned: 'p 0.") for line in lines
    )
    lines = [
        f"{h.field} {h.value} {h.rule}: {h.evidence!r}" for h in verdict(CUT_CABLES, ruleset).hits
    ]
    assert "criminal_event true criminal_event.learned: 'p 1.00, +1'" in lines
