"""PostgreSQL restarted under running daemons: really stopped and started again, mid-run.

The test plays the senders: an SMTP client that retries whatever is not answered 250, a
Dovecot mailbox that keeps what is not moved, a drop folder that keeps what is not moved to
`.done/`. While the database is away the ingress must answer 451 (never 250 for a message it
did not store, never a dropped connection), every daemon must keep running, say so once,
and come back by itself; at the end every message is exactly one ticket, numbered 1..N.
"""

from __future__ import annotations

import signal
import smtplib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.dovecot import Dovecot, free_port
from integration.helpers import imap_source_toml
from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select
from test_pipeline import request

from inbox_daemon.leases import RENEW_S, TTL_S
from inbox_daemon.store.db import is_outage, make_engine, transaction
from inbox_daemon.store.models import Lease, Message, Ticket
from postgres.conftest import PG_CONFIG, daemon
from postgres.server import Postgres, running_postgres

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("postgres")]

REPO = Path(__file__).resolve().parents[2]
RCPT = "segnalazioni@example.it"


def test_only_a_server_going_away_counts_as_an_outage() -> None:
    """A lost or refused connection, a server shutting down or starting up: an outage, waited
    for quietly. A deadlock, a broken constraint, SQLite's busy lock: errors of the work."""
    import sqlite3

    import psycopg
    import psycopg.errors as pg
    from sqlalchemy.exc import IntegrityError, OperationalError

    def wrapped(orig: Exception, kind: type = OperationalError) -> Exception:
        return kind("SELECT 1", {}, orig)

    assert is_outage(wrapped(psycopg.OperationalError("connection refused")))
    assert is_outage(wrapped(pg.AdminShutdown("terminating connection")))
    assert is_outage(wrapped(pg.CannotConnectNow("the database system is starting up")))
    assert not is_outage(wrapped(pg.DeadlockDetected("deadlock detected")))
    assert not is_outage(wrapped(pg.UniqueViolation("duplicate key"), IntegrityError))
    assert not is_outage(wrapped(sqlite3.OperationalError("database is locked")))


@pytest.fixture
def own_postgres() -> Iterator[Postgres]:
    """A server of this test's own: it is stopped and started under the daemons."""
    with running_postgres() as server:
        yield server


def deliver(port: int, raw: bytes) -> int:
    """One SMTP delivery: the reply code to DATA (0: no answer at all)."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=15) as client:
            client.sendmail("cittadino@example.org", [RCPT], raw)
        return 250
    except smtplib.SMTPDataError as exc:
        return exc.smtp_code
    except (OSError, smtplib.SMTPException):
        return 0


def counts(url: str) -> tuple[int, int, list[int]]:
    """(messages stored, messages waiting, ticket numbers) as the database holds them."""
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            stored = session.exec(select(func.count(Message.id))).one()
            waiting = session.exec(
                select(func.count(Message.id)).where(Message.status == "received")
            ).one()
            seqs = sorted(session.exec(select(Ticket.seq)))
    finally:
        engine.dispose()
    return stored, waiting, seqs


def until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def config_file(
    tmp_path: Path, name: str, url: str, port: int, user: str, dovecot: Dovecot
) -> Path:
    config = tmp_path / f"{name}.toml"
    config.write_text(
        PG_CONFIG.format(url=url, store=tmp_path / "store")
        + f'[[sources]]\nname = "ingress-{name}"\nkind = "smtp"\nlisten = "127.0.0.1:{port}"\n'
        + f'recipients = ["{RCPT}"]\n'
        + f'[[sources]]\nname = "drop-{name}"\nkind = "folder"\npath = "{tmp_path / name}"\n'
        + "poll_interval_s = 1\n"
        + imap_source_toml(
            "posta",
            user,
            port=dovecot.port,
            after="move:Archivio",
            poll_interval_s=2,
            idle=False,
        )
    )
    (tmp_path / name).mkdir()
    return config


def test_postgresql_restarted_mid_run_loses_nothing_and_ingress_answers_451(
    tmp_path: Path, own_postgres: Postgres, dovecot: Dovecot
) -> None:
    url = own_postgres.url(own_postgres.create_database())
    user = "failover"
    ports = [free_port(), free_port()]
    configs = [
        config_file(tmp_path, name, url, port, user, dovecot)
        for name, port in zip("ab", ports, strict=True)
    ]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    daemons = [daemon(config, log) for config, log in zip(configs, logs, strict=True)]
    n = 0

    def next_raw() -> bytes:
        nonlocal n
        n += 1
        return request(n)

    try:
        # before: both instances take mail
        for i in range(10):
            raw = next_raw()
            until(lambda raw=raw, i=i: deliver(ports[i % 2], raw) == 250, 60, "a first 250")
        dovecot.append(user, [next_raw() for _ in range(10)])
        until(lambda: len(counts(url)[2]) == n, 90, "the first tickets")

        own_postgres.stop()  # fast shutdown: every session is ended
        time.sleep(1.0)
        away = [deliver(ports[i % 2], request(1000 + i)) for i in range(6)]
        dovecot.append(user, [next_raw() for _ in range(10)])  # waits on the server
        for i in range(5):
            (tmp_path / "a" / f"{i}.eml").write_bytes(next_raw())  # waits in the drop folder
        time.sleep(3.0)  # the daemons poll, fail, wait
        assert all(daemon.poll() is None for daemon in daemons), "a daemon died"
        own_postgres.start()

        # the messages refused meanwhile are retried by their sender, as an MTA would
        for i in range(6):
            until(lambda i=i: deliver(ports[i % 2], request(1000 + i)) == 250, 60, "250 again")
        total = n + 6
        until(lambda: len(counts(url)[2]) == total and counts(url)[1] == 0, 120, "every ticket")
    finally:
        for process in daemons:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=60) for process in daemons]

    assert away == [451] * 6, away  # told to retry, never a 250 for what was not stored
    stored, waiting, seqs = counts(url)
    assert (stored, waiting) == (total, 0)
    assert seqs == list(range(1, total + 1))
    assert dovecot.count(user, "INBOX") == 0 and dovecot.count(user, "Archivio") == 20
    assert not list((tmp_path / "a").glob("*.eml"))
    assert codes == [0, 0]
    for log in logs:
        text = log.read_text()
        assert text.count("unavailable") == 1, text[-4000:]
        assert text.count("reachable again") == 1, text[-4000:]
        assert "Traceback" not in text, text[-4000:]


# --- three instances, one folder, everything going wrong once ------------------------------

THREE_N = 3000


def lease_holder(url: str) -> str | None:
    """The instance holding the folder's lease now, if any (None before the schema exists)."""
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            return session.exec(select(Lease.holder).where(Lease.expires_at > func.now())).first()
    except SQLAlchemyError:  # not migrated yet, or the server is restarting
        return None
    finally:
        engine.dispose()


def stored(url: str) -> int:
    try:
        return counts(url)[0]
    except SQLAlchemyError:
        return 0


def test_three_instances_on_one_folder_survive_a_kill_a_stop_and_a_postgresql_restart(
    tmp_path: Path, own_postgres: Postgres, dovecot: Dovecot
) -> None:
    """The issue's run: three instances on one folder of 3,000 messages; the holder
    SIGKILLed mid-run, PostgreSQL restarted, the next holder SIGTERMed. Every message ends
    as one ticket numbered 1..N and is archived exactly once; the folder passes to a
    survivor within the bound each time."""
    url = own_postgres.url(own_postgres.create_database())
    user = "three"
    raws = [request(n) for n in range(1, THREE_N + 1)]
    dovecot.append(user, raws)
    source = imap_source_toml(
        "posta", user, port=dovecot.port, after="move:Archivio", poll_interval_s=1,
        idle=False, batch_size=50,
    )  # fmt: skip
    processes: dict[int, subprocess.Popen[bytes]] = {}
    logs = {}
    for name in "abc":
        config = tmp_path / f"{name}.toml"
        config.write_text(PG_CONFIG.format(url=url, store=tmp_path / "store") + source)
        process = daemon(config, tmp_path / f"{name}.log")
        processes[process.pid], logs[process.pid] = process, tmp_path / f"{name}.log"
    takeovers = []

    def pid_of(instance: str | None) -> int:
        return int(instance.split(":")[-2]) if instance else 0

    def take_over(signal_: signal.Signals) -> None:
        held = lease_holder(url)
        victim = processes[pid_of(held)]
        victim.send_signal(signal_)
        victim.wait(timeout=60)
        start = time.monotonic()
        until(lambda: lease_holder(url) not in (None, held), 60, "a survivor to take over")
        takeovers.append(time.monotonic() - start)

    try:
        until(lambda: lease_holder(url) and stored(url) >= THREE_N // 5, 120, "fetching")
        take_over(signal.SIGKILL)
        until(lambda: stored(url) >= THREE_N // 2, 120, "more fetching")
        own_postgres.stop()
        time.sleep(2.0)
        own_postgres.start()
        until(lambda: stored(url) >= THREE_N * 3 // 4, 120, "fetching after the restart")
        take_over(signal.SIGTERM)
        until(lambda: counts(url)[2] and len(counts(url)[2]) == THREE_N, 300, "every ticket")
        until(lambda: dovecot.count(user, "INBOX") == 0, 60, "the folder emptied")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)

    assert all(took <= TTL_S + RENEW_S + 5 for took in takeovers), takeovers
    assert len(takeovers) == 2
    total, waiting, seqs = counts(url)
    assert (total, waiting) == (THREE_N, 0)
    assert seqs == list(range(1, THREE_N + 1))
    with dovecot.client(user) as client:
        client.select_folder("Archivio", readonly=True)
        found = client.fetch(client.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    archived = [
        d[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].split(b":", 1)[1].strip() for d in found.values()
    ]
    assert len(archived) == THREE_N and len(set(archived)) == THREE_N  # each archived once
    survivors = [p for p in processes.values() if p.returncode == 0]
    assert len(survivors) == 2  # the SIGTERMed one and the last, both stopped cleanly
    for pid, log in logs.items():
        text = log.read_text()
        assert "Traceback" not in text or processes[pid].returncode == -9, text[-3000:]
