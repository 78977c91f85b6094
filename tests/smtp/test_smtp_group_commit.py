"""Group commit keeps the promise of each 250: the daemon is killed (SIGKILL) while ten
sessions deliver at once, and every message that was answered 250 is there afterwards, its
row committed and its bytes in the store. (SIGKILL leaves the page cache alone, so this
catches a 250 sent before its message was written and committed; that the write is synced
is the store's promise, tested with it.)"""

from __future__ import annotations

import re
import signal
import smtplib
import threading
from pathlib import Path

import pytest
from sqlmodel import select

from inbox_daemon.spool import BlobStore
from inbox_daemon.store.db import open_store, transaction
from inbox_daemon.store.models import Message
from tests.smtp.conftest import free_port
from tests.smtp.test_smtp_bounds import until
from tests.smtp.test_smtp_flood import start_daemon, try_send, write_config
from tests.smtp.test_smtp_kill import request

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SESSIONS = 10
MESSAGE_ID = re.compile(rb"<kill-smtp-\d+@example.org>|<ingress-1@example.org>")


def deliver_until_refused(port: int, session: int, accepted: list[str]) -> None:
    """Send one message per connection until the daemon is gone; note each 250's id."""
    for i in range(10_000):
        n = session * 10_000 + i
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                client.sendmail("a@example.org", ["segnalazioni@example.it"], request(n))
        except (OSError, smtplib.SMTPException):
            return
        accepted.append(f"<kill-smtp-{n}@example.org>")  # list.append is atomic


def test_every_message_answered_250_survives_a_sigkill(tmp_path: Path):
    port = free_port()
    config = write_config(tmp_path, port)
    daemon = start_daemon(config, tmp_path / "daemon.log", nofile=1024)
    try:
        assert until(lambda: try_send(port) == 250, 60)
        accepted: list[str] = []
        senders = [
            threading.Thread(target=deliver_until_refused, args=(port, n, accepted))
            for n in range(SESSIONS)
        ]
        for sender in senders:
            sender.start()
        assert until(lambda: len(accepted) >= 300, 120)
        daemon.send_signal(signal.SIGKILL)  # mid-stream: batches are being written
        daemon.wait(timeout=30)
        for sender in senders:
            sender.join(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    engine = open_store(f"sqlite:///{tmp_path}/tickets.db")
    with transaction(engine) as session:
        shas = [m.sha256 for m in session.exec(select(Message))]
    engine.dispose()
    blobs = BlobStore(tmp_path / "store")  # a row whose file is missing fails right here
    stored = {MESSAGE_ID.search(blobs.get("raw", sha)).group(0).decode() for sha in shas}
    missing = [mid for mid in accepted if mid not in stored]
    assert not missing, f"{len(missing)} of {len(accepted)} answered 250 but not stored"
