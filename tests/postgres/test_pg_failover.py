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
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.dovecot import PASSWORD, Dovecot, free_port
from integration.helpers import PASSWORD_ENV, dovecot_or_skip, imap_source_toml
from sqlalchemy import func
from sqlmodel import select
from test_pipeline import request

from inbox_daemon.store.db import make_engine, transaction
from inbox_daemon.store.models import Message, Ticket
from postgres.conftest import PG_CONFIG
from postgres.server import Postgres, running_postgres

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("postgres")]

REPO = Path(__file__).resolve().parents[2]
RCPT = "segnalazioni@example.it"


@pytest.fixture
def own_postgres() -> Iterator[Postgres]:
    """A server of this test's own: it is stopped and started under the daemons."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with dovecot_or_skip() as server:
        yield server


def daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {"PATH": "/usr/bin:/bin", PASSWORD_ENV: PASSWORD, "PYTHONPATH": str(REPO)}
    with open(log, "ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "inbox_daemon.cli", "--config", str(config), "run"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
        )  # fmt: skip


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
