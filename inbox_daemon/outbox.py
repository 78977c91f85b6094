"""Delivery of the outbox: every due job is tried, failures retried with backoff.

An SMTP outage only delays acknowledgements: the job goes back to `pending` with its next
attempt pushed back (capped exponential backoff with jitter, so a recovering relay is not hit
by every job at once), and becomes `failed` only after `max_attempts`, or at once when the
recipient's server refuses it for good (5xx); `acks list` shows both.

Never twice: a job is claimed before it is sent by one atomic UPDATE from `pending` to
`sending`, so of two threads, processes or daemon instances on one database only one wins.
The claim is a lease (`next_attempt_at` moves to the lease's end): a job left `sending` by a
crash is due again once the lease expires. The lease is much longer than any send can take;
the one remaining window (sent, then a crash before `sent` is recorded) resends with the same
Message-ID, which lets the recipient's software recognise the copy.
"""

from __future__ import annotations

import logging
import random
import smtplib
import ssl
import threading
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlmodel import select, update

from inbox_daemon.acks import one_line
from inbox_daemon.config import SmtpRelay
from inbox_daemon.context import Context
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Outbox
from inbox_daemon.store.types import utcnow

log = logging.getLogger(__name__)
BACKOFF_BASE_S = 60
BACKOFF_MAX_S = 3600
MAIL_KINDS = ("ack", "alert", "forward")  # webhooks are someone else's business
_delivering = threading.Lock()  # the scheduler and the worker may both ask at once


def deliver_due(ctx: Context, now: datetime | None = None) -> int:
    """Try every due job once; return how many were sent. `now` is for tests and tools.

    A relay that fails (no answer, refused login or sender) is not tried again in the same
    pass: the daemon's worker calls this too, and must not wait out one timeout per queued
    job during an outage.
    """
    with _delivering:
        now = now or utcnow()
        failing: set[tuple[str, int]] = set()
        sent = 0
        for job_id, source in _due(ctx, now):
            relay = relay_for(ctx, source)
            if (relay.host, relay.port) in failing:
                continue  # stays due, with no attempt counted: tried in a later pass
            result = _deliver(ctx, job_id, relay, now)
            sent += result == "sent"
            if result == "relay_failed":
                failing.add((relay.host, relay.port))
        return sent


def _due(ctx: Context, now: datetime) -> list[tuple[int, str | None]]:
    with transaction(ctx.engine) as session:
        query = (
            select(Outbox.id, Outbox.source)
            .where(
                Outbox.state.in_(("pending", "sending")),
                Outbox.next_attempt_at <= now,
                Outbox.kind.in_(MAIL_KINDS),
            )
            .order_by(Outbox.id)
        )
        return [(job_id, source) for job_id, source in session.exec(query) if job_id is not None]


def _deliver(ctx: Context, job_id: int, relay: SmtpRelay, now: datetime) -> str:
    """sent | taken (by another caller) | failed (this job only) | relay_failed."""
    job = claim(ctx, job_id, now)
    if job is None:
        return "taken"
    try:
        send(relay, build_message(job, relay.from_ or ctx.acks.from_))
    except OSError as exc:  # smtplib's errors are OSErrors too
        _record_failure(ctx, job_id, now, f"{type(exc).__name__}: {exc}", _permanent(exc))
        this_job = isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError)
        return "failed" if this_job else "relay_failed"
    with transaction(ctx.engine) as session:
        row = session.get(Outbox, job_id)
        if row is not None:
            row.state, row.sent_at, row.last_error = "sent", now, None
            session.add(row)
    return "sent"


def claim(ctx: Context, job_id: int, now: datetime) -> Outbox | None:
    """Take a due job for sending, atomically; None when another caller has it (or not due).

    The attempt is counted here, so a job that crashes the sender still runs out of attempts.
    """
    lease = now + timedelta(seconds=lease_seconds(ctx))
    with transaction(ctx.engine) as session:
        taken = session.exec(
            update(Outbox)
            .where(
                Outbox.id == job_id,
                Outbox.state.in_(("pending", "sending")),
                Outbox.next_attempt_at <= now,
            )
            .values(state="sending", next_attempt_at=lease, attempts=Outbox.attempts + 1)
        )
        if taken.rowcount != 1:
            return None
        job = session.get(Outbox, job_id)
        assert job is not None
        if not job.outgoing_message_id:  # fixed once, so that a resend is recognisable
            domain = ctx.acks.from_.rpartition("@")[2] or None
            job.outgoing_message_id = make_msgid("ack", domain=domain)
            session.add(job)
        return job


def lease_seconds(ctx: Context) -> float:
    """How long a claim holds: far beyond one send, each of whose steps may take timeout_s."""
    relays = [ctx.acks.smtp, *(getattr(s, "smtp", None) for s in ctx.config.sources)]
    return max(900.0, 20 * max(r.timeout_s for r in relays if r is not None))


def build_message(job: Outbox, from_address: str) -> EmailMessage:
    """The mail for `job`; its stored headers are re-checked to be single lines."""
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = job.recipient
    message["Subject"] = one_line(job.subject)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = job.outgoing_message_id or make_msgid("ack")
    message["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer it
    message["X-Auto-Response-Suppress"] = "All"  # the same, for Exchange
    for name, value in (job.headers or {}).items():
        message[one_line(name)] = one_line(value)
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
    """Submit `message`. The envelope sender is empty (RFC 3834: bounces of an automatic
    reply must not come back), unless the relay sends as its own mailbox (`from`, PEC)."""
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
        client.send_message(message, from_addr=relay.from_ or "<>")


def _permanent(exc: BaseException) -> bool:
    """Only the recipient's or the content's 5xx refusal is final; a 5xx about our sender or
    login is a configuration problem that an operator fixes, so those jobs keep retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500


def backoff(attempts: int) -> timedelta:
    """Capped exponential, with jitter: between half and all of base * 2^(attempts-1)."""
    delay = min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S)
    return timedelta(seconds=delay * random.uniform(0.5, 1.0))


def _record_failure(ctx: Context, job_id: int, now: datetime, error: str, permanent: bool) -> None:
    with transaction(ctx.engine) as session:
        job = session.get(Outbox, job_id)
        if job is None:
            return
        job.last_error = error[:2000]
        if permanent or job.attempts >= ctx.acks.max_attempts:
            job.state = "failed"
            log.error("outbox %s to %s: giving up after %d attempt(s): %s",
                      job_id, job.recipient, job.attempts, error)  # fmt: skip
        else:
            job.state = "pending"
            job.next_attempt_at = now + backoff(job.attempts)
            log.warning("outbox %s to %s: %s; next try at %s",
                        job_id, job.recipient, error, job.next_attempt_at)  # fmt: skip
        session.add(job)
