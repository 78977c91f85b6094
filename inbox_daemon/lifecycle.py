"""A ticket's life after registration: assigned, started, closed, reopened — each change one
`ticket_event` row, kept as history and never overwritten.

The moves are a table of (action, from which statuses, to which status), as Mailman keeps its
chains; anything else is refused with the reason, so that a history read years later only
holds moves that made sense. An imported closure (`tickets import-status`, from the field
crews' own system) goes through the same moves, and is recognised when imported twice.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from inbox_daemon.errors import UsageError
from inbox_daemon.store.models import Ticket, TicketEvent
from inbox_daemon.store.types import utcnow
from inbox_daemon.tickets import parse_number

STATUSES = ("open", "in_progress", "closed", "redirected")


@dataclass(frozen=True)
class Move:
    action: str
    allowed_from: tuple[str, ...]
    to: str | None  # None: the status stays (an assignment)
    needs_note: bool = False


MOVES = {
    "assign": Move("assign", ("open", "in_progress", "redirected"), None),
    "start": Move("start", ("open", "redirected"), "in_progress"),
    "close": Move("close", ("open", "in_progress", "redirected"), "closed"),
    "reopen": Move("reopen", ("closed",), "open", needs_note=True),
}
ACTION_FOR_STATUS = {"in_progress": "start", "closed": "close", "open": "reopen"}


@dataclass(frozen=True)
class Change:
    """One move asked for: by whom, when it happened, why."""

    action: str
    actor: str
    at: datetime | None = None  # default: now
    note: str = ""
    team: str | None = None


def apply(session: Session, ticket: Ticket, change: Change) -> TicketEvent:
    """Move `ticket` as `change` says, inside the caller's transaction; UsageError when the
    move makes no sense (closing a closed ticket, a closing before the request arrived)."""
    move = MOVES[change.action]
    if ticket.status not in move.allowed_from:
        allowed = ", ".join(move.allowed_from)
        raise UsageError(
            f"{ticket.number} is {ticket.status}: '{change.action}' applies to {allowed} tickets"
        )
    if move.needs_note and not change.note.strip():
        raise UsageError(f"'{change.action}' needs --note: say why")
    now = utcnow()
    at = change.at or now
    if at < ticket.received_at or at > now:
        raise UsageError(f"{at.isoformat()}: not between the request's arrival and now")
    event = TicketEvent(
        ticket_id=ticket.id, at=at, recorded_at=now, action=move.action,
        from_status=ticket.status, to_status=move.to or ticket.status,
        actor=change.actor[:64], team=change.team, note=change.note,
    )  # fmt: skip
    ticket.status = move.to or ticket.status
    if change.team is not None:
        ticket.assigned_to = change.team[:64]
    if move.to == "closed":
        ticket.closed_at = at
    elif move.to is not None:  # started or reopened: not closed any more
        ticket.closed_at = None
    session.add_all([ticket, event])
    return event


def find(session: Session, number: str) -> Ticket:
    canonical = parse_number(number)
    if canonical is None:
        raise UsageError(f"{number!r} is not a ticket number such as 2026/000123")
    ticket = session.exec(select(Ticket).where(Ticket.number == canonical)).first()
    if ticket is None:
        raise UsageError(f"no ticket {canonical}")
    return ticket


def history(session: Session, ticket: Ticket) -> list[TicketEvent]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    return list(session.exec(query.order_by(col(TicketEvent.at), col(TicketEvent.id))))


def parse_time(text: str, tz: ZoneInfo) -> datetime:
    """An operator's time: ISO 8601, or `YYYY-MM-DD HH:MM` in the service's timezone."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{text!r} is not a time such as 2026-11-24 16:30") from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


@dataclass(frozen=True)
class StatusRow:
    """One line of an imported status file."""

    line: int
    number: str
    status: str
    at: str
    note: str


def read_status_file(path: Path) -> Iterator[StatusRow]:
    """CSV with the columns number,status,time[,note], or JSON lines with those keys."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    if text.lstrip().startswith("{"):
        for line, raw in enumerate(text.splitlines(), start=1):
            if raw.strip():
                try:
                    item = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise UsageError(f"{path}:{line}: not JSON: {exc.msg}") from None
                yield _row(line, item)
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for item in reader:
        yield _row(reader.line_num, item)


def _row(line: int, item: dict[str, object]) -> StatusRow:
    value = {str(k).strip().lower(): str(v or "").strip() for k, v in item.items()}
    return StatusRow(line, value.get("number", ""), value.get("status", ""),
                     value.get("time", ""), value.get("note", ""))  # fmt: skip


def import_row(session: Session, row: StatusRow, actor: str, tz: ZoneInfo) -> str:
    """Apply one imported status; returns what happened: changed | unchanged."""
    if row.status not in ACTION_FOR_STATUS:
        wanted = ", ".join(ACTION_FOR_STATUS)
        raise UsageError(f"status {row.status!r}: expected one of {wanted}")
    ticket = find(session, row.number)
    at = parse_time(row.at, tz) if row.at else None
    if ticket.status == row.status:
        return "unchanged"  # imported before, or moved here by an operator already
    note = row.note or ("chiusura importata" if row.status == "closed" else "stato importato")
    apply(session, ticket, Change(ACTION_FOR_STATUS[row.status], actor, at, note))
    return "changed"
