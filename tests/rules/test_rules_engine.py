"""Loading rule files: overrides by name, errors naming file and rule, folding and scopes."""

from __future__ import annotations

from pathlib import Path

import pytest

import rules
from rules.engine import FIELD_VALUES, Document, fold


def write(tmp_path: Path, text: str, name: str = "site.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def classify(ruleset: rules.RuleSet, text: str) -> rules.Verdict:
    return rules.classify(rules.RuleInput("", text), ruleset, rules.DEFAULT_POLE_FORMATS)


def test_the_defaults_cover_every_field(ruleset):
    assert {rule.field for rule in ruleset.rules} == set(FIELD_VALUES)
    assert all(rule.source.endswith(".toml") for rule in ruleset.rules)


def test_an_override_adds_a_rule(tmp_path):
    text = "Il semaforo pedonale di via Irnerio non emette il segnale acustico."
    assert classify(rules.load_ruleset(), text).request_type == "da_classificare"
    site = write(
        tmp_path,
        """
        [[rule]]
        name = "site.semaforo"
        field = "request_type"
        value = "manutenzione"
        weight = 3
        patterns = ['\\bsemafor\\w*']
        """,
    )
    verdict = classify(rules.load_ruleset([site]), text)
    assert verdict.request_type == "manutenzione"
    assert any(h.rule == "site.semaforo" for h in verdict.hits)


def test_an_override_replaces_a_rule_by_name(tmp_path):
    default = rules.load_ruleset()
    site = write(
        tmp_path,
        """
        field = "criminal_event"
        [[rule]]
        name = "crime.furto"
        value = "true"
        patterns = ['\\btrafugat\\w*']
        """,
    )
    ruleset = rules.load_ruleset([site])
    assert [r.name for r in ruleset.rules] == [r.name for r in default.rules]  # same place
    assert classify(default, "Hanno rubato le lampade.").criminal_event
    assert not classify(ruleset, "Hanno rubato le lampade.").criminal_event  # cables: furto_cavi
    assert classify(ruleset, "Cavi trafugati stanotte.").criminal_event


def test_an_override_disables_a_rule_and_tunes_a_decision(tmp_path):
    site = write(
        tmp_path,
        """
        [decision.request_type]
        min_score = 50
        lone_min_score = 50
        [[rule]]
        name = "crime.furto"
        enabled = false
        """,
    )
    ruleset = rules.load_ruleset([site])
    assert "crime.furto" not in {r.name for r in ruleset.rules}
    assert ruleset.decision("request_type").min_score == 50
    assert ruleset.decision("request_type").quoted_ticket_weight == 3  # other keys kept
    verdict = classify(ruleset, "Vi sollecito: hanno rubato le lampade.")  # (cables: furto_cavi)
    assert (verdict.request_type, verdict.criminal_event) == ("da_classificare", False)


def test_an_override_can_switch_off_the_votes_of_the_other_fields(tmp_path):
    text = "Dentro l'armadio aperto si vedono i morsetti."  # no fault word, only danger
    assert classify(rules.load_ruleset(), text).request_type == "manutenzione"
    # the learned stage reads it as a fault too: its vote is switched off the same way
    site = write(
        tmp_path,
        "[decision.request_type]\ndanger_weight = 0\ncrime_weight = 0\nlearned_weight = 0\n",
    )
    assert classify(rules.load_ruleset([site]), text).request_type == "da_classificare"


def test_later_overrides_win(tmp_path):
    first = write(tmp_path, "[decision.urgency]\nmin_score = 7\n", "a.toml")
    second = write(tmp_path, "[decision.urgency]\nmin_score = 3\n", "b.toml")
    assert rules.load_ruleset([first, second]).decision("urgency").min_score == 3


BAD = [
    ("[[rule]]\nname = 'x.bad'\nfield = 'urgency'\nvalue = 'urgente'\npatterns = ['(unclosed']\n",
     "rule 'x.bad': bad regex in patterns"),
    ("[[rule]]\nname = 'x.unless'\nfield = 'urgency'\nvalue = 'urgente'\npatterns = ['a']\n"
     "unless = ['[z-a]']\n", "rule 'x.unless': bad regex in unless"),
    ("[[rule]]\nname = 'x.value'\nfield = 'urgency'\nvalue = 'altissima'\npatterns = ['a']\n",
     "rule 'x.value': value for urgency"),
    ("[[rule]]\nname = 'x.field'\nfield = 'colore'\nvalue = 'rosso'\npatterns = ['a']\n",
     "rule 'x.field': field must be"),
    ("[[rule]]\nname = 'x.typo'\nfield = 'urgency'\nvalue = 'urgente'\npaterns = ['a']\n",
     "rule 'x.typo': unknown keys: paterns"),
    ("[[rule]]\nname = 'x.none'\nfield = 'urgency'\nvalue = 'urgente'\npatterns = []\n",
     "rule 'x.none': needs at least one pattern"),
    ("[[rule]]\nfield = 'urgency'\n", "rule #1 has no name"),
    ("[[rule]]\nname = 'x'\n[[rule]]\nname = 'x'\n", "rule 'x' is defined twice"),
    ("[decision.urgency]\nprefer = ['prestissimo']\n", "decision.urgency: prefer"),
    ("[decision.urgency]\nmin_score = 'due'\n", "decision.urgency: min_score must be a number"),
    ("[decision.request_type]\ndanger_weight = 'molto'\n",
     "decision.request_type: danger_weight must be a number"),
    ("[[rule]]\nname = 'x.w'\nfield = 'urgency'\nvalue = 'urgente'\npatterns = ['a']\n"
     "weight = 'alto'\n", "rule 'x.w': weight must be a number"),
    ("[[rule]\nname = ", "not valid TOML"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD)
def test_a_bad_rule_file_names_the_file_and_the_rule(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(rules.RulesError) as caught:
        rules.load_ruleset([path])
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_a_missing_file_is_a_rules_error(tmp_path):
    with pytest.raises(rules.RulesError, match="cannot read"):
        rules.load_ruleset([tmp_path / "absent.toml"])


def test_folding_strips_accents_and_keeps_positions():
    text = "Perché c’è «già» È"
    folded = fold(text)
    assert folded == 'Perche c\'e "gia" E'
    assert len(folded) == len(text)


def test_evidence_is_the_original_text():
    verdict = classify(rules.load_ruleset(), "GIÀ SEGNALATO il 2 marzo")
    hit = next(h for h in verdict.hits if h.rule == "sollecito.gia_segnalato")
    assert hit.evidence == "GIÀ SEGNALAT"


def test_sentences_split_on_stops_and_blank_lines_not_on_wrapped_lines():
    doc = Document.of(rules.RuleInput("Oggetto", "non ci sono\ncavi scoperti. Altro.\n\nFine"))
    start, end = doc.sentence(doc.folded.index("cavi"))
    assert doc.folded[start:end].strip() == "non ci sono\ncavi scoperti."


def test_a_message_scoped_unless_silences_the_whole_message(tmp_path):
    site = write(
        tmp_path,
        """
        [[rule]]
        name = "site.test"
        field = "criminal_event"
        value = "true"
        patterns = ['\\bsirena\\b']
        unless = ['\\besercitazione\\b']
        unless_scope = "message"
        """,
    )
    ruleset = rules.load_ruleset([site])
    assert classify(ruleset, "Suona la sirena.").criminal_event
    assert not classify(ruleset, "Oggi esercitazione. Suona la sirena.").criminal_event
