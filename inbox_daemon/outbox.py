"""The outbox's jobs: claimed, leased, sent once, failures retried with backoff.

An SMTP outage only delays acknowledgements: the job goes back to `pending` with its next
attempt pushed back (capped exponential backoff with jitter, so a recovering relay is not hit
by every job at once), and becomes `failed` only after `max_attempts`, or at once when the
recipient's server refuses it for good (5xx); `acks list` shows both. `delivery.py` runs the
passes in their own threads; `run --once`, tools and tests call `deliver_due` directly.

Never twice: a job is claimed before it is sent by one atomic UPDATE from `pending` to
`sending`, so of two threads, processes or daemon instances on one database only one wins.
The claim records, before anything is sent, that the job is in flight with its Message-ID.
It is a short lease (`next_attempt_at` moves to its end, `lease_seconds`: about a minute),
renewed before each SMTP step while the delivery lasts; every step is cut by the relay's
timeouts first, so a live delivery never loses its lease, and a crashed instance's jobs are
due again a minute later. The one window left is the relay's 250 to DATA followed by a crash
before `sent` is written: `sent` is written in the very next statement, before QUIT or the
next job. SMTP has no way to ask a relay whether it already holds a message, so a job found
still `sending` after its lease is logged as interrupted and sent again with the same
Message-ID, which lets the recipient's software recognise the copy (at least once).
"""

from __future__ import annotations

import logging
import smtplib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from sqlmodel import select, update

from inbox_daemon.backoff import delay_s
from inbox_daemon.config import SmtpRelay
from inbox_daemon.context import Context
from inbox_daemon.header_text import one_line
from inbox_daemon.relay import RelaySession, relay_key
from inbox_daemon.store.db import reading, retrying, transaction
from inbox_daemon.store.models import Outbox
from inbox_daemon.store.types import utcnow

log = logging.getLogger(__name__)
BACKOFF_BASE_S = 60
BACKOFF_MAX_S = 3600
LEASE_MARGIN_S = 5.0
DUE_BATCH = 500  # jobs listed per pass; the next pass takes the rest
MAIL_KINDS = ("ack", "alert", "forward", "report")  # webhooks are someone else's business
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Lane:
    """The share of the queue one delivery thread takes: one relay, every `count`-th job."""

    key: tuple
    index: int = 0
    count: int = 1

    def takes(self, relay: SmtpRelay, job_id: int) -> bool:
        return relay_key(relay) == self.key and job_id % self.count == self.index


@dataclass
class Sessions:
    """The relay sessions of one delivery thread, kept open between jobs and passes."""

    open: dict[tuple, RelaySession] = field(default_factory=dict)

    def get(self, relay: SmtpRelay) -> RelaySession:
        return self.open.setdefault(relay_key(relay), RelaySession(relay))

    def close(self) -> None:
        for session in list(self.open.values()):
            session.close()

    def abort(self) -> None:
        """From another thread (a stop request): cut every session waiting on a relay."""
        for session in list(self.open.values()):
            session.abort()


@dataclass
class Pass:
    sent: int = 0
    relay_failed: bool = False


def deliver_due(ctx: Context, now: datetime | None = None) -> int:
    """Try every due job once; return how many were sent. `now` is for tests and tools."""
    sessions = Sessions()
    try:
        return deliver_pass(ctx, sessions, clock=(lambda: now) if now else utcnow).sent
    finally:
        sessions.close()


def deliver_pass(
    ctx: Context,
    sessions: Sessions,
    *,
    clock: Clock = utcnow,
    lane: Lane | None = None,
    stop: threading.Event | None = None,
) -> Pass:
    """One pass over the due jobs (of `lane`, when given), on `sessions`, until `stop`.

    A relay that fails (no answer, refused login or sender) is not tried again in the same
    pass: during an outage a pass costs one timeout per relay, not one per queued job.
    """
    failing: set[tuple] = set()
    result = Pass()
    for job_id, source in _due(ctx, clock()):
        if stop is not None and stop.is_set():
            break
        relay = relay_for(ctx, source)
        if relay_key(relay) in failing or (lane is not None and not lane.takes(relay, job_id)):
            continue  # stays due, with no attempt counted: tried in a later pass
        outcome = _deliver(ctx, job_id, relay, sessions.get(relay), clock, stop)
        result.sent += outcome == "sent"
        if outcome == "relay_failed":
            failing.add(relay_key(relay))
            result.relay_failed = True
    return result


def _due(ctx: Context, now: datetime) -> list[tuple[int, str | None]]:
    with reading(ctx.engine) as session:
        query = (
            select(Outbox.id, Outbox.source)
            .where(
                Outbox.state.in_(("pending", "sending")),
                Outbox.next_attempt_at <= now,
                Outbox.kind.in_(MAIL_KINDS),
            )
            .order_by(Outbox.id)
            .limit(DUE_BATCH)
        )
        return [(job_id, source) for job_id, source in session.exec(query) if job_id is not None]


def next_due(ctx: Context, lane: Lane) -> datetime | None:
    """When the next job of `lane` falls due (a retry's backoff, a lease's end), if any."""
    with reading(ctx.engine) as session:
        query = (
            select(Outbox.id, Outbox.source, Outbox.next_attempt_at)
            .where(Outbox.state.in_(("pending", "sending")), Outbox.kind.in_(MAIL_KINDS))
            .order_by(Outbox.next_attempt_at)
            .limit(DUE_BATCH)
        )
        for job_id, source, when in session.exec(query):
            if job_id is not None and lane.takes(relay_for(ctx, source), job_id):
                return when
    return None


def _deliver(
    ctx: Context,
    job_id: int,
    relay: SmtpRelay,
    session: RelaySession,
    clock: Clock,
    stop: threading.Event | None,
) -> str:
    """sent | taken (by another caller) | failed (this job only) | relay_failed | stopped."""
    job = claim(ctx, job_id, clock())
    if job is None:
        return "taken"
    lease = _Lease(ctx, job_id, clock, lease_seconds(ctx))
    try:
        raw = ctx.spool.blobs.get(_blob_kind(job), job.raw_sha256) if job.raw_sha256 else None
        session.submit(build_message(job, relay.from_ or ctx.acks.from_, raw), lease.keep)
    except OSError as exc:  # smtplib's errors are OSErrors too
        answered = isinstance(exc, smtplib.SMTPResponseException)
        if stop is not None and stop.is_set() and not answered:
            _release(ctx, job_id, clock())
            return "stopped"
        record_failure(ctx, job_id, clock(), f"{type(exc).__name__}: {exc}", _permanent(exc))
        this_job = isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError)
        return "failed" if this_job else "relay_failed"
    # at once: the relay's 250 is the only proof we have; a database away meanwhile is
    # waited for, for as long as the lease would have held the job (else it is sent again)
    now = clock()
    retrying(ctx.engine, lambda: record_sent(ctx, job_id, now), lease_seconds(ctx))
    return "sent"


def record_sent(ctx: Context, job_id: int, now: datetime) -> None:
    with transaction(ctx.engine) as session:
        session.exec(
            update(Outbox)
            .where(Outbox.id == job_id)
            .values(state="sent", sent_at=now, last_error=None)
        )


def claim(ctx: Context, job_id: int, now: datetime) -> Outbox | None:
    """Take a due job for sending, atomically; None when another caller has it (or not due).

    The attempt is counted here, so a job that crashes the sender still runs out of attempts.
    A job taken over from an expired lease may have been delivered: it is logged as such.
    """
    lease = now + timedelta(seconds=lease_seconds(ctx))
    with transaction(ctx.engine) as session:
        for state in ("pending", "sending"):
            taken = session.exec(
                update(Outbox)
                .where(Outbox.id == job_id, Outbox.state == state, Outbox.next_attempt_at <= now)
                .values(
                    state="sending",
                    next_attempt_at=lease,
                    attempts=Outbox.attempts + 1,
                    claimed_by=ctx.instance,  # who sends it, for `status`
                )
            )
            if taken.rowcount == 1:
                break
        else:
            return None
        job = session.get(Outbox, job_id)
        assert job is not None
        if not job.outgoing_message_id:  # fixed once, so that a resend is recognisable
            domain = ctx.acks.from_.rpartition("@")[2] or None
            job.outgoing_message_id = make_msgid("ack", domain=domain)
            session.add(job)
        elif state == "sending":
            log.warning("outbox %s to %s: an earlier delivery was interrupted (crash or lost "
                        "lease); sending again with the same Message-ID %s",
                        job_id, job.recipient, job.outgoing_message_id)  # fmt: skip
        return job


def lease_seconds(ctx: Context) -> float:
    """How long a claim holds: two of the longest SMTP step, renewed at half (`_Lease`),
    so a step cut by its timeout always ends inside the lease. About a minute by default."""
    relays = _relays(ctx)
    step = max(max(r.timeout_s, r.connect_timeout_s) for r in relays)
    return 2 * step + LEASE_MARGIN_S


def _relays(ctx: Context) -> list[SmtpRelay]:
    found = [ctx.acks.smtp, *(getattr(s, "smtp", None) for s in ctx.config.sources)]
    return [relay for relay in found if relay is not None]


def relays(ctx: Context) -> Iterable[SmtpRelay]:
    """Every distinct relay the outbox may send through (one delivery lane each)."""
    return {relay_key(relay): relay for relay in _relays(ctx)}.values()


class _Lease:
    """Keeps a claim alive while its delivery lasts: renewed before an SMTP step whenever
    less than half of it is left, so most deliveries (milliseconds) never write again."""

    def __init__(self, ctx: Context, job_id: int, clock: Clock, seconds: float) -> None:
        self.ctx, self.job_id, self.clock = ctx, job_id, clock
        self.length = timedelta(seconds=seconds)
        self.until = clock() + self.length

    def keep(self) -> None:
        now = self.clock()
        if self.until - now > self.length / 2:
            return
        with transaction(self.ctx.engine) as session:
            session.exec(
                update(Outbox)
                .where(Outbox.id == self.job_id, Outbox.state == "sending")
                .values(next_attempt_at=now + self.length)
            )
        self.until = now + self.length


def _release(ctx: Context, job_id: int, now: datetime) -> None:
    """A delivery cut by a stop request: queued again, due at once, the attempt not counted."""
    with transaction(ctx.engine) as session:
        session.exec(
            update(Outbox)
            .where(Outbox.id == job_id, Outbox.state == "sending")
            .values(state="pending", next_attempt_at=now, attempts=Outbox.attempts - 1,
                    last_error="delivery interrupted by a stop; queued again")
        )  # fmt: skip


def _blob_kind(job: Outbox) -> str:
    """A forward's blob is a received message; a report's, the mail's own MIME body."""
    return "report" if job.kind == "report" else "raw"


def build_message(job: Outbox, from_address: str, raw: bytes | None = None) -> EmailMessage:
    """The mail for `job`; its stored headers are re-checked to be single lines. `raw`, for a
    forward, is the original message: attached whole, as message/rfc822, bytes untouched;
    for a report, the body and attachments made by `report/mailing.py`."""
    if job.kind == "report" and raw is not None:
        return _addressed(job, from_address, message_from_bytes(raw, policy=policy.default))
    message = _addressed(job, from_address, EmailMessage())
    message.set_content(job.body)
    if raw is not None:
        message.add_attachment(raw, maintype="application", subtype="octet-stream",
                               filename="messaggio-originale.eml")  # fmt: skip
    return message


def _addressed(job: Outbox, from_address: str, message: Any) -> EmailMessage:
    message["From"] = from_address
    message["To"] = job.recipient
    message["Subject"] = one_line(job.subject)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = job.outgoing_message_id or make_msgid("ack")
    message["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer it
    message["X-Auto-Response-Suppress"] = "All"  # the same, for Exchange
    for name, value in (job.headers or {}).items():
        del message[one_line(name)]  # a stored header replaces the default (Auto-Submitted)
        message[one_line(name)] = one_line(value)
    return message


def relay_for(ctx: Context, source_name: str | None) -> SmtpRelay:
    """A source may have its own relay (a PEC mailbox replies through its PEC provider)."""
    if source_name:
        for source in ctx.config.sources:
            if source.name == source_name and getattr(source, "smtp", None) is not None:
                return source.smtp
    return ctx.acks.smtp


def send(relay: SmtpRelay, message: EmailMessage) -> None:
    """Submit one message on a session of its own (tools and tests; the outbox reuses one)."""
    session = RelaySession(relay)
    try:
        session.submit(message, lambda: None)
    finally:
        session.close()


def _permanent(exc: BaseException) -> bool:
    """Only the recipient's or the content's 5xx refusal is final; a 5xx about our sender or
    login is a configuration problem that an operator fixes, so those jobs keep retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500


def backoff(attempts: int) -> timedelta:
    """When a job that failed `attempts` times is tried again (`backoff.delay_s`)."""
    return timedelta(seconds=delay_s(attempts, BACKOFF_BASE_S, BACKOFF_MAX_S))


def record_failure(ctx: Context, job_id: int, now: datetime, error: str, permanent: bool) -> None:
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
            # an alert that does not leave is the on-call crew not knowing: shouted, not noted
            level = logging.ERROR if job.kind == "alert" else logging.WARNING
            log.log(level, "outbox %s %s to %s: %s; next try at %s",
                    job_id, job.kind, job.recipient, error, job.next_attempt_at)  # fmt: skip
        session.add(job)
