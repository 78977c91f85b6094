"""What the worker processes need, loaded once: imported by the forkserver that forks them.

Never imported by the daemon itself. The forkserver (see `workers.WorkerPool`) imports this
module before it forks any worker, so every worker starts with the parser imported and the
shipped rules loaded and compiled, instead of each spending half a second of CPU on it; the
compiled rules come from a cache file when an earlier start left them (`compiled_rules`).
"""

from __future__ import annotations

import parsers.mime
import rules
from inbox_daemon import analysis  # noqa: F401  the blob store and the stages, imported
from inbox_daemon.compiled_rules import shipped_rules

# One message parsed: what the parser loads on first use (mail-parser, codecs) is loaded too.
_WARM_UP = (
    "From: =?utf-8?q?Mario_Rossi?= <mario.rossi@example.it>\r\nSubject: prova\r\n"
    "Content-Type: text/html; charset=iso-8859-1\r\n\r\n<p>Il lampione \xe8 spento.</p>\r\n"
).encode("latin-1")


def _shipped_rules() -> rules.RuleSet | None:
    try:
        return shipped_rules()  # compiled once per rules version, kept in a cache file
    except rules.RulesError:  # the daemon reports it at start-up; workers load their own
        return None


SHIPPED_RULES = _shipped_rules()
parsers.mime.parse(_WARM_UP)
