"""Several writers on one PostgreSQL database, as several daemon instances would be: the year's
counter made by two at once, the same bytes spooled by two at once, and whole `inbox-daemon`
processes working through the same messages at the same time. Nothing may be stored twice,
no request may get two tickets, and the numbers must run 1..N with no gap."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func
from sqlmodel import Session, select
from test_pipeline import ROME, request

from inbox_daemon.context import Context
from inbox_daemon.folder_states import Progress
from inbox_daemon.spool import Incoming, Origin, Spool, Spooled
from inbox_daemon.store.db import make_engine, transaction
from inbox_daemon.store.models import Message, Ticket, TicketCounter
from inbox_daemon.tickets import next_seq
from postgres.server import lock_waiters

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("postgres")]

REPO = Path(__file__).resolve().parents[2]


def wait_for_lock_waiter(engine: Engine, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not lock_waiters(engine):
        assert time.monotonic() < deadline, "no session came to wait for the lock"
        time.sleep(0.01)


def in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run `target` in a thread; the dict gets its result, or the exception it raised."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = target()
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def result_of(thread: threading.Thread, out: dict[str, Any]) -> Any:
    thread.join(30)
    assert not thread.is_alive(), "the writer is still blocked"
    if "error" in out:
        raise out["error"]
    return out["result"]


# --- the year's counter -------------------------------------------------------------------


@pytest.mark.parametrize("first_ends", ["commit", "rollback"])
def test_two_writers_making_the_years_counter_at_once(pg_ctx: Context, first_ends: str) -> None:
    """The year's first ticket makes the counter row; a second writer meanwhile finds no row
    to UPDATE, and its INSERT … ON CONFLICT DO NOTHING waits for the first one's: it then
    takes 2 (the first committed) or 1 (the first rolled back, giving its number back)."""
    year = 2031
    first = Session(pg_ctx.engine)
    first.begin()
    assert next_seq(first, year) == 1

    def second() -> int:
        with transaction(pg_ctx.engine) as session:
            return next_seq(session, year)

    thread, out = in_thread(second)
    wait_for_lock_waiter(pg_ctx.engine)  # blocked on the first one's uncommitted counter row
    getattr(first, first_ends)()
    first.close()

    assert result_of(thread, out) == (2 if first_ends == "commit" else 1)
    with transaction(pg_ctx.engine) as session:
        assert session.get_one(TicketCounter, year).last_seq == out["result"]


# --- the spool ----------------------------------------------------------------------------


class RacingSpool(Spool):
    """A spool racing another one on the same messages, made to meet at the worst moments.

    Its first look-up waits at `barrier`: both writers have looked up (and found nothing)
    before either inserts, so one of them must lose at its INSERT. Its INSERT goes one row
    per statement, and its second row waits until the other writer has inserted its first
    row (or waits for a lock itself): each holds a row before either goes on, as two big
    multi-row INSERTs running side by side on the server do some of the time.
    """

    def __init__(self, ctx: Context, barrier: threading.Barrier) -> None:
        super().__init__(
            ctx.engine.execution_options(insertmanyvalues_page_size=1), ctx.spool.blobs
        )
        self.barrier: threading.Barrier | None = barrier
        self.records = 0  # look-up-and-insert transactions: more than one = lost the race
        self.inserts = 0
        self.inserted = threading.Event()
        self.other: RacingSpool | None = None
        event.listen(ctx.engine, "before_cursor_execute", self._before_insert)
        event.listen(ctx.engine, "after_cursor_execute", self._after_insert)

    def _record(
        self, incomings: Sequence[Incoming], shas: Sequence[str], progress: Progress | None = None
    ) -> list[Spooled]:
        self.records += 1
        return super()._record(incomings, shas, progress)

    def _look_up(self, session: Any, incomings: Any, shas: Any) -> Any:
        found = super()._look_up(session, incomings, shas)
        barrier, self.barrier = self.barrier, None
        if barrier is not None:
            barrier.wait(timeout=10)
        return found

    def _before_insert(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("INSERT INTO message"):
            return
        self.inserts += 1
        if self.inserts == 2:
            assert self.other is not None
            deadline = time.monotonic() + 10
            while not (self.other.inserted.is_set() or lock_waiters(self.engine)):
                assert time.monotonic() < deadline, "the other writer never inserted"
                time.sleep(0.01)

    def _after_insert(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO message"):
            self.inserted.set()


@pytest.mark.parametrize("orders", ["same order", "opposite orders"])
def test_two_writers_spooling_the_same_bytes_at_once_make_one_row_each(
    pg_context: Callable[..., Context], orders: str
) -> None:
    """Two instances store the same messages at the same moment (the same mail reached both):
    the loser's INSERT fails on the unique sha256 (IntegrityError), and it redoes each message
    on its own, finding the winner's rows. In opposite orders each INSERT comes to hold a row
    the other one wants next: PostgreSQL ends one of them as deadlocked, and that one must
    recover the same way."""
    one, two = pg_context(), pg_context()  # two engines: two instances
    when = datetime(2026, 11, 24, 10, 0, tzinfo=ROME)
    batch = [Incoming(request(n), Origin("test"), when, "email") for n in range(1, 6)]
    barrier = threading.Barrier(2)
    spools = [RacingSpool(one, barrier), RacingSpool(two, barrier)]
    spools[0].other, spools[1].other = spools[1], spools[0]
    second_batch = batch if orders == "same order" else batch[::-1]

    runs = [
        in_thread(lambda: spools[0].store_many(batch)),
        in_thread(lambda: spools[1].store_many(second_batch)),
    ]
    first, second = (result_of(*run) for run in runs)
    if orders != "same order":
        second = second[::-1]

    assert [s.message_pk for s in first] == [s.message_pk for s in second]
    assert [s.new + t.new for s, t in zip(first, second, strict=True)] == [1] * len(batch)
    # one lost the race and redid its messages one by one (in opposite orders, the winner of
    # the deadlock may lose too, to a message the other redid and committed meanwhile)
    lost = sorted(spool.records > 1 for spool in spools)
    if orders == "same order":
        assert lost == [False, True]
    else:
        assert True in lost
    with transaction(one.engine) as session:
        assert session.exec(select(func.count()).select_from(Message)).one() == len(batch)
        stored = set(session.exec(select(Message.id)))
    assert stored == {s.message_pk for s in first}


# --- whole daemon processes ----------------------------------------------------------------

FOLDER_SOURCE = """
[[sources]]
name = "drop"
kind = "folder"
path = "{path}"
"""
ROUNDS = 2
PER_ROUND = 100


def _daemon(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "inbox_daemon.cli", "--config", str(config), *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finished(process: subprocess.Popen[str]) -> str:
    """The standard output of a process that must end well and log no error."""
    try:
        stdout, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise AssertionError(f"{process.args} hung:\n{stderr[-3000:]}") from None
    assert process.returncode == 0, f"{process.args} exited {process.returncode}:\n{stderr[-3000:]}"
    assert "Traceback" not in stderr and " ERROR " not in stderr, stderr[-3000:]
    return stdout


def test_three_daemon_processes_on_the_same_messages_make_each_ticket_once(
    tmp_path: Path, pg_config_file: Path, pg_url: str
) -> None:
    """Round after round, the same new messages reach three `inbox-daemon` processes sharing
    one database and one store folder, all started before any ends: two `run --once`, each
    with its own drop folder holding every message (spooled one by one, registered in
    batches), and one `ingest` of the same files in reverse order (spooled and registered one
    by one). Every message is stored once and gets one ticket, numbered without gap."""
    base = pg_config_file.read_text()
    configs = []
    for name in ("a", "b"):
        config = tmp_path / f"{name}.toml"
        config.write_text(base + FOLDER_SOURCE.format(path=tmp_path / f"drop-{name}"))
        configs.append(config)
    ingested: dict[str, str] = {}  # ticket number -> the file `ingest` made it for
    total = 0
    for round_ in range(ROUNDS):
        inbox = tmp_path / f"in-{round_}"
        inbox.mkdir()
        files = []
        for n in range(total + 1, total + PER_ROUND + 1):
            files.append(inbox / f"{n:05d}.eml")
            files[-1].write_bytes(request(n))
        for name in ("a", "b"):  # each instance's own drop folder, filled before it starts
            shutil.copytree(inbox, tmp_path / f"drop-{name}", dirs_exist_ok=True)
        total += PER_ROUND

        processes = [_daemon(config, "run", "--once") for config in configs]
        files.reverse()
        processes.append(_daemon(pg_config_file, "ingest", "--json", *map(str, files)))
        outputs = [_finished(process) for process in processes]

        results = [json.loads(line) for line in outputs[-1].splitlines()]
        assert len(results) == PER_ROUND
        assert {r["outcome"] for r in results} <= {"ticket", "duplicate"}, results
        for r in results:
            if r["outcome"] == "ticket":
                assert r["ticket"] not in ingested
                ingested[r["ticket"]] = r["file"]
        for name in ("a", "b"):  # each drop folder was read whole
            assert not list((tmp_path / f"drop-{name}").glob("*.eml"))
        _assert_each_message_once_with_one_ticket(pg_url, tmp_path / "store", total)

    # the processes did work through the same messages together: `ingest` made some of the
    # tickets, the `run --once` instances the others
    assert 0 < len(ingested) < total, len(ingested)

    # what `ingest` reported as its own tickets are those of its files
    by_number = _tickets_by_number(pg_url)
    for number, file in ingested.items():
        assert by_number[number] == f"<batch-{int(Path(file).stem)}@example.org>"
    listed = _finished(_daemon(pg_config_file, "tickets", "list", "--limit", str(total + 10)))
    numbers = [line.split()[0] for line in listed.splitlines()]
    year = datetime.now(ROME).year
    assert sorted(numbers) == [f"{year}/{n:06d}" for n in range(1, total + 1)]


def _assert_each_message_once_with_one_ticket(url: str, store: Path, total: int) -> None:
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            messages = list(session.exec(select(Message)))
            tickets = list(session.exec(select(Ticket)))
            counter = session.get_one(TicketCounter, datetime.now(ROME).year)
    finally:
        engine.dispose()
    assert len(messages) == len({m.sha256 for m in messages}) == total
    assert {(m.status, m.outcome, m.attempts) for m in messages} == {("processed", "ticket", 0)}
    assert sorted(t.seq for t in tickets) == list(range(1, total + 1))
    assert sorted(t.message_pk for t in tickets) == sorted(m.id for m in messages)
    assert len({t.message_id for t in tickets}) == total
    assert counter.last_seq == total
    raw = [p for p in (store / "raw").rglob("*") if p.is_file()]
    assert sorted(p.name for p in raw) == sorted(m.sha256 for m in messages)


def _tickets_by_number(url: str) -> dict[str, str | None]:
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            return dict(session.exec(select(Ticket.number, Ticket.message_id)).all())
    finally:
        engine.dispose()
