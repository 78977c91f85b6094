"""Webhooks through the real outbox to a real HTTP server on loopback that checks the
signature: an outage, then the ticket delivered once; a receiver's refusal is final."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from inbox_daemon import pipeline, webhooks
from inbox_daemon.delivery import Delivery
from inbox_daemon.spool import Incoming, Origin
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Outbox
from inbox_daemon.store.types import utcnow

SECRET = "s3gret0-condiviso"


class Receiver(ThreadingHTTPServer):
    """Answers with the next status of `answers` (the last repeats), keeps what it got."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answers: list[int] = [200]
        self.received: list[tuple[dict[str, str], bytes]] = []


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # http.server's hook name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body))
        status = (
            self.server.answers.pop(0) if len(self.server.answers) > 1 else self.server.answers[0]
        )
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def routed(make_context, receiver: Receiver, monkeypatch):
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    port = receiver.server_address[1]
    return make_context(
        f'[[routing]]\nqueue = "manutenzione"\nwebhook = "http://127.0.0.1:{port}/tickets"\n'
        'webhook_secret_env = "TEST_WEBHOOK_SECRET"\n'
    )


def a_ticket(ctx) -> str:
    raw = (
        b"From: Anna <anna@example.org>\r\nSubject: Lampione spento\r\n"
        b"Message-ID: <wh-1@example.org>\r\n\r\nIl lampione IP-004512 e' spento.\r\n"
    )
    when = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/Rome"))
    ctx.spool.store(Incoming(raw, Origin("test"), when, "email"))
    [outcome] = pipeline.process_pending(ctx)
    return outcome.ticket


def jobs(ctx) -> list[Outbox]:
    with transaction(ctx.engine) as session:
        return list(session.exec(select(Outbox).where(Outbox.kind == "webhook")))


def due_now(ctx) -> None:
    """The outage's backoff, run out: the job is due again (the clock, not the code, moves)."""
    with transaction(ctx.engine) as session:
        for job in session.exec(select(Outbox).where(Outbox.kind == "webhook")):
            job.next_attempt_at = utcnow()
            session.add(job)


def test_an_outage_then_the_ticket_signed_and_delivered_once(make_context, receiver, monkeypatch):
    ctx = routed(make_context, receiver, monkeypatch)
    number = a_ticket(ctx)
    receiver.answers = [503, 200]
    assert webhooks.deliver_due(ctx) == 0  # the receiver is down: kept, retried later
    [job] = jobs(ctx)
    assert (job.state, job.attempts) == ("pending", 1) and "503" in (job.last_error or "")
    due_now(ctx)
    assert webhooks.deliver_due(ctx) == 1
    assert webhooks.deliver_due(ctx) == 0  # never twice
    assert len(receiver.received) == 2
    headers, body = receiver.received[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Inbox-Signature"] == expected
    assert headers["Idempotency-Key"] == number
    sent = json.loads(body)
    assert (sent["number"], sent["queue"], sent["pole_codes"]) == (number, "manutenzione",
                                                                  ["IP-004512"])  # fmt: skip
    assert jobs(ctx)[0].state == "sent"


def test_a_refusal_by_the_receiver_is_final(make_context, receiver, monkeypatch):
    ctx = routed(make_context, receiver, monkeypatch)
    a_ticket(ctx)
    receiver.answers = [400]
    assert webhooks.deliver_due(ctx) == 0
    [job] = jobs(ctx)
    assert job.state == "failed" and "HTTP 400" in (job.last_error or "")


def test_the_daemons_delivery_threads_send_webhooks_too(make_context, receiver, monkeypatch):
    """What `run` does: the delivery threads, woken after registration, post the ticket."""
    ctx = routed(make_context, receiver, monkeypatch)
    number = a_ticket(ctx)
    delivery = Delivery(ctx)
    delivery.start()
    try:
        delivery.wake()
        for _ in range(100):
            if receiver.received:
                break
            threading.Event().wait(0.1)
    finally:
        delivery.stop()
    assert [h["Idempotency-Key"] for h, _ in receiver.received] == [number]
