"""Hostile and pathological inputs: how long the pure stages take on them.

    .venv/bin/python bench/pathological_inputs.py

A report, not a test: each line gives the seconds one call took and the budget it should stay
well inside on a development machine; a parser or rule that turned quadratic shows up here as
seconds or minutes. (The tests check what these inputs produce; timing lives here.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import parsers.mime
import rules
from parsers.html import html_to_text
from parsers.quoting import new_text

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "email-wild"
RULESET = rules.load_ruleset()


def case(name: str, budget_s: float, call: Callable[[], object]) -> bool:
    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    verdict = "ok" if seconds <= budget_s else "SLOW"
    print(f"  {name:<46} {seconds:8.3f} s  (budget {budget_s:g} s)  {verdict}")
    return seconds <= budget_s


def classify(text: str) -> rules.Verdict:
    return rules.classify(rules.RuleInput("", text), RULESET, rules.DEFAULT_POLE_FORMATS)


_FORWARDS = "Per competenza.\n-----Messaggio inoltrato-----\nDa: x\n\n" * 20_000


def main() -> int:
    cases: list[tuple[str, float, Callable[[], object]]] = [
        ("html: 200k nested <div>", 5, lambda: html_to_text("<div>" * 200_000 + "x")),
        ("html: 200k incomplete '<a '", 3, lambda: html_to_text("<a " * 200_000)),
        ("html: 200k 'x<y'", 3, lambda: html_to_text("x<y" * 200_000)),
        ("html: 200k '</'", 3, lambda: html_to_text("</" * 200_000)),
        ("html: 200k '<!--'", 3, lambda: html_to_text("<!--" * 200_000)),
        ("html: 200k '<?'", 3, lambda: html_to_text("<?" * 200_000)),
        ("quoting: 200k dashes on one line", 2, lambda: new_text("t\n" + "-" * 200_000 + "x\n")),
        ("quoting: 200k spaces after 'Da'", 2, lambda: new_text("t\nDa" + " " * 200_000 + "x\n")),
        ("rules: 100 KB text", 2, lambda: classify("Il palo storto e il cavo della via " * 3000)),
        # scopes (rules/scopes.py), carried objects and the spelling table: one pass each
        ("rules: 100 KB of questions", 2, lambda: classify("Come si fa se il palo cade? " * 3600)),
        ("rules: 100 KB of 'se' in one question", 2, lambda: classify("se " * 33_000 + "?")),
        ("rules: 100 KB of short sentences", 2, lambda: classify("Il palo. Piegato. " * 5600)),
        ("rules: 100 KB of dialect", 2, lambda: classify("nun s'allumina o lampiune " * 3800)),
        ("rules: 100 KB past, then over", 2, lambda: classify("era a terra, " * 7700 + "ora ok")),
        ("quoting: 20k forwards", 2, lambda: new_text("Si inoltra.\n" * 2 + _FORWARDS)),
    ]
    for name in ("nodemailer-001.eml", "nodemailer-002.eml", "mimekit-004.eml"):
        path = SAMPLES / name
        if path.is_file():
            raw = path.read_bytes()
            cases.append(
                (f"parse {name} ({len(raw) // 1024} KB)", 5, lambda r=raw: parsers.mime.parse(r))
            )
    big = b"From: a@example.it\nSubject: foto\nContent-Type: image/jpeg\n\n" + b"A" * (25 << 20)
    cases.append(("parse a 25 MB single-part message", 10, lambda: parsers.mime.parse(big)))
    print("pathological inputs:")
    slow = [name for name, budget, call in cases if not case(name, budget, call)]
    print(f"{len(cases) - len(slow)} within budget, {len(slow)} slow")
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
