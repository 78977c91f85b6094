"""How long the rules take per typical message: every labelled corpus message, classified.

    .venv/bin/python bench/classify_speed.py [--runs 5]
    .venv/bin/python bench/classify_speed.py --ab DIR [--runs 20]

A report, not a test (DESIGN: speed targets are reported, never asserted). The bodies are read as
the pipeline reads them (`rules.report`: new text, forwarded message, quoted history). Issue #18
asks ≤ 0.4 ms per typical message so that the IMAP throughput does not fall; on a shared,
loaded machine the figure is higher for the same code, so compare runs made side by side
(the CPU time of this process is less disturbed by the others than the wall time).

`--ab DIR` compares against an older checkout of `rules/` and `parsers/` at DIR (a
`git worktree` of main, say): two worker processes, one importing DIR's `rules`, both
warmed up, run one pass over the corpus each in turn (ABBA…), so that the load a pass meets is
the load its counterpart meets a second later; it prints both medians of the CPU time per
message and the median of the per-pass ratios, which moves much less with the load than runs
of separate processes minutes apart. The corpus read is this checkout's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import rules
from rules.report import load_corpus

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus"


def corpus() -> list[rules.RuleInput]:
    return [m.doc for path in sorted(CORPUS.glob("*.toml")) for m in load_corpus(path)]


def one_pass(docs: list[rules.RuleInput], ruleset: rules.RuleSet) -> tuple[float, float]:
    """(wall, CPU) seconds per message of one pass over `docs`."""
    start, start_cpu = time.perf_counter(), time.process_time()
    for doc in docs:
        rules.classify(doc, ruleset, rules.DEFAULT_POLE_FORMATS)
    return (time.perf_counter() - start) / len(docs), (time.process_time() - start_cpu) / len(docs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ab", metavar="DIR", help="compare, pass by pass, with DIR's rules")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ab:
        return compare(Path(args.ab), args.runs)
    ruleset = rules.load_ruleset().compile_all()
    docs = corpus()
    for doc in docs:  # warm the caches: screens, twins, tables
        rules.classify(doc, ruleset, rules.DEFAULT_POLE_FORMATS)
    if args.worker:  # one pass per line read, its CPU time per message printed
        print("ready", flush=True)
        for _ in sys.stdin:
            print(one_pass(docs, ruleset)[1], flush=True)
        return 0
    passes = [one_pass(docs, ruleset) for _ in range(args.runs)]
    print(f"{len(docs)} corpus messages, {args.runs} runs")
    for name, times in (
        ("wall", sorted(p[0] for p in passes)),
        ("cpu", sorted(p[1] for p in passes)),
    ):
        best, median = times[0] * 1000, times[len(times) // 2] * 1000
        print(f"  {name}: best {best:.3f} ms/message, median {median:.3f}")
    return 0


def compare(other: Path, runs: int) -> int:
    """Passes of DIR's rules (A) and this checkout's (B) in two live workers, in turn."""
    here = Path(__file__).resolve().parents[1]
    workers = {}
    for name, root in (("A", other.resolve()), ("B", here)):
        env = {**os.environ, "PYTHONPATH": str(root)}
        command = [sys.executable, str(Path(__file__).resolve()), "--worker"]
        worker = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, env=env, cwd=root)  # fmt: skip
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        workers[name] = worker
    cpu: dict[str, list[float]] = {"A": [], "B": []}
    for i in range(runs):
        for name in "AB" if i % 2 == 0 else "BA":
            worker = workers[name]
            assert worker.stdin is not None and worker.stdout is not None
            worker.stdin.write("pass\n")
            worker.stdin.flush()
            cpu[name].append(float(worker.stdout.readline()) * 1000)
    for worker in workers.values():
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait()
    for name, root in (("A", other), ("B", here)):
        times = sorted(cpu[name])
        print(
            f"{name} ({root}): cpu median {statistics.median(times):.3f} ms/message,"
            f" best {times[0]:.3f}"
        )
    ratios = [b / a for a, b in zip(cpu["A"], cpu["B"], strict=True)]
    print(f"B/A per pass: median {statistics.median(ratios):.3f} ({runs} passes each, in turn)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
