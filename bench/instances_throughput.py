"""IMAP throughput with several daemon instances on one PostgreSQL, beside one on SQLite.

    .venv/bin/python bench/instances_throughput.py [--n 2000] [--runs 3] [--batch-size 50]
        [--workers both|each|share] [--against DIR] [--statements]

Starts a throwaway Dovecot and a throwaway PostgreSQL on loopback (the test servers), then,
for each set-up, APPENDs N generated requests split evenly over one mailbox per instance
(one folder has one fetcher: instances on the same folder would take turns, not share) and
times `inbox-daemon run --once` of every instance started together, until the last ends:

  sqlite x1     one instance on SQLite (the embedded default)
  postgres x1   one instance on PostgreSQL
  postgres x2   two instances, N/2 messages each, on one database
  postgres x3   three instances, N/3 each

How many worker processes each instance runs is the operator's choice (`[processing]
workers`); on one machine it decides how many processes share its cores, so the bench shows
both ways (`--workers`):

  each    every instance runs 1 worker process, as one instance alone would: x3 is three
          daemons and three workers (and three forkservers) on this machine's cores
  share   the instances share the machine: x1 runs 1 worker; x2 and x3 analyse in the
          daemon process itself (`workers = 0`), one busy process per instance

It prints each set-up's wall time and messages per second, the ratio of two and three
instances together to one on PostgreSQL (target >= 0.9x: on this 2-core machine the
instances share the CPU, so the figure says what coordination costs, not what a second
machine gains), the CPU seconds of the daemons (their workers included) and of the
PostgreSQL server, and the database traffic per message: round trips counted in each daemon
(SQLAlchemy events: every statement or batch of statements sent, every BEGIN, COMMIT,
ROLLBACK and pre-ping), statements as the server counts them (pg_stat_statements, loaded
into the throwaway server; a batch sent at once counts each of its statements), transactions
(pg_stat_database) and the seconds sessions spent waiting for a lock another held (sampled
every 20 ms). `--statements` lists the statements of each PostgreSQL set-up, most called
first. `--against DIR` runs another checkout's code (say main's, `git archive main | tar -x
-C DIR`) in turn with this one, set-up by set-up, alternating which goes first, and reports
both. A report, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

CONFIG = """\
[database]
url = "{url}"
[storage]
dir = "{store}"
[processing]
workers = {workers}
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
LOCK_SAMPLE_S = 0.02
COUNTED = "--counted-daemon"  # how the bench runs a daemon whose round trips it counts


@dataclass
class Result:
    seconds: float
    daemon_cpu: float  # user + sys of the daemons, their workers and forkservers included
    server_cpu: float  # user + sys of the PostgreSQL server's processes (0 on SQLite)
    trips: float = 0.0  # per message, counted by the daemons
    statements: float = 0.0  # per message, counted by the server
    transactions: float = 0.0  # per message, committed or rolled back
    lock_wait_s: float = 0.0  # summed over sessions
    top: list[tuple[int, str]] = field(default_factory=list)  # (calls, query)
    waits: list[tuple[str, float]] = field(default_factory=list)  # (statement, seconds)


# --- the daemon, counted ------------------------------------------------------------------


def counted_daemon(out: str, argv: list[str]) -> None:
    """Run the daemon's command line with every round trip to the database counted, the
    counts written to `out` at exit. The workers never touch the database."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    counts: Counter[str] = Counter()

    def count(name: str):  # noqa: ANN202 - an event listener
        def listener(*_args: object, **_kwargs: object) -> None:
            counts[name] += 1

        return listener

    event.listen(Engine, "before_cursor_execute", count("statements"))
    for name in ("begin", "commit", "rollback", "savepoint", "release_savepoint"):
        event.listen(Engine, name, count(name))
    event.listen(Pool, "checkout", count("checkouts"))  # pre-pinged: one round trip each
    event.listen(Pool, "connect", count("connects"))
    atexit.register(lambda: Path(out).write_text(json.dumps(counts)))
    from inbox_daemon.cli import main

    sys.exit(main(argv))


def round_trips(counts: dict[str, int]) -> int:
    """Round trips of one daemon: statements (an executemany is one), BEGIN (psycopg sends
    it before the transaction's first statement), COMMIT, ROLLBACK, savepoints and pings."""
    keys = ("statements", "begin", "commit", "rollback", "savepoint", "release_savepoint")
    return sum(counts.get(key, 0) for key in keys) + counts.get("checkouts", 0)


# --- CPU of process trees -----------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float, float]:
    """(parent, own CPU, reaped children's CPU) of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the name: state ppid ... utime(12) stime(13) cutime(14) cstime(15)
    own = (int(fields[11]) + int(fields[12])) / TICK
    return int(fields[1]), own, (int(fields[13]) + int(fields[14])) / TICK


def tree_cpu(root: int) -> float:
    """CPU seconds of `root`, its living descendants and every child they have reaped."""
    parents, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent, own, reaped = _stat(int(entry))
            except OSError:  # ended meanwhile
                continue
            parents[int(entry)], cpu[int(entry)] = parent, own + reaped
    inside, grown = {root}, True
    while grown:  # the descendants, generation by generation
        more = {pid for pid, parent in parents.items() if parent in inside} - inside
        inside |= more
        grown = bool(more)
    total = sum(cpu.get(pid, 0.0) for pid in inside)
    return total


def adopt_orphans() -> None:
    """Become the reaper of our descendants whose parent ends first (the worker pool's
    forkserver and resource tracker outlive the daemon by a moment): their CPU time then
    reaches RUSAGE_CHILDREN when `reap_orphans` waits for them."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def reap_orphans(keep: set[int], timeout: float = 10.0) -> None:
    """Wait for our children other than `keep` (the servers) to end."""
    me, deadline = os.getpid(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in keep:
                try:
                    if _stat(int(entry))[0] == me:
                        mine.append(int(entry))
                except OSError:
                    continue
        if not mine:
            return
        for pid in mine:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.02)


def children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- the database's side ------------------------------------------------------------------


def counters(server, database: str) -> tuple[int, int]:  # noqa: ANN001
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


def top_statements(server, database: str) -> list[tuple[int, str]]:  # noqa: ANN001
    import psycopg

    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT calls, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements s"
            " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s ORDER BY calls DESC",
            (database,),
        ).fetchall()
    return [(int(calls), query) for calls, query in rows]


class LockSampler:
    """Seconds that the sessions of one database spent waiting for a lock, sampled."""

    def __init__(self, server, database: str) -> None:  # noqa: ANN001
        self.server, self.database = server, database
        self.waited = 0.0
        self.by_query: Counter[str] = Counter()  # seconds waited, by the waiting statement
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.server.dsn("postgres"), autocommit=True) as conn:
            while not self._stop.wait(LOCK_SAMPLE_S):
                waiting = conn.execute(
                    "SELECT wait_event || ': ' || left(regexp_replace(query, '\\s+', ' ', 'g'),"
                    " 70) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                    (self.database,),
                ).fetchall()
                for (query,) in waiting:
                    self.waited += LOCK_SAMPLE_S
                    self.by_query[query] += LOCK_SAMPLE_S


# --- one set-up ---------------------------------------------------------------------------


def workers_for(mode: str, count: int) -> int:
    return 1 if mode == "each" or count == 1 else 0


def run_setup(
    kind: str, count: int, mode: str, code: Path, n: int, args: argparse.Namespace, imap,
    pg, work: Path, tag: str,
) -> Result:  # fmt: skip
    """`count` instances of the code at `code` taking n messages."""
    from integration.dovecot import PASSWORD
    from integration.mailgen import italian_requests

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
            batch_size=args.batch_size, workers=workers_for(mode, count),
        ))  # fmt: skip
        configs.append(config)
    env = {**os.environ, "BENCH_IMAP_PASSWORD": PASSWORD, "PYTHONPATH": str(code)}
    cli = [sys.executable, "-m", "inbox_daemon.cli", "-q", "--config"]
    if database:  # the schema made first, so that no run pays for it
        subprocess.run([*cli, str(configs[0]), "check-config"], env=env, check=True,
                       capture_output=True, cwd=code)  # fmt: skip
    keep = {pg.process.pid, imap.process.pid}
    reap_orphans(keep)
    before = counters(pg, database) if database else (0, 0)
    server_before = tree_cpu(pg.process.pid) if database else 0.0
    cpu_before = children_cpu()
    os.sync()
    outs = [work / f"{index}.trips" for index in range(count)]
    counted = [sys.executable, str(Path(__file__).resolve()), COUNTED]
    with LockSampler(pg, database) if database else _Nothing() as sampler:
        start = time.monotonic()
        runs = [
            subprocess.Popen(
                [*counted, str(out), "-q", "--config", str(c), "run", "--once"], env=env, cwd=code
            )  # fmt: skip
            for c, out in zip(configs, outs, strict=True)
        ]
        codes = [run.wait() for run in runs]
        seconds = time.monotonic() - start
    if any(codes):
        sys.exit(f"{kind} x{count}: an instance exited {codes}")
    reap_orphans(keep)
    daemon_cpu = children_cpu() - cpu_before
    done = (n // count) * count
    if not database:
        return Result(seconds, daemon_cpu, 0.0)
    server_cpu = tree_cpu(pg.process.pid) - server_before
    after = counters(pg, database)
    trips = sum(round_trips(json.loads(out.read_text())) for out in outs)
    top = top_statements(pg, database) if args.statements else []
    pg.drop_database(database)
    return Result(
        seconds, daemon_cpu, server_cpu, trips / done, (after[1] - before[1]) / done,
        (after[0] - before[0]) / done, sampler.waited, top, sampler.by_query.most_common(5),
    )  # fmt: skip


class _Nothing:
    waited = 0.0

    def __enter__(self) -> _Nothing:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None


# --- the run and its report ---------------------------------------------------------------


def plan(args: argparse.Namespace) -> list[tuple[str, int, str]]:
    """(kind, count, workers mode) of each set-up, in the order they run."""
    modes = ["each", "share"] if args.workers == "both" else [args.workers]
    setups = [(kind, count, modes[0]) for kind, count in SETUPS]
    for mode in modes[1:]:
        setups += [("postgres", count, mode) for count in (2, 3)]
    return setups


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == COUNTED:
        counted_daemon(sys.argv[2], sys.argv[3:])
        return
    from integration.dovecot import running_dovecot
    from postgres.server import Postgres

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="messages per set-up")
    parser.add_argument("--runs", type=int, default=3, help="runs of each set-up (median)")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--workers", choices=["both", "each", "share"], default="both")
    parser.add_argument("--against", type=Path, help="another checkout, run in turn with this")
    parser.add_argument("--statements", action="store_true", help="list the statements")
    parser.add_argument(
        "--only",
        nargs="*",
        default=[],
        metavar="KIND:COUNT:MODE",
        help="only these set-ups (e.g. postgres:3:each)",
    )
    args = parser.parse_args()
    codes = {"this": REPO} | ({"other": args.against.resolve()} if args.against else {})
    adopt_orphans()
    root = Path(tempfile.mkdtemp(prefix="inbox-bench-instances-"))
    os.chmod(root, 0o755)  # traversable by the server's user, when run as root
    results: dict[tuple[str, str, int, str], list[Result]] = {}
    pg = Postgres(root / "pg")
    (root / "pg").mkdir()
    pg.init()
    with (pg.data / "postgresql.conf").open("a") as conf:
        conf.write("shared_preload_libraries = 'pg_stat_statements'\n")
    pg.start()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    loads = []
    try:
        pg._admin("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        with running_dovecot() as imap:
            step = 0
            for run in range(args.runs):
                for kind, count, mode in plan(args):
                    if args.only and f"{kind}:{count}:{mode}" not in args.only:
                        continue
                    order = list(codes.items())
                    if step % 2:
                        order.reverse()  # alternating which code goes first
                    step += 1
                    for name, code in order:
                        work = root / f"{name}-{kind}-{count}-{mode}-{run}"
                        work.mkdir()
                        tag = f"{name}{kind}{count}{mode}r{run}"
                        print(f"run {run + 1}: {name} {kind} x{count} ({mode})…", file=sys.stderr)
                        loads.append(os.getloadavg()[0])
                        result = run_setup(
                            kind, count, mode, code, args.n, args, imap, pg, work, tag
                        )
                        results.setdefault((name, kind, count, mode), []).append(result)
                        shutil.rmtree(work, ignore_errors=True)
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    load = f"load average {min(loads):.1f}-{max(loads):.1f} at the starts"
    print(f"{started}, {os.cpu_count()} cores, {load}")
    for name, code in codes.items():
        report(args, name, code, results)


def report(args: argparse.Namespace, name: str, code: Path, results: dict) -> None:
    print(f"{name} code ({code}): {args.n} messages per set-up, one mailbox per instance, "
          f"batch_size {args.batch_size}, median of {args.runs} run(s)")  # fmt: skip
    rates = {}
    for (who, kind, count, mode), runs in results.items():
        if who != name:
            continue
        med = {key: statistics.median(getattr(r, key) for r in runs)
               for key in ("seconds", "daemon_cpu", "server_cpu", "trips", "statements",
                           "transactions", "lock_wait_s")}  # fmt: skip
        rate = rates[(kind, count, mode)] = args.n / med["seconds"]
        spread = f"{min(r.seconds for r in runs):.2f}-{max(r.seconds for r in runs):.2f}"
        workers = workers_for(mode, count)
        line = (f"  {kind:8} x{count} {workers} worker{'s' * (workers != 1)} each "
                f"{med['seconds']:6.2f} s ({spread}) {rate:6.1f} msg/s  cpu "
                f"{med['daemon_cpu']:5.1f} s")  # fmt: skip
        if kind == "postgres":
            line += (f" + server {med['server_cpu']:4.1f} s; per message {med['trips']:5.2f}"
                     f" round trips, {med['statements']:5.2f} statements, "
                     f"{med['transactions']:5.3f} transactions; lock waits "
                     f"{med['lock_wait_s']:4.2f} s")  # fmt: skip
        print(line)
        if args.statements and runs[-1].top:
            for calls, query in runs[-1].top[:25]:
                print(f"      {calls / args.n:6.3f}/msg  {query[:110]}")
            for query, waited in runs[-1].waits:
                print(f"      waited {waited:5.2f} s  {query}")
    one = rates.get(("postgres", 1, "each"))
    if one is None:
        return
    for kind, count, mode in rates:
        if kind == "postgres" and count > 1:
            ratio = rates[(kind, count, mode)] / one
            print(f"  postgres x{count} ({mode}) / x1 rate ratio: {ratio:.2f}x "
                  f"(target >= {TARGET}x)")  # fmt: skip
    if ("sqlite", 1, "each") in rates:
        print(f"  postgres x1 / sqlite x1 rate ratio: {one / rates[('sqlite', 1, 'each')]:.2f}x")


if __name__ == "__main__":
    main()
