"""The daemon killed (SIGKILL) while mail is being delivered to its SMTP ingress.

The test plays a sending MTA: a message counts as delivered only when the daemon said 250;
otherwise it is retried, as any MTA would. Whatever moment the daemon dies at, every message
ends up as exactly one ticket: a 250 means it was stored, and a delivery retried after a 250
lost in flight is recognised.
"""

from __future__ import annotations

import os
import random
import signal
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import func, select

from inbox_daemon.store.db import open_store, transaction
from inbox_daemon.store.models import Message, Ticket
from tests.conftest import BASE_CONFIG
from tests.smtp.conftest import free_port

pytestmark = pytest.mark.slow


def request(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"cittadino{i}@example.org"
    msg["To"] = "segnalazioni@example.it"
    msg["Subject"] = f"Lampione spento in via Garibaldi {i}"
    msg["Message-ID"] = f"<kill-smtp-{i}@example.org>"
    msg.set_content(f"Buongiorno, il lampione IP-{i:06d} è spento da tre giorni.")
    return msg.as_bytes()


def start_daemon(config: Path, log: Path | None = None) -> subprocess.Popen[bytes]:
    """The daemon as a process; its warnings and errors go to `log` when given."""
    command = [sys.executable, "-m", "inbox_daemon.cli", "--config", str(config), "-q", "run"]
    with open(log or os.devnull, "ab") as stderr:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)


def deliver(port: int, raw: bytes) -> bool:
    """One delivery attempt; True only on 250 to DATA."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.sendmail("cittadino@example.org", ["segnalazioni@example.it"], raw)
        return True
    except (OSError, smtplib.SMTPException):
        return False


def tickets(tmp_path: Path) -> int:
    """How many tickets the daemon on `tmp_path` (see `ingress_config`) has made."""
    return counts(f"sqlite:///{tmp_path}/tickets.db")[0]


def counts(db_url: str) -> tuple[int, int, int]:
    engine = open_store(db_url)
    with transaction(engine) as s:
        tickets = s.exec(select(func.count(Ticket.id))).one()
        waiting = s.exec(select(func.count(Message.id)).where(Message.status == "received")).one()
        distinct = s.exec(select(func.count(func.distinct(Ticket.message_id)))).one()
    engine.dispose()
    return tickets, waiting, distinct


def ingress_config(tmp_path: Path, extra: str = "") -> tuple[Path, int]:
    """A daemon's config file with an SMTP ingress on a free port (plus `extra` TOML)."""
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        BASE_CONFIG
        + f'[[sources]]\nname = "ingress"\nkind = "smtp"\nlisten = "127.0.0.1:{port}"\n'
        + 'recipients = ["segnalazioni@example.it"]\n'
        + extra
    )
    return config, port


def test_sigkill_during_smtp_delivery_loses_nothing_and_duplicates_nothing(tmp_path):
    config, port = ingress_config(tmp_path)
    messages = [request(i) for i in range(60)]
    pending = list(range(len(messages)))
    rng = random.Random(1124)
    daemon = start_daemon(config)
    kills = 0
    deadline = time.monotonic() + 240
    while pending and time.monotonic() < deadline:
        i = pending[0]
        if deliver(port, messages[i]):
            pending.pop(0)
        else:
            time.sleep(0.1)  # the daemon is (re)starting: the MTA retries later
        if kills < 4 and rng.random() < 0.08:
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            kills += 1
            daemon = start_daemon(config)
    assert not pending, f"never accepted: {pending}"
    assert kills == 4
    db_url = f"sqlite:///{tmp_path}/tickets.db"
    while time.monotonic() < deadline:  # let the last daemon finish processing
        tickets, waiting, _ = counts(db_url)
        if waiting == 0 and tickets >= len(messages):
            break
        time.sleep(0.3)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=60) == 0
    tickets, waiting, distinct = counts(db_url)
    assert (tickets, waiting, distinct) == (len(messages), 0, len(messages))
