"""Webhook jobs of the outbox: the ticket's export object POSTed as JSON, signed.

A routing rule's `webhook = "https://…"` queues one job per ticket (with the ticket, in its
transaction, like every outbox job). The body is built when the job is sent, from the ticket
as it is then (`tickets.export_row`), and carries:

- `X-Inbox-Signature: sha256=<hex>`: HMAC-SHA256 of the body with the secret of
  `webhook_secret_env` / `webhook_secret_file`, so that the receiver knows it is ours;
- `Idempotency-Key: <ticket number>`: a receiver that saw the number already ignores the
  copy that a crash between its 2xx and our record of it would resend (at least once).

2xx is sent; 408, 429 and 5xx, or no answer, are retried with the outbox's backoff; any other
4xx is final (the receiver refuses this body: retrying cannot help), `failed`, in `status`.
The stdlib's HTTP client suffices for one POST; it verifies TLS certificates by default.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.request
from datetime import datetime

from sqlmodel import select

from inbox_daemon import outbox
from inbox_daemon.context import Context
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Outbox, Ticket
from inbox_daemon.store.types import utcnow
from inbox_daemon.tickets import export_row

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0
RETRIED = frozenset({408, 425, 429})


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver_due(ctx: Context, stop: threading.Event | None = None) -> int:
    """Every due webhook job once; how many were sent."""
    sent = 0
    for job_id in _due(ctx, utcnow()):
        if stop is not None and stop.is_set():
            break
        job = outbox.claim(ctx, job_id, utcnow())
        if job is not None:
            sent += _deliver(ctx, job)
    return sent


def next_due(ctx: Context) -> datetime | None:
    with transaction(ctx.engine) as session:
        query = select(Outbox.next_attempt_at).where(
            Outbox.kind == "webhook", Outbox.state.in_(("pending", "sending"))
        )
        return session.exec(query.order_by(Outbox.next_attempt_at).limit(1)).first()


def _due(ctx: Context, now: datetime) -> list[int]:
    with transaction(ctx.engine) as session:
        query = select(Outbox.id).where(
            Outbox.kind == "webhook",
            Outbox.state.in_(("pending", "sending")),
            Outbox.next_attempt_at <= now,
        )
        return [i for i in session.exec(query.order_by(Outbox.id).limit(outbox.DUE_BATCH)) if i]


def _deliver(ctx: Context, job: Outbox) -> bool:
    assert job.id is not None
    with transaction(ctx.engine) as session:
        ticket = session.get(Ticket, job.ticket_id) if job.ticket_id else None
        row = export_row(session, ticket, ctx.tz) if ticket else None
    if row is None:
        outbox.record_failure(ctx, job.id, utcnow(), "the ticket is gone", permanent=True)
        return False
    body = json.dumps(row, ensure_ascii=False, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Idempotency-Key": row["number"],
        "User-Agent": "inbox-daemon",
    }
    secret = (job.headers or {}).get("secret_ref")
    if secret:
        headers["X-Inbox-Signature"] = signature(_secret(ctx, secret), body)
    request = urllib.request.Request(job.recipient, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            answer.read(65536)
    except urllib.error.HTTPError as exc:
        final = 400 <= exc.code < 500 and exc.code not in RETRIED
        outbox.record_failure(ctx, job.id, utcnow(), f"HTTP {exc.code} {exc.reason}", final)
        return False
    except OSError as exc:  # refused, timed out, TLS: the receiver is away, try later
        outbox.record_failure(ctx, job.id, utcnow(), f"{type(exc).__name__}: {exc}", False)
        return False
    outbox.record_sent(ctx, job.id, utcnow())
    return True


def _secret(ctx: Context, ref: str) -> str:
    """The secret of the routing rule `ref` names ("routing[N]"), read when it is needed."""
    index = int(ref.removeprefix("routing[").removesuffix("]")) - 1
    return ctx.config.routing[index].password or ""
