"""The daemon on a real Dovecot: every message one ticket, whatever happens to the process or
the server on the way."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from inbox_daemon.config import load_config
from inbox_daemon.context import build_context
from inbox_daemon.daemon import Daemon
from inbox_daemon.errors import ExitCode
from inbox_daemon.store.db import open_store
from inbox_daemon.store.models import Message, Ticket
from integration.dovecot import PASSWORD, Dovecot
from integration.helpers import PASSWORD_ENV, count, duplicates, imap_source_toml
from integration.mailgen import italian_requests
from tests.conftest import BASE_CONFIG

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dovecot")]
CLI = Path(sys.executable).with_name("inbox-daemon")


@pytest.fixture
def config_file(tmp_path: Path, dovecot: Dovecot, imap_password: str) -> Callable[..., Path]:
    """A config file on disk (for the daemon as a subprocess) with the given IMAP sources."""

    def write(*sources: dict[str, object]) -> Path:
        tables = [imap_source_toml(**{"port": dovecot.port, **s}) for s in sources]
        path = tmp_path / "config.toml"
        path.write_text(BASE_CONFIG + "\n".join(tables), encoding="utf-8")
        return path

    return write


def daemon_env() -> dict[str, str]:
    return {**os.environ, PASSWORD_ENV: PASSWORD, "INBOX_TEST_WRONG_PASSWORD": "sbagliata"}


def run_cli(config: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "--config", str(config), *args],
        env=daemon_env(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_every_request_becomes_one_ticket(
    dovecot: Dovecot, new_user: Callable[[], str], config_file: Callable[..., Path]
) -> None:
    user = new_user()
    dovecot.append(user, italian_requests(300))
    config = load_config(config_file({"name": "posta", "user": user, "after": "move:Processed"}))
    ctx = build_context(config)

    assert Daemon(ctx).run_once() == ExitCode.ok
    assert count(ctx.engine, Ticket) == 300
    assert Daemon(ctx).run_once() == ExitCode.ok  # nothing new: nothing made
    assert count(ctx.engine, Ticket) == 300 and count(ctx.engine, Message) == 300
    assert dovecot.count(user, "INBOX") == 0 and dovecot.count(user, "Processed") == 300


def rows(db: Path, table: str) -> int:
    """Rows committed so far, read beside a running daemon (WAL: readers never block it)."""
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        try:
            return int(conn.execute(f"select count(*) from {table}").fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0


def kill_at(daemon: subprocess.Popen[bytes], db: Path, table: str, target: int) -> bool:
    """SIGKILL the daemon once `table` holds `target` rows; False if it finished first."""
    deadline = time.monotonic() + 120
    while daemon.poll() is None and time.monotonic() < deadline:
        if rows(db, table) >= target:
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            return True
        time.sleep(0.005)
    daemon.wait()
    return False


@pytest.mark.slow
def test_killed_at_random_moments_ends_with_one_ticket_per_message(
    dovecot: Dovecot, new_user: Callable[[], str], config_file: Callable[..., Path]
) -> None:
    """SIGKILL four times while fetching and twice while processing, each at a random point
    of progress; then one complete run."""
    total = 400
    user = new_user()
    dovecot.append(user, italian_requests(total, seed=7))
    config = config_file(
        {"name": "posta", "user": user, "after": "move:Processed", "batch_size": 10}
    )
    db = config.parent / "tickets.db"
    rng = random.Random()
    kills = {"message": 0, "ticket": 0}
    for table in ["message"] * 4 + ["ticket"] * 2:
        done = rows(db, table)
        target = done + rng.randint(1, max(1, (total - done) // 3))
        daemon = subprocess.Popen(
            [str(CLI), "--config", str(config), "-q", "run", "--once"],
            env=daemon_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        kills[table] += kill_at(daemon, db, table, target)
    final = run_cli(config, "run", "--once")

    assert final.returncode == 0, final.stderr
    assert kills == {"message": 4, "ticket": 2}
    engine = open_store(load_config(config).database.url)
    assert count(engine, Ticket) == total
    assert count(engine, Message) == total
    assert duplicates(engine) == []
    assert dovecot.count(user, "INBOX") == 0
    assert dovecot.count(user, "Processed") == total


def test_wrong_password_fails_that_source_only(
    dovecot: Dovecot,
    new_user: Callable[[], str],
    config_file: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("INBOX_TEST_WRONG_PASSWORD", "sbagliata")
    pec_user, mail_user = new_user(), new_user()
    dovecot.append(pec_user, italian_requests(2))
    dovecot.append(mail_user, italian_requests(3, start=3))
    config = load_config(
        config_file(
            {"name": "pec", "user": pec_user, "password_env": "INBOX_TEST_WRONG_PASSWORD"},
            {"name": "posta", "user": mail_user},
        )
    )
    ctx = build_context(config)

    with caplog.at_level(logging.ERROR):
        assert Daemon(ctx).run_once() == ExitCode.source_failed
    assert count(ctx.engine, Ticket) == 3
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        f"source pec: login refused for {pec_user} at 127.0.0.1: "
        "check password_env INBOX_TEST_WRONG_PASSWORD"
    ]


def test_server_outage_reported_once_then_recovered(
    dovecot: Dovecot,
    new_user: Callable[[], str],
    config_file: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = new_user()
    config = load_config(config_file({"name": "posta", "user": user, "poll_interval_s": 0.05}))
    daemon = Daemon(build_context(config))
    [source] = daemon.polled
    dovecot.append(user, italian_requests(1))
    assert daemon.poll(source)

    with caplog.at_level(logging.INFO, logger="inbox_daemon.daemon"):
        dovecot.stop()
        try:
            failures = [daemon.poll(source) for _ in range(4)]
        finally:
            dovecot.start()
        dovecot.append(user, italian_requests(1, start=2))
        time.sleep(0.5)  # longer than the backoff after four failures at this interval
        assert daemon.poll(source)
    source.close()

    assert failures == [False] * 4
    logged = [r.getMessage() for r in caplog.records if r.name == "inbox_daemon.daemon"]
    faults = [m for m in logged if "refused" in m]
    assert len(faults) == 1 and "is the server running" in faults[0]
    assert "source posta: working again" in logged
    assert count(daemon.ctx.engine, Message) == 2


def wait_for_tickets(engine: Engine, daemon: subprocess.Popen[str], wanted: int) -> int:
    deadline = time.monotonic() + 60
    while count(engine, Ticket) < wanted and time.monotonic() < deadline:
        assert daemon.poll() is None, "the daemon exited"
        time.sleep(0.2)
    return count(engine, Ticket)


def test_idle_turns_new_mail_into_a_ticket_without_waiting_for_the_poll(
    dovecot: Dovecot, new_user: Callable[[], str], config_file: Callable[..., Path]
) -> None:
    """The poll interval is an hour: only IDLE (and its reconnection after the server comes
    back) can bring these messages in."""
    user = new_user()
    config = config_file({"name": "posta", "user": user, "idle": True, "poll_interval_s": 3600})
    engine = open_store(load_config(config).database.url)
    daemon = subprocess.Popen(
        [str(CLI), "--config", str(config), "run"],
        env=daemon_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(2)  # let the first poll (at start) find an empty mailbox
        dovecot.append(user, italian_requests(1))
        assert wait_for_tickets(engine, daemon, 1) == 1

        dovecot.restart()  # the IDLE connection drops; the watcher reconnects and catches up
        dovecot.append(user, italian_requests(1, start=2))
        assert wait_for_tickets(engine, daemon, 2) == 2
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, err
