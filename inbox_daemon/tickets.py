"""Ticket numbering, reminder linking and the export view of a ticket."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, or_, text
from sqlmodel import Session, select

from inbox_daemon.drafts import Clues, Related
from inbox_daemon.store.models import (
    Attachment,
    Message,
    RuleHit,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketPole,
)

NUMBER_RE = re.compile(r"^(\d{4})/(\d{1,6})$")


def format_number(year: int, seq: int) -> str:
    return f"{year}/{seq:06d}"


def parse_number(number: str) -> str | None:
    """Canonical form of a ticket number typed by a person ("2026/123" -> "2026/000123")."""
    match = NUMBER_RE.match(number.strip())
    return format_number(int(match[1]), int(match[2])) if match else None


COUNT = text("UPDATE ticket_counter SET last_seq = last_seq + 1 WHERE year = :y RETURNING last_seq")


def next_seq(session: Session, year: int) -> int:
    """The next progressive number of `year`, taken inside the caller's transaction.

    The counter row is locked by the UPDATE until the ticket commits, so numbers stay
    contiguous with any number of writers: a rolled-back ticket gives its number back. The
    year's first ticket makes the counter (two writers may try: one insert is skipped).
    """
    connection = session.connection()
    seq = connection.execute(COUNT, {"y": year}).scalar()
    if seq is None:
        insert = _upsert_insert(connection.dialect.name)
        counter = insert(TicketCounter).values(year=year, last_seq=0)
        connection.execute(counter.on_conflict_do_nothing())
        seq = connection.execute(COUNT, {"y": year}).scalar_one()
    return int(seq)


def _upsert_insert(dialect: str) -> Any:
    """The dialect's INSERT with ON CONFLICT; imported here: the PostgreSQL dialect's
    modules cost every command's start-up on a SQLite installation otherwise."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


REPLY_PREFIX = re.compile(r"^\s*((re|r|fw|fwd|i|inoltro|rif|sollecito)\s*(\[\d+\])?\s*:\s*)+", re.I)


def thread_subject(subject: str) -> str:
    """The subject without reply/forward prefixes, lower-cased, for thread matching."""
    return re.sub(r"\s+", " ", REPLY_PREFIX.sub("", subject)).strip().lower()


LINK_COLUMNS = (Ticket.id, Ticket.number, Ticket.message_id, Ticket.thread_root, Ticket.status)
# The look-ups of `find_related`, built once: their values come at execution, so that each is
# compiled once (a reminder's look-up is then a cached statement, not a query built anew).
BY_NUMBER = select(*LINK_COLUMNS).where(Ticket.number == bindparam("ref")).limit(1)
_RECENT = (
    select(*LINK_COLUMNS).where(Ticket.received_at >= bindparam("since")).order_by(Ticket.id.desc())
)
IN_THREAD = _RECENT.where(
    or_(
        Ticket.message_id.in_(bindparam("ids", expanding=True)),
        Ticket.thread_root.in_(bindparam("ids", expanding=True)),
    )
).limit(1)
SAME_POLE = (
    _RECENT.join(TicketPole, TicketPole.ticket_id == Ticket.id)
    .where(TicketPole.code == bindparam("code"))
    .limit(1)
)
BY_SENDER = (
    _RECENT.add_columns(Ticket.subject).where(Ticket.sender == bindparam("sender")).limit(50)
)


def find_related(session: Session, clues: Clues) -> Related | None:
    """The earlier ticket this one refers to, and how it was found.

    A quoted ticket number always links; the weaker clues (thread, pole, sender+subject)
    only for a reminder, and only within the window that starts at `since`. Only the columns
    a link needs are read: a ticket's text may be 100 KB.
    """
    connection = session.connection()  # Core: no ORM machinery for a few columns
    for ref in clues.ticket_refs:
        row = connection.execute(BY_NUMBER, {"ref": ref}).first()
        if row:
            return Related(*row[:4], how=f"quoted number {ref}", status=row[4])
    if not clues.is_reminder:
        return None
    since = clues.since
    if clues.thread_ids:
        ids = list(clues.thread_ids)
        row = connection.execute(IN_THREAD, {"since": since, "ids": ids}).first()
        if row:
            return Related(*row[:4], how="same e-mail thread", status=row[4])
    for code in clues.pole_codes:
        row = connection.execute(SAME_POLE, {"since": since, "code": code}).first()
        if row:
            return Related(*row[:4], how=f"same pole {code}", status=row[4])
    wanted = thread_subject(clues.subject)
    if clues.sender and wanted:
        rows = connection.execute(BY_SENDER, {"since": since, "sender": clues.sender})
        for row in rows:
            if thread_subject(row[5]) == wanted:
                return Related(*row[:4], how="same sender and subject", status=row[4])
    return None


def iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat() if value else None


def export_row(session: Session, ticket: Ticket, tz: ZoneInfo) -> dict[str, Any]:
    """The contract view of a ticket (DESIGN.md, `tickets export`)."""
    hits = session.exec(select(RuleHit).where(RuleHit.ticket_id == ticket.id).order_by(RuleHit.id))
    related = session.get(Ticket, ticket.related_ticket_id) if ticket.related_ticket_id else None
    attachments = session.exec(
        select(Attachment)
        .where(Attachment.message_pk == ticket.message_pk)
        .order_by(Attachment.index)
    )
    message = session.get(Message, ticket.message_pk)
    events = session.exec(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    )
    return {
        "number": ticket.number,
        "channel": ticket.channel,
        "status": ticket.status,
        "sender": ticket.sender,
        "sender_name": ticket.sender_name,
        "subject": ticket.subject,
        "request_type": ticket.request_type,
        "urgency": ticket.urgency,
        "pole_codes": list(ticket.pole_codes or []),
        "criminal_event": ticket.criminal_event,
        "related_ticket": related.number if related else None,
        "received_at": iso(ticket.received_at, tz),
        "deemed_received_at": iso(ticket.deemed_received_at, tz),
        "deemed_reason": ticket.deemed_reason,
        "registered_at": iso(ticket.registered_at, tz),
        "sent_at": iso(ticket.sent_at, tz),
        "message_id": ticket.message_id,
        "pec": ticket.pec,
        "fax": ticket.fax,
        "phone": ticket.phone,
        "location": ticket.location,
        "unknown_poles": list(ticket.unknown_poles or []),
        "candidate_poles": list(ticket.candidate_poles or []),
        "queue": ticket.queue,
        "competence": ticket.competence or "fornitore",
        "assigned_to": ticket.assigned_to,
        "closed_at": iso(ticket.closed_at, tz),
        "details": ticket.details,
        "rule_hits": [
            {"rule": h.rule, "field": h.field, "value": h.value, "evidence": h.evidence}
            for h in hits
        ],
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "ocr_confidence": a.ocr_confidence,  # pages read by the read-pages stage
            }
            for a in attachments
        ],
        "history": [
            {
                "at": iso(e.at, tz),
                "action": e.action,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "actor": e.actor,
                "team": e.team,
                "note": e.note,
            }
            for e in events
        ],
        "source": message.source if message else None,
        "raw_sha256": message.sha256 if message else None,
    }


def window_start(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)
