"""One fetcher per mailbox folder on a shared PostgreSQL: the folder's lease.

First the lease alone (two holders on one database, short leases); then two `inbox-daemon
run` processes on one real Dovecot folder with `after = "move:Archivio"`: only the holder
fetches and moves, the other stands by; the holder is SIGKILLed mid-run and the survivor
takes the folder over within the bound; every message ends as one ticket and is archived once.
"""

from __future__ import annotations

import email
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from integration.dovecot import Dovecot
from integration.helpers import imap_source_toml
from integration.mailgen import italian_requests
from sqlalchemy import func
from sqlalchemy.exc import ProgrammingError
from sqlmodel import select

from inbox_daemon.context import Context
from inbox_daemon.leases import RENEW_S, TTL_S, Leases, folder_lease
from inbox_daemon.store.db import make_engine, transaction
from inbox_daemon.store.models import Lease, Message, Ticket
from postgres.conftest import PG_CONFIG, daemon

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("postgres")]
REPO = Path(__file__).resolve().parents[2]


# --- the lease alone ----------------------------------------------------------------------


def test_a_lease_is_held_by_one_until_it_expires_or_is_released(pg_ctx: Context) -> None:
    one, two = Leases(pg_ctx.engine, "one", ttl_s=2.0), Leases(pg_ctx.engine, "two", ttl_s=2.0)
    name = folder_lease("posta", "INBOX")

    assert one.take(name, "posta") is None  # made
    assert two.take(name, "posta") == "one"  # held: the other stands by
    assert one.holds(name) and not two.holds(name)
    time.sleep(1.2)
    assert one.renew() == set()  # renewed by its holder before it expired
    assert two.take(name, "posta") == "one"
    time.sleep(1.2)
    assert two.take(name, "posta") == "one"  # renewed 1.2 s ago: still not expired

    time.sleep(2.2)  # `one` stops renewing (it died, or lost the database)
    assert not one.holds(name)  # its own judgement lapsed before the database's expiry
    assert two.renew() == {"posta"}  # the standby asks at its beat, and takes it over
    assert two.holds(name)
    one.renew()  # `one` comes back: it finds the lease lost and no longer acts under it
    assert not one.holds(name) and one.take(name, "posta") == "two"

    two.release([name])  # a stopping instance frees its folders at once
    assert one.take(name, "posta") is None
    with transaction(pg_ctx.engine) as session:
        assert session.exec(select(Lease.holder)).all() == ["one"]


# --- two daemons on one folder -------------------------------------------------------------

N = 400


def holder(url: str) -> str | None:
    """Who holds the folder's lease now (None: no one, or the schema is not made yet)."""
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            row = session.exec(select(Lease.holder).where(Lease.expires_at > func.now())).first()
    except ProgrammingError:
        return None
    finally:
        engine.dispose()
    return row


def counts(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            tickets = session.exec(select(func.count(Ticket.id))).one()
            stored = session.exec(select(func.count(Message.id))).one()
    finally:
        engine.dispose()
    return tickets, stored


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"timed out waiting for {what}"
        time.sleep(0.2)
    return time.monotonic() - start


def test_two_daemons_on_one_folder_one_fetches_the_other_takes_over_when_it_is_killed(
    tmp_path: Path, pg_url: str, dovecot: Dovecot
) -> None:
    user = "leases"
    raws = italian_requests(N, seed=22)
    ids = {email.message_from_bytes(raw)["Message-ID"] for raw in raws}
    dovecot.append(user, raws[: N // 2])
    source = imap_source_toml(
        "posta", user, port=dovecot.port, after="move:Archivio", poll_interval_s=1,
        batch_size=10, idle=False,
    )  # fmt: skip
    configs, logs = [], []
    for name in ("a", "b"):
        configs.append(tmp_path / f"{name}.toml")
        configs[-1].write_text(PG_CONFIG.format(url=pg_url, store=tmp_path / "store") + source)
        logs.append(tmp_path / f"{name}.log")
    first = daemon(configs[0], logs[0])
    wait_for(lambda: holder(pg_url), 60, "the first instance to take the folder")
    second = daemon(configs[1], logs[1])
    wait_for(lambda: "stands by" in logs[1].read_text(), 60, "the second to stand by")
    try:
        dovecot.append(user, raws[N // 2 :])  # arrives while both run
        wait_for(lambda: counts(pg_url)[1] >= N // 2 + 20, 120, "the holder to fetch")
        held_by = holder(pg_url)
        first.send_signal(signal.SIGKILL)  # mid-run: between batches, or in one
        first.wait()
        took = wait_for(lambda: holder(pg_url) not in (None, held_by), 60, "a takeover")
        wait_for(lambda: counts(pg_url) == (N, N), 180, "every message to be a ticket")
        wait_for(lambda: dovecot.count(user, "INBOX") == 0, 60, "the folder to be emptied")
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)

    assert took <= TTL_S + RENEW_S + 5, took  # the bound: a lease's life and one beat
    with dovecot.client(user) as client:
        client.select_folder("Archivio", readonly=True)
        found = client.fetch(client.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    archived = [
        email.message_from_bytes(d[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"])["Message-ID"]
        for d in found.values()
    ]
    assert len(archived) == N and set(archived) == ids  # archived exactly once each
    engine = make_engine(pg_url)
    with transaction(engine) as session:
        seqs = sorted(session.exec(select(Ticket.seq)))
        assert len(set(session.exec(select(Ticket.message_id)))) == N
    engine.dispose()
    assert seqs == list(range(1, N + 1))
    # the standby fetched nothing before the takeover, and said so once
    assert logs[1].read_text().count("stands by") == 1
