"""From a spooled message to a ticket (or a recorded non-ticket outcome).

Work is driven by `message.status`: a message stays `received` until one transaction writes
its ticket and marks it `processed`, so a crash anywhere before that commit simply means the
message is processed again on the next pass. A message that keeps failing is quarantined with
its error, visible in the CLI, and re-run by `reprocess` after a fix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlmodel import select

import parsers.mime
import rules
from inbox_daemon import acks
from inbox_daemon.context import Context
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Attachment, Message, RuleHit, Ticket
from inbox_daemon.store.types import utcnow
from inbox_daemon.tickets import find_related, format_number, next_seq, window_start
from parsers.errors import ParseError
from parsers.message import ParsedMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    message_pk: int
    outcome: str  # ticket | duplicate | receipt | bounce | auto_reply | quarantined | retry
    ticket: str | None = None
    error: str | None = None
    fresh: bool = True  # False: the message had been processed before this call


def pending_messages(ctx: Context, limit: int | None = None) -> list[int]:
    """Ids of messages still waiting to be processed, oldest first."""
    with transaction(ctx.engine) as session:
        query = select(Message.id).where(Message.status == "received").order_by(Message.id)
        return list(session.exec(query.limit(limit) if limit else query))


def process_pending(
    ctx: Context, on_done: Callable[[Outcome], None] | None = None
) -> Iterator[Outcome]:
    for message_pk in pending_messages(ctx):
        outcome = process(ctx, message_pk)
        if on_done:
            on_done(outcome)
        yield outcome


def process(ctx: Context, message_pk: int) -> Outcome:
    """Process one message; never raises for a problem of the message itself."""
    with transaction(ctx.engine) as session:
        message = session.get(Message, message_pk)
        if message is None:
            raise KeyError(message_pk)
        if message.status != "received":
            number = session.exec(select(Ticket.number).where(Ticket.message_pk == message_pk))
            outcome = message.outcome or message.status
            return Outcome(message_pk, outcome, number.first(), fresh=False)
    try:
        raw = ctx.spool.read(message.sha256)
        parsed = parsers.mime.parse(raw, max_attachment_bytes=ctx.max_attachment_bytes)
        return _register(ctx, message, parsed)
    except ParseError as exc:
        # The same bytes will never parse better: quarantine at once, keep the raw message.
        return _fail(ctx, message_pk, f"unreadable message: {exc}", final=True)
    except Exception as exc:  # the quarantine boundary: one message's fault stops nothing else
        log.exception("message %s: processing failed", message_pk)
        return _fail(ctx, message_pk, f"{type(exc).__name__}: {exc}", final=False)


def _register(ctx: Context, message: Message, parsed: ParsedMessage) -> Outcome:
    kind = _non_request_kind(parsed)
    if kind:
        return _finish(ctx, message.id, kind)
    verdict = rules.classify(
        rules.RuleInput(subject=parsed.subject, text=parsed.new_text, sender=parsed.from_address),
        ctx.ruleset,
        ctx.pole_formats,
    )
    deemed = ctx.calendar.deemed_received(message.received_at)
    attachments = [_attachment_row(ctx, message.id, part) for part in parsed.attachments]
    with transaction(ctx.engine) as session:
        if (
            parsed.message_id
            and session.exec(
                select(Ticket.id).where(Ticket.message_id == parsed.message_id)
            ).first()
        ):
            _mark(session, message.id, "processed", "duplicate", parsed.message_id)
            return Outcome(message.id, "duplicate")
        now = utcnow()
        related, how = find_related(
            session,
            ticket_refs=verdict.ticket_refs,
            is_reminder=verdict.request_type == "sollecito",
            pole_codes=verdict.pole_codes,
            sender=parsed.from_address,
            subject=parsed.subject,
            thread_ids=(*parsed.references, *([parsed.in_reply_to] if parsed.in_reply_to else [])),
            since=window_start(now, ctx.reminder_window_days),
        )
        year = now.astimezone(ctx.tz).year
        seq = next_seq(session, year)
        ticket = Ticket(
            year=year,
            seq=seq,
            number=format_number(year, seq),
            message_pk=message.id,
            channel=message.channel,
            status="redirected" if verdict.criminal_event else "open",
            sender=parsed.from_address,
            sender_name=parsed.from_name or None,
            subject=parsed.subject[:2000],
            request_type=verdict.request_type,
            urgency=verdict.urgency,
            criminal_event=verdict.criminal_event,
            pole_codes=list(verdict.pole_codes),
            related_ticket_id=related.id if related else None,
            received_at=message.received_at,
            deemed_received_at=deemed.at,
            deemed_reason=deemed.reason,
            registered_at=now,
            sent_at=parsed.date,
            message_id=parsed.message_id,
            thread_root=_thread_root(parsed, related),
            queue=_route(ctx, verdict, message.channel),
            text=parsed.new_text[:100_000],
        )
        session.add(ticket)
        session.flush()
        for hit in verdict.hits:
            session.add(RuleHit(ticket_id=ticket.id, **_hit_fields(hit)))
        if related:
            session.add(
                RuleHit(
                    ticket_id=ticket.id,
                    rule="linking",
                    field="related_ticket",
                    value=related.number,
                    evidence=how or "",
                )
            )
        for row in attachments:
            session.add(row)
        for job in acks.plan(
            ctx.acks,
            session,
            ticket,
            parsed,
            source=message.source,
            now=now,
            tz=ctx.tz,
            deemed=deemed,
            own=acks.own_addresses(ctx.config),
        ):
            session.add(job)
        _mark(session, message.id, "processed", "ticket", parsed.message_id)
        return Outcome(message.id, "ticket", ticket.number)


def _non_request_kind(parsed: ParsedMessage) -> str | None:
    """Mail that must be kept but is not a request: PEC receipts, bounces, auto-replies."""
    if parsed.header("X-Ricevuta"):
        return "receipt"
    if parsed.is_bounce:
        return "bounce"
    if parsed.is_auto_submitted:
        return "auto_reply"
    return None


def _thread_root(parsed: ParsedMessage, related: Ticket | None) -> str | None:
    if related is not None:
        return related.thread_root or related.message_id
    if parsed.references:
        return parsed.references[0]
    return parsed.in_reply_to or parsed.message_id


def _route(ctx: Context, verdict: rules.Verdict, channel: str) -> str | None:
    """First `[[routing]]` rule whose `match` fits wins (the routing issue extends the keys)."""
    facts = {
        "request_type": verdict.request_type,
        "urgency": verdict.urgency,
        "channel": channel,
        "criminal_event": verdict.criminal_event,
    }
    for rule in ctx.routing:
        if all(_matches(facts.get(key), want) for key, want in rule.match.items()):
            return rule.queue
    return None


def _matches(value: Any, want: Any) -> bool:
    return value in want if isinstance(want, list) else value == want


def _hit_fields(hit: rules.Hit) -> dict[str, str]:
    return {
        "rule": hit.rule[:100],
        "field": hit.field[:32],
        "value": str(hit.value)[:255],
        "evidence": hit.evidence[:500],
    }


def _attachment_row(ctx: Context, message_pk: int, part: Any) -> Attachment:
    sha = ctx.spool.blobs.put("attachments", part.payload)
    return Attachment(
        message_pk=message_pk,
        index=part.index,
        filename=part.filename[:255],
        original_filename=part.original_filename,
        content_type=part.content_type[:255],
        size=part.size,
        sha256=sha,
        truncated=part.truncated,
    )


def _finish(ctx: Context, message_pk: int, outcome: str) -> Outcome:
    with transaction(ctx.engine) as session:
        _mark(session, message_pk, "processed", outcome)
    return Outcome(message_pk, outcome)


def _mark(
    session: Any, message_pk: int, status: str, outcome: str, header_id: str | None = None
) -> None:
    message = session.get(Message, message_pk)
    message.status = status
    message.outcome = outcome
    message.processed_at = utcnow()
    if header_id:
        message.header_message_id = header_id[:998]
    session.add(message)


def _fail(ctx: Context, message_pk: int, error: str, *, final: bool) -> Outcome:
    with transaction(ctx.engine) as session:
        message = session.get(Message, message_pk)
        message.attempts += 1
        message.last_error = error[:4000]
        if final or message.attempts >= ctx.max_attempts:
            message.status = "quarantined"
            message.outcome = "quarantined"
            message.processed_at = utcnow()
        session.add(message)
        quarantined = message.status == "quarantined"
    log.warning("message %s: %s%s", message_pk, error, " (quarantined)" if quarantined else "")
    return Outcome(message_pk, "quarantined" if quarantined else "retry", error=error)


def requeue(ctx: Context, message_pks: list[int] | None = None) -> int:
    """Put quarantined messages (all, or the given ones) back to `received` for another try."""
    with transaction(ctx.engine) as session:
        query = select(Message).where(Message.status == "quarantined")
        if message_pks:
            query = query.where(Message.id.in_(message_pks))
        rows = list(session.exec(query))
        for row in rows:
            row.status, row.outcome, row.attempts = "received", None, 0
            session.add(row)
        return len(rows)
