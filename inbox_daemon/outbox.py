"""Delivery of the outbox: every pending job is tried, failures retried with backoff.

An SMTP outage only delays acknowledgements: the job stays `pending` with its next attempt
time pushed back (capped exponential backoff), and becomes `failed` only after
`max_attempts`, visible in `acks list`.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlmodel import select

from inbox_daemon.config import SmtpRelay
from inbox_daemon.context import Context
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Outbox
from inbox_daemon.store.types import utcnow

log = logging.getLogger(__name__)
BACKOFF_BASE_S = 60
BACKOFF_MAX_S = 3600
_delivering = threading.Lock()  # the scheduler and the worker may both ask at once


def deliver_due(ctx: Context, now: datetime | None = None) -> int:
    """Try every due job once; return how many were sent."""
    with _delivering:
        return _deliver_due(ctx, now or utcnow())


def _deliver_due(ctx: Context, now: datetime) -> int:
    with transaction(ctx.engine) as session:
        due = list(
            session.exec(
                select(Outbox.id)
                .where(Outbox.state == "pending", Outbox.next_attempt_at <= now)
                .order_by(Outbox.id)
            )
        )
    return sum(_deliver(ctx, job_id) for job_id in due)


def _deliver(ctx: Context, job_id: int) -> bool:
    with transaction(ctx.engine) as session:
        job = session.get(Outbox, job_id)
        if job is None or job.state != "pending":
            return False
    message = build_message(ctx, job)
    try:
        send(relay_for(ctx, job.source), message)
    except (OSError, smtplib.SMTPException) as exc:
        _record_failure(ctx, job_id, f"{type(exc).__name__}: {exc}")
        return False
    with transaction(ctx.engine) as session:
        job = session.get(Outbox, job_id)
        job.state, job.sent_at, job.attempts = "sent", utcnow(), job.attempts + 1
        job.outgoing_message_id = message["Message-ID"]
        job.last_error = None
        session.add(job)
    return True


def build_message(ctx: Context, job: Outbox) -> EmailMessage:
    message = EmailMessage()
    message["From"] = ctx.acks.from_
    message["To"] = job.recipient
    message["Subject"] = job.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=ctx.acks.from_.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    for name, value in (job.headers or {}).items():
        message[name] = value
    message.set_content(job.body)
    return message


def relay_for(ctx: Context, source_name: str | None) -> SmtpRelay:
    """A source may have its own relay (a PEC mailbox replies through its PEC provider)."""
    if source_name:
        for source in ctx.config.sources:
            if source.name == source_name and getattr(source, "smtp", None) is not None:
                return source.smtp
    return ctx.acks.smtp


def send(relay: SmtpRelay, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    if relay.tls == "implicit":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            relay.host, relay.port, timeout=relay.timeout_s, context=context
        )
    else:
        client = smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout_s)
    with client:
        if relay.tls == "starttls":
            client.starttls(context=context)
        if relay.username:
            client.login(relay.username, relay.password or "")
        # Envelope sender empty: bounces of an automatic reply must not come back to us.
        client.send_message(message, from_addr="<>")


def _record_failure(ctx: Context, job_id: int, error: str) -> None:
    with transaction(ctx.engine) as session:
        job = session.get(Outbox, job_id)
        job.attempts += 1
        job.last_error = error[:2000]
        if job.attempts >= ctx.acks.max_attempts:
            job.state = "failed"
            log.error("outbox %s to %s: giving up after %d attempts: %s",
                      job_id, job.recipient, job.attempts, error)  # fmt: skip
        else:
            delay = min(BACKOFF_BASE_S * 2 ** (job.attempts - 1), BACKOFF_MAX_S)
            job.next_attempt_at = utcnow() + timedelta(seconds=delay)
            log.warning("outbox %s to %s: %s; retrying in %ds", job_id, job.recipient, error, delay)
        session.add(job)
