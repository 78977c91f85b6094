"""How long the rules take per typical message: every labelled corpus message, classified.

    .venv/bin/python bench/classify_speed.py [--runs 5]

A report, not a test (DESIGN: speed targets are reported, never asserted). The bodies are read as
the pipeline reads them (`rules.report`: new text, forwarded message, quoted history). Issue #18
asks ≤ 0.4 ms per typical message so that the IMAP throughput does not fall; on a shared,
loaded machine the figure is higher for the same code, so compare runs made side by side
(the CPU time of this process is less disturbed by the others than the wall time). For an A/B
against an older checkout of `rules/` and `parsers/` at DIR, run this same script with
`PYTHONPATH=DIR` (the corpus read is this checkout's) and alternate the two.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import rules
from rules.report import load_corpus

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ruleset = rules.load_ruleset().compile_all()
    docs = [m.doc for path in sorted(CORPUS.glob("*.toml")) for m in load_corpus(path)]
    for doc in docs:  # warm the caches: screens, twins, tables
        rules.classify(doc, ruleset, rules.DEFAULT_POLE_FORMATS)
    wall, cpu = [], []
    for _ in range(args.runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        for doc in docs:
            rules.classify(doc, ruleset, rules.DEFAULT_POLE_FORMATS)
        wall.append((time.perf_counter() - start) / len(docs))
        cpu.append((time.process_time() - start_cpu) / len(docs))
    print(f"{len(docs)} corpus messages, {args.runs} runs")
    for name, times in (("wall", sorted(wall)), ("cpu", sorted(cpu))):
        best, median = times[0] * 1000, times[len(times) // 2] * 1000
        print(f"  {name}: best {best:.3f} ms/message, median {median:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
