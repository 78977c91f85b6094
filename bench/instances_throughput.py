"""IMAP throughput with several daemon instances on one PostgreSQL, beside one on SQLite.

    .venv/bin/python bench/instances_throughput.py [--n 2000] [--runs 1] [--batch-size 50]

Starts a throwaway Dovecot and a throwaway PostgreSQL on loopback (the test servers), then,
for each set-up, APPENDs N generated requests split evenly over one mailbox per instance
(one folder has one fetcher: instances on the same folder would take turns, not share) and
times `inbox-daemon run --once` of every instance started together, until the last ends:

  sqlite x1     one instance on SQLite (the embedded default)
  postgres x1   one instance on PostgreSQL
  postgres x2   two instances, N/2 messages each, on one database
  postgres x3   three instances, N/3 each

It prints each set-up's wall time and messages per second, the ratio of two and three
instances together to one on PostgreSQL (target >= 0.9x: on this 2-core machine the
instances share the CPU, so the figure says what coordination costs, not what a second
machine gains), and the database round trips per message: transactions (pg_stat_database)
and statements (pg_stat_statements, loaded into the throwaway server) over the run, with
which the gain of a second machine can be estimated. A report, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from integration.dovecot import PASSWORD, Dovecot, running_dovecot  # noqa: E402
from integration.mailgen import italian_requests  # noqa: E402
from postgres.server import Postgres  # noqa: E402

CONFIG = """\
[database]
url = "{url}"
[storage]
dir = "{store}"
[processing]
workers = 1
[[sources]]
name = "posta-{index}"
kind = "imap"
host = "127.0.0.1"
port = {port}
tls = "none"
username = "{user}"
password_env = "BENCH_IMAP_PASSWORD"
after = "keep"
idle = false
batch_size = {batch_size}
"""
SETUPS = [("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 3)]
TARGET = 0.9


def counters(server: Postgres, database: str) -> tuple[int, int]:
    """(transactions, statements) of `database` so far."""
    import psycopg

    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:  # the extension
        xacts = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (database,),
        ).fetchone()[0]
        calls = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d"
            " ON d.oid = s.dbid WHERE d.datname = %s",
            (database,),
        ).fetchone()[0]
    return int(xacts), int(calls)


def run_setup(
    kind: str, count: int, n: int, args: argparse.Namespace, imap: Dovecot, pg: Postgres,
    work: Path, tag: str,
) -> tuple[float, float, float]:  # fmt: skip
    """Seconds for `count` instances to take n messages, and transactions and statements
    per message (0 on SQLite)."""
    database = pg.create_database() if kind == "postgres" else ""
    url = pg.url(database) if database else f"sqlite:///{work / 'tickets.db'}"
    configs = []
    for index in range(count):
        user = f"{tag}-{index}"
        imap.append(user, italian_requests(n // count, seed=index + 1, start=index * n + 1))
        imap.flags(user)  # a warm index for every set-up
        config = work / f"{index}.toml"
        config.write_text(CONFIG.format(
            url=url, store=work / "store", index=index, port=imap.port, user=user,
            batch_size=args.batch_size,
        ))  # fmt: skip
        configs.append(config)
    env = {**os.environ, "BENCH_IMAP_PASSWORD": PASSWORD}
    cli = [sys.executable, "-m", "inbox_daemon.cli", "-q", "--config"]
    if database:  # the schema made first, so that no run pays for it
        subprocess.run([*cli, str(configs[0]), "check-config"], env=env, check=True,
                       capture_output=True)  # fmt: skip
    before = counters(pg, database) if database else (0, 0)
    os.sync()
    start = time.monotonic()
    runs = [subprocess.Popen([*cli, str(c), "run", "--once"], env=env) for c in configs]
    codes = [run.wait() for run in runs]
    seconds = time.monotonic() - start
    if any(codes):
        sys.exit(f"{kind} x{count}: an instance exited {codes}")
    after = counters(pg, database) if database else (0, 0)
    done = (n // count) * count
    return seconds, (after[0] - before[0]) / done, (after[1] - before[1]) / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="messages per set-up")
    parser.add_argument("--runs", type=int, default=1, help="runs of each set-up (median)")
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="inbox-bench-instances-"))
    os.chmod(root, 0o755)  # traversable by the server's user, when run as root
    results: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    pg = Postgres(root / "pg")
    (root / "pg").mkdir()
    pg.init()
    with (pg.data / "postgresql.conf").open("a") as conf:
        conf.write("shared_preload_libraries = 'pg_stat_statements'\n")
    pg.start()
    try:
        pg._admin("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        with running_dovecot() as imap:
            for run in range(args.runs):
                for kind, count in SETUPS:
                    work = root / f"{kind}-{count}-{run}"
                    work.mkdir()
                    tag = f"{kind}{count}r{run}"
                    print(f"run {run + 1}: {kind} x{count}…", file=sys.stderr)
                    result = run_setup(kind, count, args.n, args, imap, pg, work, tag)
                    results.setdefault((kind, count), []).append(result)
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    report(args, results)


def report(args: argparse.Namespace, results: dict[tuple[str, int], list]) -> None:
    print(f"{args.n} messages per set-up, one mailbox per instance, batch_size "
          f"{args.batch_size}, median of {args.runs} run(s)")  # fmt: skip
    rates = {}
    for (kind, count), runs in results.items():
        seconds = statistics.median(r[0] for r in runs)
        xacts = statistics.median(r[1] for r in runs)
        calls = statistics.median(r[2] for r in runs)
        rates[(kind, count)] = args.n / seconds
        trips = f"  {xacts:5.2f} transactions, {calls:5.1f} statements per message" if xacts else ""
        print(f"  {kind:8} x{count}  {seconds:7.2f} s  {args.n / seconds:7.1f} msg/s{trips}")
    one = rates[("postgres", 1)]
    for count in (2, 3):
        ratio = rates[("postgres", count)] / one
        print(f"  postgres x{count} / x1 rate ratio: {ratio:.2f}x (target >= {TARGET}x)")
    print(f"  postgres x1 / sqlite x1 rate ratio: {one / rates[('sqlite', 1)]:.2f}x")


if __name__ == "__main__":
    main()
