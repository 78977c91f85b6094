"""What `decide` makes of a message: plain values that `registration.py` only has to write.

A draft holds every column of the ticket and every row that goes with it (rule hits, poles,
outbox jobs), so that deciding needs no ORM object and writing needs no judgement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import rules


@dataclass(frozen=True)
class JobDraft:
    """One row of the outbox to write with the ticket (an acknowledgement; later alerts,
    forwards and webhooks)."""

    kind: str  # ack | alert | forward | webhook
    recipient: str
    source: str | None  # whose relay sends it
    subject: str
    body: str
    headers: dict[str, str]
    created_at: datetime
    state: str = "pending"  # or "suppressed", with the reason in `last_error`
    last_error: str | None = None
    raw_sha256: str | None = None  # a forward: the original message, attached as it came

    def row(self, ticket_id: int) -> dict[str, Any]:
        return {**asdict(self), "ticket_id": ticket_id, "next_attempt_at": self.created_at}


@dataclass(frozen=True)
class Clues:
    """What may tie a request to an earlier ticket (`tickets.find_related` weighs them)."""

    ticket_refs: tuple[str, ...]
    is_reminder: bool
    pole_codes: tuple[str, ...]
    sender: str | None
    subject: str
    thread_ids: tuple[str, ...]
    since: datetime  # weaker clues count only for tickets received since then


@dataclass(frozen=True)
class Related:
    """The earlier ticket a request refers to, and how it was found."""

    id: int
    number: str
    message_id: str | None
    thread_root: str | None
    how: str
    status: str = "open"  # a reminder about a closed ticket reopens the question


@dataclass(frozen=True)
class TicketDraft:
    """A ticket about to be written: its columns, and the rows that go with it."""

    year: int
    seq: int
    number: str
    message_pk: int
    source: str
    channel: str
    status: str
    sender: str | None
    sender_name: str | None
    subject: str
    request_type: str
    urgency: str
    criminal_event: bool
    pole_codes: tuple[str, ...]
    competence: str
    received_at: datetime
    deemed_received_at: datetime
    deemed_reason: str | None
    registered_at: datetime
    sent_at: datetime | None
    message_id: str | None
    thread_root: str | None
    queue: str | None
    text: str
    location: dict[str, Any] | None = None
    unknown_poles: tuple[str, ...] = ()
    candidate_poles: tuple[str, ...] = ()
    details: dict[str, Any] | None = None  # type-specific fields (a reminder: what it chases)
    related: Related | None = None
    holiday_name: str | None = None  # why the calendar moved it, for the acknowledgement
    phone: dict[str, Any] | None = None  # a call: caller, mailbox, duration, recording
    hits: tuple[rules.Hit, ...] = ()
    jobs: tuple[JobDraft, ...] = field(default_factory=tuple)
    pec: dict[str, Any] | None = None  # the export's `pec` object (`certify.export`)
    pec_identificativo: str | None = None
    fax: dict[str, Any] | None = None  # number, station_id, pages, ocr_confidence

    def columns(self) -> dict[str, Any]:
        """The `ticket` row."""
        return {
            "year": self.year, "seq": self.seq, "number": self.number,
            "message_pk": self.message_pk, "channel": self.channel, "status": self.status,
            "sender": self.sender, "sender_name": self.sender_name, "subject": self.subject,
            "request_type": self.request_type, "urgency": self.urgency,
            "criminal_event": self.criminal_event, "pole_codes": list(self.pole_codes),
            "competence": self.competence,
            "related_ticket_id": self.related.id if self.related else None,
            "received_at": self.received_at, "deemed_received_at": self.deemed_received_at,
            "deemed_reason": self.deemed_reason, "registered_at": self.registered_at,
            "sent_at": self.sent_at, "message_id": self.message_id,
            "thread_root": self.thread_root, "queue": self.queue, "text": self.text,
            "location": self.location, "unknown_poles": list(self.unknown_poles) or None,
            "candidate_poles": list(self.candidate_poles) or None, "details": self.details,
            "phone": self.phone, "fax": self.fax,
            "pec": self.pec, "pec_identificativo": self.pec_identificativo,
        }  # fmt: skip


@dataclass(frozen=True)
class ReceiptDraft:
    """A PEC receipt, to record against the acknowledgement it confirms (`receipts.py`)."""

    receipt_type: str  # accettazione, avvenuta-consegna, errore-consegna, …
    delivery: str  # accepted | delivered | not_delivered | not_accepted | other
    reference: str | None  # the Message-ID of what we sent
    identificativo: str | None
    recipient: str | None  # daticert `consegna`: whose mailbox it concerns
    error: str | None  # daticert `errore` / `errore-esteso`
    certified: bool
    reason: str | None
    at: datetime | None  # the daticert date


@dataclass(frozen=True)
class Kept:
    """Mail kept but not a request (receipt, bounce, auto-reply), or a request that already
    has its ticket (`duplicate`)."""

    outcome: str
    message_id: str | None = None
    receipt: ReceiptDraft | None = None  # a PEC receipt: what it says of our message


Decision = TicketDraft | Kept
