"""What the worker processes need, loaded once: imported by the forkserver that forks them.

Never imported by the daemon itself. The forkserver (see `workers.WorkerPool`) imports this
module before it forks any worker, so every worker starts with the parser imported and the
shipped rules loaded and compiled, instead of each spending half a second of CPU on it.
"""

from __future__ import annotations

import rules
from inbox_daemon import analysis  # noqa: F401  the parser and the blob store, imported


def _shipped_rules() -> rules.RuleSet | None:
    try:
        return rules.load_ruleset().compile_all()
    except rules.RulesError:  # the daemon reports it at start-up; workers load their own
        return None


SHIPPED_RULES = _shipped_rules()
