"""IMAP throughput with several daemon instances on one PostgreSQL, beside one on SQLite.

    .venv/bin/python bench/instances_throughput.py [--n 2000] [--runs 3] [--batch-size 50]
        [--workers both|each|share] [--against DIR] [--statements] [--idle 10] [--once]
        [--volatile]

Starts a throwaway Dovecot and a throwaway PostgreSQL on loopback (the test servers, the
latter with fsync and synchronous commit on, as a production server has them, unless
`--volatile`), then, for each set-up, one mailbox per instance (one folder has one
fetcher: instances on the same folder would take turns, not share):

  sqlite x1     one instance on SQLite (the embedded default)
  postgres x1   one instance on PostgreSQL
  postgres x2   two instances, N/2 messages each, on one database
  postgres x3   three instances, N/3 each

A daemon runs for months, so what is timed is running daemons: `inbox-daemon run` of every
instance (IDLE on) is started on an empty INBOX, each with a notify socket; once every one
is ready (READY=1 said, its workers forked, its processes quiet for two seconds) and has
idled `--idle` seconds, the N messages, which waited in another folder, are moved into
every INBOX at once (one IMAP MOVE each), and the window runs from that release to the
last registration. Start-up is reported beside it: the seconds until the slowest instance
was ready and the CPU each spent until then; and the idle cost, CPU and round trips a
second per instance. `--once` times `run --once` of every instance from the launch instead,
start-up included, as the bench did before.

How many worker processes each instance runs is the operator's choice (`[processing]
workers`); on one machine it decides how many processes share its cores, so the bench shows
both ways (`--workers`):

  each    every instance runs 1 worker process, as one instance alone would: x3 is three
          daemons and three workers (and three forkservers) on this machine's cores
  share   the instances share the machine: x1 runs 1 worker; x2 and x3 analyse in the
          daemon process itself (`workers = 0`), one busy process per instance

It prints, for each set-up, the window's wall time and messages per second; the rate over
the middle 80 % of the registrations (by the messages' `processed_at`), which leaves out
the first batch's way through the pipeline and the tail where one instance finishes alone
(with `--once`: each instance's start-up too), and when the first message was registered;
the CPU seconds of the daemons (workers and forkservers included:
the bench reaps their orphans, PR_SET_CHILD_SUBREAPER) and of the PostgreSQL server. Then
the ratio of two and three instances together to one on PostgreSQL, both ways (target >=
0.9x: on this 2-core machine the instances share the CPU, so the figure says what
coordination costs, not what a second machine gains).

And the database traffic per message, with which the gain of a second machine can be
estimated: round trips counted in each daemon (SQLAlchemy events: each statement or
executemany sent, each BEGIN, COMMIT, ROLLBACK, savepoint and pre-ping), statements as the
server counts them (pg_stat_statements, loaded into the throwaway server: an executemany
counts each of its rows), transactions (pg_stat_database); how long the daemons held the
year's ticket counter locked (from the statement that takes the first number of a
registration to the end of its transaction), and waited for it, per message: registrations
on several machines queue on that lock, so one message per that many milliseconds is the
ceiling of any number of machines; and the seconds sessions waited for a lock, sampled every
50 ms (`--statements` lists the statements most called and what waited).

The daemons run with their bytecode cached, as an installed daemon has it (compiled first
into the bench's folder, PYTHONPYCACHEPREFIX), even where the shell sets
PYTHONDONTWRITEBYTECODE. `--against DIR` runs another checkout's code (say main's: `git
archive main | tar -x -C DIR`) in turn with this one, set-up by set-up, alternating which
goes first, and compares the medians. A report, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pg_watch import LockSampler, NoSampler, Registered, counters, top_statements
from process_tree import adopt_orphans, children_cpu, descendants, reap_orphans, tree_cpu

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
idle = {idle}
batch_size = {batch_size}
"""
SETUPS = [("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 3)]
TARGET = 0.9
COUNTED = "--counted-daemon"  # how the bench runs a daemon whose round trips it counts
HOLD = "bench-hold"  # where a running set-up's mail waits until it is released
COUNTER_LOCK = "UPDATE ticket_counter SET last_seq = last_seq + 1"  # tickets.COUNT


@dataclass
class Result:
    seconds: float  # from the start of the instances to the end of the last one
    first_s: float  # from the start to the first message registered (start-up)
    middle_rate: float  # messages per second over the middle 80 % of the registrations
    daemon_cpu: float  # user + sys of the daemons, their workers and forkservers included
    server_cpu: float = 0.0  # user + sys of the PostgreSQL server's processes
    trips: float = 0.0  # per message, counted by the daemons
    statements: float = 0.0  # per message, counted by the server
    transactions: float = 0.0  # per message, committed or rolled back
    lock_wait_s: float = 0.0  # summed over sessions, sampled by the server's view
    counter_held_ms: float = 0.0  # per message: the year's counter row locked by a daemon
    counter_wait_ms: float = 0.0  # per message: a daemon waiting to lock it
    # running daemons (not `--once`): what they cost before the mail came
    ready_s: float = 0.0  # from the launch until every instance is ready (the slowest)
    startup_cpu: float = 0.0  # CPU seconds per instance until ready (workers included)
    idle_cpu: float = 0.0  # CPU seconds per instance per second idle
    idle_trips: float = 0.0  # round trips per instance per second idle
    top: list[tuple[int, str]] = field(default_factory=list)  # (calls, query)
    waits: list[tuple[str, float]] = field(default_factory=list)  # (statement, seconds)


# --- the daemon, counted ------------------------------------------------------------------


def counted_daemon(out: str, argv: list[str]) -> None:
    """Run the daemon's command line with every round trip to the database counted, and the
    time it held (and waited for) the year's ticket counter, written to `out` at exit. The
    workers never touch the database."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    counts: dict[str, float] = Counter()
    locked: dict[int, float] = {}  # DBAPI connection -> when it took the counter's row lock

    def count(name: str) -> Callable[..., None]:
        def listener(*_args: object, **_kwargs: object) -> None:
            counts[name] += 1

        return listener

    def before(conn: Any, _cursor: Any, statement: str, *_args: object) -> None:
        counts["statements"] += 1
        conn.info["bench_sent"] = time.monotonic()

    def after(conn: Any, _cursor: Any, statement: str, *_args: object) -> None:
        if COUNTER_LOCK in statement:  # the first ticket number of a transaction: locked
            now = time.monotonic()
            counts["counter_wait_s"] += now - conn.info.pop("bench_sent", now)
            locked.setdefault(id(conn.connection.dbapi_connection), now)

    def checkin(dbapi_connection: Any, _record: Any) -> None:  # committed or rolled back
        since = locked.pop(id(dbapi_connection), None)
        if since is not None:
            counts["counter_held_s"] += time.monotonic() - since

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    for name in ("begin", "commit", "rollback", "savepoint", "release_savepoint"):
        event.listen(Engine, name, count(name))
    event.listen(Pool, "checkout", count("checkouts"))  # pre-pinged: one round trip each
    event.listen(Pool, "checkin", checkin)

    def dump(*_args: object) -> None:  # SIGUSR1: the counts so far, for a phase's figures
        counts["snapshots"] += 1
        Path(out + ".tmp").write_text(json.dumps(dict(counts)))
        os.replace(out + ".tmp", out)

    signal.signal(signal.SIGUSR1, dump)
    atexit.register(dump)
    from inbox_daemon.cli import main

    sys.exit(main(argv))


def round_trips(counts: dict[str, int]) -> int:
    """Round trips of one daemon: statements (an executemany is one), BEGIN (psycopg sends
    it before the transaction's first statement), COMMIT, ROLLBACK, savepoints and pings."""
    keys = ("statements", "begin", "commit", "rollback", "savepoint", "release_savepoint")
    return sum(counts.get(key, 0) for key in keys) + counts.get("checkouts", 0)


# --- one set-up ---------------------------------------------------------------------------


def workers_for(mode: str, count: int) -> int:
    return 1 if mode == "each" or count == 1 else 0


def run_setup(
    kind: str,
    count: int,
    mode: str,
    code: Path,
    n: int,
    args: argparse.Namespace,
    imap: Any,
    pg: Any,
    work: Path,
    tag: str,
) -> Result:
    """`count` instances of the code at `code` taking n messages."""
    from integration.mailgen import italian_requests

    database = pg.create_database() if kind == "postgres" else ""
    url = pg.url(database) if database else f"sqlite:///{work / 'tickets.db'}"
    configs = []
    for index in range(count):
        user = f"{tag}-{index}"
        imap.append(user, italian_requests(n // count, seed=index + 1, start=index * n + 1))
        imap.flags(user)  # a warm index for every set-up
        config = work / f"{index}.toml"
        config.write_text(
            CONFIG.format(
                url=url,
                store=work / "store",
                index=index,
                port=imap.port,
                user=user,
                batch_size=args.batch_size,
                workers=workers_for(mode, count),
                idle="false",
            )
        )
        configs.append(config)
    env = daemon_env(code, work.parent)
    if database:
        migrate_first(url, env, code)
    keep = {pg.process.pid, imap.process.pid}
    reap_orphans(keep)
    before = counters(pg, database) if database else (0, 0)
    server_before = tree_cpu(pg.process.pid) if database else 0.0
    cpu_before = children_cpu()
    os.sync()
    outs = [work / f"{index}.trips" for index in range(count)]
    counted = [sys.executable, str(Path(__file__).resolve()), COUNTED]
    with LockSampler(pg, database) if database else NoSampler() as sampler:
        start, started_at = time.monotonic(), time.time()
        runs = [
            subprocess.Popen(
                [*counted, str(out), "-q", "--config", str(c), "run", "--once"], env=env, cwd=code
            )
            for c, out in zip(configs, outs, strict=True)
        ]
        try:
            codes = [run.wait() for run in runs]
        finally:  # the bench stopped (Ctrl-C, SIGTERM): the daemons with it
            for run in runs:
                if run.poll() is None:
                    run.terminate()
        seconds = time.monotonic() - start
    if any(codes):
        sys.exit(f"{kind} x{count}: an instance exited {codes}")
    reap_orphans(keep)
    daemon_cpu = children_cpu() - cpu_before
    done = (n // count) * count
    times = registered_at(pg, database, work / "tickets.db")
    if len(times) != done:
        sys.exit(f"{kind} x{count}: {len(times)} messages registered of {done}")
    low, high = times[done // 10], times[done - 1 - done // 10]
    middle = (done - 1 - 2 * (done // 10)) / max(high - low, 1e-9)
    result = Result(seconds, times[0] - started_at, middle, daemon_cpu)
    if not database:
        return result
    after = counters(pg, database)
    daemons: Counter[str] = Counter()
    for out in outs:
        daemons.update(json.loads(out.read_text()))
    result.server_cpu = tree_cpu(pg.process.pid) - server_before
    result.trips = round_trips(daemons) / done
    result.statements = (after[1] - before[1]) / done
    result.transactions = (after[0] - before[0]) / done
    result.lock_wait_s, result.waits = sampler.waited, sampler.by_query.most_common(4)
    result.counter_held_ms = 1000 * daemons["counter_held_s"] / done
    result.counter_wait_ms = 1000 * daemons["counter_wait_s"] / done
    result.top = top_statements(pg, database) if args.statements else []
    pg.drop_database(database)
    return result


# --- one set-up, running daemons ----------------------------------------------------------


class Daemons:
    """`count` counted `inbox-daemon run` processes (the deployed daemon, not `--once`), each
    with a notify socket of its own (READY=1, as systemd reads it)."""

    def __init__(self, configs: list[Path], env: dict[str, str], code: Path, work: Path) -> None:
        import socket

        self.outs = [str(work / f"{index}.trips") for index in range(len(configs))]
        self.sockets, self.procs, self.seen = [], [], 0
        counted = [sys.executable, str(Path(__file__).resolve()), COUNTED]
        for config, out in zip(configs, self.outs, strict=True):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(out + ".notify")
            sock.setblocking(False)
            self.sockets.append(sock)
            self.procs.append(
                subprocess.Popen(
                    [*counted, out, "-q", "--config", str(config), "run"],
                    env={**env, "NOTIFY_SOCKET": out + ".notify"},
                    cwd=code,
                )
            )
        self.ready = [False] * len(configs)
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        """Every notification read as it comes: a socket's queue is short (ten datagrams),
        and a daemon whose watchdog pings found it full would log that it drops them."""
        import select

        while not self._stop.is_set():
            readable, _, _ = select.select(self.sockets, [], [], 0.1)
            for sock in readable:
                with contextlib.suppress(BlockingIOError):
                    if b"READY=1" in sock.recv(4096).split(b"\n"):
                        self.ready[self.sockets.index(sock)] = True

    def poll_ready(self) -> bool:
        """Whether every daemon has said READY=1 (after its sources and its heartbeat)."""
        for proc in self.procs:
            if proc.poll() is not None:
                sys.exit(f"a daemon exited {proc.returncode} before the mail came")
        return all(self.ready)

    def cpu(self) -> list[float]:
        return [tree_cpu(proc.pid) for proc in self.procs]

    def counts(self) -> Counter[str]:
        """Every daemon's round trips so far, summed (each asked by SIGUSR1, then read)."""
        self.seen += 1
        for proc in self.procs:
            proc.send_signal(signal.SIGUSR1)
        total: Counter[str] = Counter()
        for out in self.outs:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(OSError, ValueError):
                    counts = json.loads(Path(out).read_text())
                    if counts.get("snapshots", 0) >= self.seen:
                        break
                if time.monotonic() > deadline:
                    sys.exit(f"{out}: no counts from the daemon")
                time.sleep(0.02)
            total.update({k: v for k, v in counts.items() if k != "snapshots"})
        return total

    def stop(self) -> list[int]:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        codes = [proc.wait(120) for proc in self.procs]
        self._stop.set()
        self._reader.join()
        for sock in self.sockets:
            sock.close()
        return codes


def settle(daemons: Daemons, workers: int, cap_s: float = 180.0) -> None:
    """Wait until every daemon is ready: READY=1 said, its workers forked, and its tree's CPU
    quiet (under 2 % of a core) for two seconds running: the worker pool starts after READY."""
    deadline = time.monotonic() + cap_s
    while not daemons.poll_ready():
        if time.monotonic() > deadline:
            sys.exit("the daemons did not get ready")
        time.sleep(0.05)
    last, calm = daemons.cpu(), 0
    while calm < 2:
        if time.monotonic() > deadline:
            sys.exit("the daemons did not settle")
        time.sleep(1.0)
        now = daemons.cpu()
        quiet = all(b - a < 0.02 for a, b in zip(last, now, strict=True))
        forked = not workers or all(len(descendants(p.pid)) > workers for p in daemons.procs)
        calm = calm + 1 if quiet and forked else 0
        last = now


def release(imap: Any, users: list[str]) -> float:
    """Every instance's mail moved into its INBOX at once (one IMAP MOVE each, the sessions
    opened beforehand); the daemons' IDLE sees it arrive. The Unix time of the release."""
    barrier = threading.Barrier(len(users) + 1)
    stack = contextlib.ExitStack()
    clients = [stack.enter_context(imap.client(user)) for user in users]
    for client in clients:
        client.select_folder(HOLD)

    def move(client: Any) -> None:
        barrier.wait()
        client.move("1:*", "INBOX")

    threads = [threading.Thread(target=move, args=(client,)) for client in clients]
    with stack:
        for thread in threads:
            thread.start()
        released = time.time()
        barrier.wait()
        for thread in threads:
            thread.join()
    return released


def run_running(
    kind: str,
    count: int,
    mode: str,
    code: Path,
    n: int,
    args: argparse.Namespace,
    imap: Any,
    pg: Any,
    work: Path,
    tag: str,
) -> Result:
    """`count` running daemons of the code at `code`: started on empty mailboxes, timed from
    when their mail is released, once every one is ready and has idled `args.idle` seconds."""
    from integration.mailgen import italian_requests

    database = pg.create_database() if kind == "postgres" else ""
    url = pg.url(database) if database else f"sqlite:///{work / 'tickets.db'}"
    users, configs = [], []
    workers = workers_for(mode, count)
    for index in range(count):
        user = f"{tag}-{index}"
        imap.append(user, italian_requests(n // count, seed=index + 1, start=index * n + 1), HOLD)
        imap.flags(user, HOLD)  # a warm index for every set-up
        imap.flags(user)  # INBOX made, empty
        config = work / f"{index}.toml"
        config.write_text(
            CONFIG.format(
                url=url, store=work / "store", index=index, port=imap.port, user=user,
                batch_size=args.batch_size, workers=workers, idle="true",
            )
        )  # fmt: skip
        users.append(user)
        configs.append(config)
    env = daemon_env(code, work.parent)
    migrate_first(url, env, code)
    launched = time.monotonic()
    daemons = Daemons(configs, env, code, work)
    try:
        settle(daemons, workers)
        ready_s = time.monotonic() - launched
        cpu_ready = daemons.cpu()
        startup_cpu = sum(cpu_ready) / count
        trips_ready = round_trips(daemons.counts())
        time.sleep(args.idle)
        cpu_idle = daemons.cpu()
        idle_cpu = (sum(cpu_idle) - sum(cpu_ready)) / count / args.idle
        idle_counts = daemons.counts()
        idle_trips = (round_trips(idle_counts) - trips_ready) / count / args.idle
        before = counters(pg, database) if database else (0, 0)
        server_before = tree_cpu(pg.process.pid) if database else 0.0
        done = (n // count) * count
        with (
            LockSampler(pg, database) if database else NoSampler() as sampler,
            Registered(pg, database, work / "tickets.db") as registered,
        ):
            released = release(imap, users)
            while registered.count() < done:
                daemons.poll_ready()  # a daemon that died ends the bench
                time.sleep(0.2)
        cpu_done, busy_counts = daemons.cpu(), daemons.counts()
        server_cpu = tree_cpu(pg.process.pid) - server_before if database else 0.0
        time.sleep(1.1)  # the sessions' statistics reach pg_stat_database once a second
        after = counters(pg, database) if database else (0, 0)
        after = (after[0] - registered.asked, after[1] - registered.asked)  # the bench's own
    finally:
        codes = daemons.stop()
    if any(codes):
        sys.exit(f"{kind} x{count}: a daemon exited {codes}")
    reap_orphans({pg.process.pid, imap.process.pid})
    times = registered_at(pg, database, work / "tickets.db")
    low, high = times[done // 10], times[done - 1 - done // 10]
    result = Result(
        seconds=times[-1] - released,
        first_s=times[0] - released,
        middle_rate=(done - 1 - 2 * (done // 10)) / max(high - low, 1e-9),
        daemon_cpu=sum(cpu_done) - sum(cpu_idle),
        ready_s=ready_s,
        startup_cpu=startup_cpu,
        idle_cpu=idle_cpu,
        idle_trips=idle_trips,
    )
    if database:
        busy = busy_counts - idle_counts
        result.server_cpu = server_cpu
        result.trips = round_trips(busy) / done
        result.statements = (after[1] - before[1]) / done
        result.transactions = (after[0] - before[0]) / done
        result.lock_wait_s, result.waits = sampler.waited, sampler.by_query.most_common(4)
        result.counter_held_ms = 1000 * busy["counter_held_s"] / done
        result.counter_wait_ms = 1000 * busy["counter_wait_s"] / done
        result.top = top_statements(pg, database) if args.statements else []
        pg.drop_database(database)
    return result


def migrate_first(url: str, env: dict[str, str], code: Path) -> None:
    """The schema made before the timed run (`check-config` does not), so no run pays for it."""
    migrate = f"from inbox_daemon.store.db import open_store; open_store({url!r})"
    subprocess.run(
        [sys.executable, "-c", migrate], env=env, check=True, capture_output=True, cwd=code
    )


def daemon_env(code: Path, root: Path) -> dict[str, str]:
    """The daemons' environment: `code` first on the path, and bytecode cached (in the
    bench's folder, compiled beforehand by `compile_code`) as an installed daemon has it,
    even where the shell says not to write any (PYTHONDONTWRITEBYTECODE)."""
    from integration.dovecot import PASSWORD

    env = {**os.environ, "BENCH_IMAP_PASSWORD": PASSWORD, "PYTHONPATH": str(code)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(root / f"pycache-{abs(hash(str(code)))}")
    return env


def compile_code(code: Path, root: Path) -> None:
    """Bytecode, and the compiled rules where the code keeps them (`compiled_rules`), made
    as an installed daemon's first start leaves them."""
    packages = [str(code / name) for name in ("inbox_daemon", "parsers", "rules", "ocr")]
    env = daemon_env(code, root)
    run = {"env": env, "check": True, "stdout": subprocess.DEVNULL, "cwd": code}
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j0", *packages], **run)
    if (code / "inbox_daemon" / "compiled_rules.py").exists():
        warm = "from inbox_daemon.compiled_rules import shipped_rules; shipped_rules()"
        subprocess.run([sys.executable, "-c", warm], **run)


def registered_at(pg: Any, database: str, sqlite: Path) -> list[float]:
    """When each message was registered (its `processed_at`), as Unix times, in order."""
    from datetime import UTC, datetime

    if database:
        import psycopg

        with psycopg.connect(pg.dsn(database)) as conn:
            rows = conn.execute("SELECT processed_at FROM message").fetchall()
        return sorted(row[0].timestamp() for row in rows if row[0] is not None)
    import sqlite3

    with contextlib.closing(sqlite3.connect(sqlite)) as conn:
        rows = conn.execute("SELECT processed_at FROM message").fetchall()
    return sorted(
        datetime.fromisoformat(str(row[0])).replace(tzinfo=UTC).timestamp()
        for row in rows
        if row[0] is not None
    )


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
        "--once", action="store_true", help="time `run --once`, start-up included (the old way)"
    )
    parser.add_argument(
        "--volatile",
        action="store_true",
        help="PostgreSQL as the tests run it (fsync and synchronous_commit off)",
    )
    parser.add_argument(
        "--idle", type=float, default=10.0, help="seconds the ready daemons idle, measured"
    )
    parser.add_argument(
        "--only",
        nargs="*",
        default=[],
        metavar="KIND:COUNT:MODE",
        help="only these set-ups (e.g. postgres:3:each)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # the servers stopped too
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
        if not args.volatile:  # later lines win over the test server's fsync = off
            conf.write("fsync = on\nsynchronous_commit = on\n")
    pg.start()
    for code in codes.values():
        compile_code(code, root)
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
                        timed = run_setup if args.once else run_running
                        result = timed(kind, count, mode, code, args.n, args, imap, pg, work, tag)
                        results.setdefault((name, kind, count, mode), []).append(result)
                        shutil.rmtree(work, ignore_errors=True)
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    load = f"load average {min(loads):.1f}-{max(loads):.1f} at the starts"
    print(f"{started}, {os.cpu_count()} cores, {load}")
    for name, code in codes.items():
        report(args, name, code, results)
    if args.against:
        compare(args, results)


FIELDS = (
    "ready_s",
    "startup_cpu",
    "idle_cpu",
    "idle_trips",
    "seconds",
    "first_s",
    "middle_rate",
    "daemon_cpu",
    "server_cpu",
    "trips",
    "statements",
    "transactions",
    "lock_wait_s",
    "counter_held_ms",
    "counter_wait_ms",
)


def medians(runs: list[Result]) -> dict[str, float]:
    return {key: statistics.median(getattr(r, key) for r in runs) for key in FIELDS}


def report(args: argparse.Namespace, name: str, code: Path, results: dict) -> None:
    window = (
        "run --once, timed from the launch (start-up included)"
        if args.once
        else "running daemons, timed from the release of the mail once all are ready"
    )
    print(
        f"{name} code ({code}): {args.n} messages per set-up, one mailbox per instance, "
        f"batch_size {args.batch_size}, median of {args.runs} run(s); {window}"
    )
    rates, middles = {}, {}
    for (who, kind, count, mode), runs in results.items():
        if who != name:
            continue
        med = medians(runs)
        rate = rates[(kind, count, mode)] = args.n / med["seconds"]
        middles[(kind, count, mode)] = med["middle_rate"]
        spread = f"{min(r.seconds for r in runs):.2f}-{max(r.seconds for r in runs):.2f}"
        workers = workers_for(mode, count)
        cpu = f"cpu {med['daemon_cpu']:5.1f} s"
        if kind == "postgres":
            cpu += f" + server {med['server_cpu']:4.1f} s"
        per = med["daemon_cpu"] + med["server_cpu"]
        cpu += f" ({1000 * per / args.n:.2f} ms/msg)"
        print(
            f"  {kind:8} x{count}, {workers} worker{'s' * (workers != 1)} each: "
            f"{med['seconds']:6.2f} s ({spread}) {rate:6.1f} msg/s; middle 80 % "
            f"{med['middle_rate']:6.1f} msg/s; first after {med['first_s']:4.2f} s; {cpu}"
        )
        if not args.once:
            print(
                f"      ready {med['ready_s']:5.2f} s after the launch, "
                f"{med['startup_cpu']:4.2f} s CPU per instance; idle: "
                f"{100 * med['idle_cpu']:4.1f} % of a core and {med['idle_trips']:4.2f} round"
                " trips a second per instance"
            )
        if kind == "postgres":
            print(
                f"      per message: {med['trips']:4.2f} round trips, {med['statements']:4.2f}"
                f" statements, {med['transactions']:5.3f} transactions; counter held "
                f"{med['counter_held_ms']:4.2f} ms, waited for {med['counter_wait_ms']:4.2f}"
                f" ms; lock waits {med['lock_wait_s']:4.2f} s in all"
            )
        if args.statements and runs[-1].top:
            for calls, query in runs[-1].top[:25]:
                print(f"      {calls / args.n:6.3f}/msg  {query[:110]}")
            for query, waited in runs[-1].waits:
                print(f"      waited {waited:5.2f} s  {query}")
    one = ("postgres", 1, "each")
    for key in rates:
        if key[0] == "postgres" and key[1] > 1 and one in rates:
            print(
                f"  postgres x{key[1]} ({key[2]}) / x1: {rates[key] / rates[one]:.2f}x, "
                f"middle 80 % {middles[key] / middles[one]:.2f}x (target >= {TARGET}x)"
            )
    if one in rates and ("sqlite", 1, "each") in rates:
        print(f"  postgres x1 / sqlite x1: {rates[one] / rates[('sqlite', 1, 'each')]:.2f}x")


def compare(args: argparse.Namespace, results: dict) -> None:
    """This code against the other, set-up by set-up: medians of both."""
    print("this / other, set-up by set-up (medians): rate, middle-80 % rate, CPU, round trips")
    for (who, kind, count, mode), runs in results.items():
        other = results.get(("other", kind, count, mode))
        if who != "this" or not other:
            continue
        a, b = medians(runs), medians(other)
        trips = f", {a['trips']:.2f} / {b['trips']:.2f}" if kind == "postgres" else ""
        print(
            f"  {kind:8} x{count} ({mode}): {b['seconds'] / a['seconds']:.2f}x, "
            f"{a['middle_rate'] / b['middle_rate']:.2f}x, cpu {a['daemon_cpu']:.1f} / "
            f"{b['daemon_cpu']:.1f} s{trips}"
        )


if __name__ == "__main__":
    main()
