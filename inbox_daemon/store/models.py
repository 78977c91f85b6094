"""The tables. Uniqueness lives here, in constraints, so that no path (a crash, a retry,
a second instance) can store a message or make a ticket twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from inbox_daemon.store.types import UtcDateTime, utcnow


def _instant(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


class Message(SQLModel, table=True):
    """One raw message as received, and where it is in the pipeline."""

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("source", "folder", "uidvalidity", "uid", name="uq_message_origin"),
        Index("ix_message_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True)
    size: int
    channel: str = Field(max_length=8)
    source: str = Field(max_length=64)
    folder: str | None = Field(default=None, max_length=255)
    uidvalidity: int | None = Field(default=None, sa_type=BigInteger)  # IMAP: unsigned 32 bit
    uid: int | None = Field(default=None, sa_type=BigInteger)
    origin: str | None = Field(default=None, max_length=1000)  # SMTP session, file path…
    received_at: datetime = _instant()
    spooled_at: datetime = _instant()
    status: str = Field(default="received", max_length=16)  # received|processed|quarantined
    outcome: str | None = Field(default=None, max_length=16)
    attempts: int = 0
    last_error: str | None = None
    header_message_id: str | None = Field(default=None, max_length=998, index=True)
    processed_at: datetime | None = _instant(nullable=True)
    # PostgreSQL, several instances: who analyses it now, until when (`claims.py`)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = _instant(nullable=True)


class TicketCounter(SQLModel, table=True):
    """The last progressive number given in a year: incremented in the ticket's transaction."""

    __tablename__ = "ticket_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_seq: int = 0


class Ticket(SQLModel, table=True):
    __tablename__ = "ticket"
    __table_args__ = (UniqueConstraint("year", "seq", name="uq_ticket_year_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int
    seq: int
    number: str = Field(max_length=16, unique=True)
    message_pk: int = Field(foreign_key="message.id", unique=True)
    channel: str = Field(max_length=8)
    status: str = Field(default="open", max_length=16)  # open | redirected
    sender: str | None = Field(default=None, max_length=320, index=True)
    sender_name: str | None = None
    subject: str = ""
    request_type: str = Field(max_length=20)
    urgency: str = Field(max_length=12)
    criminal_event: bool = False
    pole_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    related_ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    received_at: datetime = _instant(index=True)
    deemed_received_at: datetime = _instant()
    deemed_reason: str | None = Field(default=None, max_length=16)
    registered_at: datetime = _instant()
    sent_at: datetime | None = _instant(nullable=True)
    message_id: str | None = Field(default=None, max_length=998, unique=True)
    thread_root: str | None = Field(default=None, max_length=998, index=True)
    pec_identificativo: str | None = Field(default=None, max_length=255, unique=True)
    pec: dict[str, Any] | None = _json()
    fax: dict[str, Any] | None = _json()
    phone: dict[str, Any] | None = _json()
    location: dict[str, Any] | None = _json()
    unknown_poles: list[str] | None = _json()  # codes read that the register does not know
    candidate_poles: list[str] | None = _json()  # no code, but a street: its poles, nearest first
    details: dict[str, Any] | None = _json()
    queue: str | None = Field(default=None, max_length=64)
    competence: str | None = Field(default=None, max_length=32)  # fornitore, or another body
    assigned_to: str | None = Field(default=None, max_length=64)  # the team on it
    closed_at: datetime | None = _instant(nullable=True)  # the intervention's end, if closed
    text: str = ""


class TicketEvent(SQLModel, table=True):
    """One change in a ticket's life (created, assigned, started, closed, reopened): kept as
    history, never overwritten."""

    __tablename__ = "ticket_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = _instant()  # when it happened (an imported closure: when the crew closed)
    recorded_at: datetime = _instant()  # when it was written here
    action: str = Field(max_length=16)  # assign | start | close | reopen
    from_status: str = Field(max_length=16)
    to_status: str = Field(max_length=16)
    actor: str = Field(max_length=64)  # who: an operator's name, or "import:FILE"
    team: str | None = Field(default=None, max_length=64)
    note: str = ""


class TicketPole(SQLModel, table=True):
    """A pole code of a ticket, one row each: reminders find the earlier ticket about the same
    pole by index, not by reading tickets (`ticket.pole_codes` keeps the list for export)."""

    __tablename__ = "ticket_pole"

    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True)
    code: str = Field(max_length=64, primary_key=True, index=True)


class Pole(SQLModel, table=True):
    """One pole of the register (`poles import`): where it stands, found by its code alone."""

    __tablename__ = "pole"
    __table_args__ = (Index("ix_pole_street", "municipality", "street", "civic"),)

    code: str = Field(max_length=64, primary_key=True)
    address: str = Field(max_length=255)
    municipality: str = Field(max_length=128)
    lat: float
    lon: float
    street: str = Field(max_length=255)  # the address's street, normalised (rules/addresses.py)
    civic: int | None = None
    extra: dict[str, str] | None = _json()  # the register's other columns (panel, lamp, zone…)


class PoleRegister(SQLModel, table=True):
    """The register as last imported: one row. `version` tells a running daemon to reload."""

    __tablename__ = "pole_register"

    id: int = Field(default=1, primary_key=True)
    version: int = 0
    poles: int = 0
    sha256: str | None = Field(default=None, max_length=64)  # of the file imported
    source: str | None = Field(default=None, max_length=1000)
    imported_at: datetime | None = _instant(nullable=True)


class Attachment(SQLModel, table=True):
    __tablename__ = "attachment"
    __table_args__ = (UniqueConstraint("message_pk", "index", name="uq_attachment_position"),)

    id: int | None = Field(default=None, primary_key=True)
    message_pk: int = Field(foreign_key="message.id")
    index: int
    filename: str = Field(max_length=255)
    original_filename: str | None = None
    content_type: str = Field(max_length=255)
    size: int
    sha256: str = Field(max_length=64)
    truncated: bool = False
    text: str | None = None
    ocr_confidence: float | None = None


class RuleHit(SQLModel, table=True):
    __tablename__ = "rule_hit"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    rule: str = Field(max_length=100)
    field: str = Field(max_length=32)
    value: str = Field(max_length=255)
    evidence: str = ""


class Outbox(SQLModel, table=True):
    """Every message to send (acknowledgement, alert, forward, webhook), sent with retries."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "recipient", name="uq_outbox_once"),
        Index("ix_outbox_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    kind: str = Field(max_length=16)  # ack | alert | forward | webhook
    recipient: str = Field(max_length=1000)
    source: str | None = Field(default=None, max_length=64)  # whose relay sends it
    subject: str = ""
    body: str = ""
    headers: dict[str, str] | None = _json()
    # pending | sending (claimed by a sender) | sent | failed | suppressed
    state: str = Field(default="pending", max_length=12)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime()))
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime()))
    sent_at: datetime | None = _instant(nullable=True)
    outgoing_message_id: str | None = Field(default=None, max_length=998)
    raw_sha256: str | None = Field(default=None, max_length=64)  # a forward's original message
    claimed_by: str | None = Field(default=None, max_length=64)  # the instance sending it


class SourceState(SQLModel, table=True):
    """Where each mailbox folder stands: resume point, and the last success or error."""

    __tablename__ = "source_state"
    __table_args__ = (UniqueConstraint("source", "folder", name="uq_source_state"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    folder: str = Field(max_length=255)
    uidvalidity: int | None = Field(default=None, sa_type=BigInteger)
    last_uid: int = Field(default=0, sa_type=BigInteger)
    last_success_at: datetime | None = _instant(nullable=True)
    last_error: str | None = None
    last_error_at: datetime | None = _instant(nullable=True)
    # Stored (so ticketed) but not yet moved or flagged on the server: retried every pass.
    awaiting_action: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class CallRecord(SQLModel, table=True):
    """One call of the PBX's call records (`calls import`), for the report's phone service
    levels. `key` hashes the record's fields: importing the same file twice adds nothing."""

    __tablename__ = "call_record"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    start: datetime = _instant(index=True)
    answer: datetime | None = _instant(nullable=True)
    end: datetime | None = _instant(nullable=True)
    src: str | None = Field(default=None, max_length=80)
    dst: str | None = Field(default=None, max_length=80)
    disposition: str = Field(max_length=16)
    lastapp: str | None = Field(default=None, max_length=80)
    duration_s: int | None = None
    billsec_s: int | None = None
    source_file: str | None = Field(default=None, max_length=1000)
    imported_at: datetime = _instant()


class ReportRun(SQLModel, table=True):
    """A monthly report made and queued for mailing (`report/mailing.py`): one row a month,
    unique, written in the transaction that queues its mails, so it is mailed once."""

    __tablename__ = "report_run"

    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(max_length=7, unique=True)  # the month reported on: 2026-11
    due_at: datetime = _instant()  # when it was due (first working day after, at send_at)
    made_at: datetime = _instant()  # when it was made: later than due_at for a missed run
    tickets: int = 0
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    sha256: str = Field(max_length=64)  # the mail's body and attachments, in the store


class PecReceipt(SQLModel, table=True):
    """A PEC receipt (accettazione, avvenuta-consegna, errore-consegna…), kept against the
    outgoing message it confirms, so that `acks list` shows each PEC acknowledgement's
    delivery state. Never a ticket."""

    __tablename__ = "pec_receipt"

    id: int | None = Field(default=None, primary_key=True)
    message_pk: int = Field(foreign_key="message.id", unique=True)
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id", index=True)
    receipt_type: str = Field(max_length=32)
    delivery: str = Field(max_length=16)  # accepted | delivered | not_delivered | …
    reference: str | None = Field(default=None, max_length=998, index=True)  # Message-ID
    identificativo: str | None = Field(default=None, max_length=255)
    recipient: str | None = Field(default=None, max_length=320)
    error: str | None = None
    certified: bool = False
    reason: str | None = None
    at: datetime | None = _instant(nullable=True)  # the daticert date
    recorded_at: datetime = _instant()


class Instance(SQLModel, table=True):
    """A daemon instance on this database, and its heartbeat (`instances.py`)."""

    __tablename__ = "instance"

    id: str = Field(primary_key=True, max_length=64)
    host: str = Field(max_length=255)
    pid: int
    started_at: datetime = _instant()
    last_beat_at: datetime = _instant()
    stopped_at: datetime | None = _instant(nullable=True)


class Lease(SQLModel, table=True):
    """Something only one instance may do at a time (a mailbox folder's fetching), held by
    `holder` until `expires_at` unless renewed (`leases.py`)."""

    __tablename__ = "lease"

    name: str = Field(primary_key=True, max_length=400)
    holder: str = Field(max_length=64)
    acquired_at: datetime = _instant()
    expires_at: datetime = _instant()
