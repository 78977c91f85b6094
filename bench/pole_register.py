"""The pole register at the scale of a regional contract: import, re-import, look-ups.

    .venv/bin/python bench/pole_register.py [--poles 250000] [--lookups 10000]

A report, not a test. It generates a register (codes spread over the whole number range, as
after years of replacements), imports it twice into a throwaway SQLite database through the
same code as `inbox-daemon poles import` (the second time replacing the first), then looks up
codes read with one slip each (a digit changed, two swapped, one dropped or doubled) and codes
that are exact, as the locate stage does. Targets (issue 16): import and re-import ≤ 10 s
each, peak RSS ≤ 250 MB, ≤ 0.2 ms per look-up, correction included.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rules
from inbox_daemon.register import LoadedRegister, import_register
from inbox_daemon.store.db import open_store

STREETS = ["Via Roma", "Via Milano", "P.zza Dante", "Viale Europa", "Corso Italia", "Via Verdi"]


def write_register(path: Path, count: int, rng: random.Random) -> list[str]:
    numbers = rng.sample(range(1_000_000), count)
    codes = [f"IP-{n:06d}" for n in numbers]
    with path.open("w", encoding="utf-8") as out:
        out.write("code,address,municipality,lat,lon,panel,zone\n")
        for i, code in enumerate(codes):
            street = STREETS[i % len(STREETS)]
            where = f"{street} {i % 300 + 1},Comune {i % 150}"
            lat, lon = 45 + i % 1000 / 1e4, 9 + i % 997 / 1e4
            out.write(f"{code},{where},{lat:.5f},{lon:.5f},Q{i % 900},z{i % 7}\n")
    return codes


def slipped(code: str, rng: random.Random) -> str:
    digits = list(code[3:])
    kind = rng.choice(["substitution", "swap", "deletion", "insertion", "exact"])
    i = rng.randrange(5)
    if kind == "substitution":
        digits[i] = str((int(digits[i]) + rng.randrange(1, 10)) % 10)
    elif kind == "swap":
        digits[i], digits[i + 1] = digits[i + 1], digits[i]
    elif kind == "deletion":
        del digits[i]
    elif kind == "insertion":
        digits.insert(i, str(rng.randrange(10)))
    return "IP-" + "".join(digits)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--poles", type=int, default=250_000)
    parser.add_argument("--lookups", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(2026)
    formats = rules.DEFAULT_POLE_FORMATS
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "poles.csv"
        codes = write_register(csv_path, args.poles, rng)
        engine = open_store(f"sqlite:///{tmp}/bench.db")
        print(f"pole register: {args.poles} poles, {csv_path.stat().st_size >> 20} MB of CSV")
        for label in ("import", "re-import"):
            started = time.perf_counter()
            done = import_register(engine, csv_path, formats)
            seconds = time.perf_counter() - started
            print(f"  {label:<24} {seconds:7.2f} s   ({done.poles} poles)   target <= 10 s")
        register = LoadedRegister(engine)
        started = time.perf_counter()
        snapshot = register.current()
        print(f"  {'load the index':<24} {time.perf_counter() - started:7.2f} s")
        reads = [slipped(rng.choice(codes), rng) for _ in range(args.lookups)]
        started = time.perf_counter()
        outcomes: dict[str, int] = {}
        for read in reads:
            match = snapshot.index.locate(read).match
            outcomes[match] = outcomes.get(match, 0) + 1
        per_lookup_ms = (time.perf_counter() - started) * 1000 / len(reads)
        found = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        print(f"  {'look-up with slips':<24} {per_lookup_ms:7.3f} ms each   target <= 0.2 ms")
        print(f"  {'':<24} ({found})")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {'peak RSS':<24} {peak_mb:7.0f} MB     target <= 250 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
