"""Worker processes start ready: forked by a forkserver that loaded the parser and the rules."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import rules
from inbox_daemon import pipeline, preload, workers
from inbox_daemon.context import Context

SITE_RULE = """
[[rule]]
name = "site.semaforo"
field = "request_type"
value = "manutenzione"
patterns = ['\\bsemafor\\w*']
"""


def test_a_worker_takes_the_rules_the_forkserver_compiled_when_they_are_the_same(
    ctx: Context,
) -> None:
    analyser = pipeline.analyser(ctx)  # the daemon's rules, loaded apart from the preload's
    assert analyser.ruleset is not preload.SHIPPED_RULES
    assert workers._ready(analyser).ruleset is preload.SHIPPED_RULES


def test_a_worker_compiles_other_rules_itself_before_the_first_message(
    ctx: Context, tmp_path: Path
) -> None:
    site = tmp_path / "site.toml"
    site.write_text(SITE_RULE)
    own = rules.load_ruleset([site])
    ready = workers._ready(dataclasses.replace(pipeline.analyser(ctx), ruleset=own))
    assert ready.ruleset is own
    assert "prefilter" in vars(own)  # built now, not on the first message
    assert any(rule.name == "site.semaforo" for rule in ready.ruleset.rules)


def test_compiled_rules_classify_as_rules_compiled_on_first_use() -> None:
    text = rules.RuleInput("Palo pericolante", "Il palo IP-001234 oscilla e sta per cadere")
    cold = rules.classify(text, rules.load_ruleset(), rules.DEFAULT_POLE_FORMATS)
    warm = rules.classify(text, rules.load_ruleset().compile_all(), rules.DEFAULT_POLE_FORMATS)
    assert warm == cold
    assert cold.urgency == "emergenza"
