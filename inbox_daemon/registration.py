"""Recording a batch of analysed messages: each is decided (`decide.py`), then written.

A batch is written in one transaction, first as a whole: the common case, where nothing fails,
then costs a handful of statements per batch, and none for savepoints. The tickets wait and
are inserted together, in one multi-row INSERT (with their poles), until a later message of
the batch looks an earlier ticket up (a reminder: `Batch.related`) or the batch ends; the rows
that no later message reads (rule hits, outbox jobs, the `processed` marks) wait until the end
of the batch, and the year's counter is read and locked once and written back once.

If anything fails, that transaction is rolled back and the batch is written again, each message
inside its own SAVEPOINT: a message that fails then rolls back only its own rows and the ticket
number it took, so numbers stay contiguous; its failed attempt is recorded in the same
transaction, and the others commit.

Nothing here judges a message: what a ticket is, its queue, its acknowledgement, all come in
the draft. The `Batch` answers `decide`'s questions (it is the `Ledger`) from this transaction.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, bindparam, func, insert, update
from sqlmodel import Session, select

import rules
from inbox_daemon import receipts
from inbox_daemon.analysis import Analysis
from inbox_daemon.context import Context
from inbox_daemon.decide import Received, decide
from inbox_daemon.drafts import Clues, Decision, Kept, Related, TicketDraft
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import (
    Attachment,
    Message,
    Outbox,
    RuleHit,
    Ticket,
    TicketCounter,
    TicketPole,
)
from inbox_daemon.store.types import utcnow
from inbox_daemon.tickets import find_related, next_seq

log = logging.getLogger(__name__)

# Hot statements, built once: their parameters come at execution, so SQLAlchemy compiles
# each statement once and reuses it for every message.
# One statement for many tickets (SQLAlchemy's "insertmanyvalues"). Each id comes back with
# its ticket's message, which is unique: asking for the ids in the order of the rows
# (`sort_by_parameter_order`) would make SQLAlchemy insert them one by one on SQLite.
INSERT_TICKETS = insert(Ticket).returning(Ticket.message_pk, Ticket.id)
INSERT_HITS = insert(RuleHit)
INSERT_POLES = insert(TicketPole)
INSERT_ATTACHMENTS = insert(Attachment)
INSERT_JOBS = insert(Outbox)
MARK_PROCESSED = (
    update(Message)
    .where(Message.id == bindparam("pk"))
    .values(
        status="processed",
        outcome=bindparam("outcome"),
        processed_at=bindparam("processed_at"),
        header_message_id=func.coalesce(bindparam("header"), Message.header_message_id),
    )
)
SET_COUNTER = (
    update(TicketCounter)
    .where(TicketCounter.year == bindparam("y"))
    .values(last_seq=bindparam("last"))
)


@dataclass(frozen=True)
class Outcome:
    message_pk: int
    outcome: str  # ticket | duplicate | receipt | bounce | auto_reply | quarantined | retry
    ticket: str | None = None
    error: str | None = None
    fresh: bool = True  # False: the message had been processed before this call


def register_batch(
    ctx: Context, messages: Sequence[Message], analyses: Sequence[Analysis]
) -> list[Outcome]:
    """Write the outcome of each analysed message: as a whole, else one savepoint each."""
    attachments = _store_attachments(ctx, messages, analyses)
    try:
        return _write(ctx, messages, analyses, attachments, isolated=False)
    except Exception:  # which message it was, and why, the isolated pass tells
        log.debug("batch of %d: written again message by message", len(messages), exc_info=True)
    return _write(ctx, messages, analyses, attachments, isolated=True)


@dataclass
class Batch:
    """One registration transaction, and what its messages need to know of each other."""

    ctx: Context
    session: Session
    registered: set[str]  # Message-IDs that have a ticket, from before or from this batch
    attachments: dict[int, list[dict[str, Any]]]  # rows to write, by message id
    isolated: bool  # each message in its own savepoint (else: the batch fails as a whole)
    deferred: dict[Executable, list[dict[str, Any]]] = field(default_factory=dict)
    last_seq: dict[int, int] = field(default_factory=dict)  # year -> last number taken
    counted: dict[int, int] = field(default_factory=dict)  # year -> the counter as read
    notes: list[tuple[int, str, Any]] = field(default_factory=list)  # logged once committed
    queued: Counter[str] = field(default_factory=Counter)  # acks planned in this batch, by address
    tickets: list[tuple[int, TicketDraft]] = field(default_factory=list)  # not inserted yet

    def note(self, level: int, message: str, exc_info: Any = None) -> None:
        """Log once the batch is written: a batch written twice logs its failures once."""
        self.notes.append((level, message, exc_info))

    def defer(self, statement: Executable, rows: list[dict[str, Any]]) -> None:
        """Rows no later message reads: written together, at the end of the message (in a
        savepoint) or of the batch."""
        self.deferred.setdefault(statement, []).extend(rows)

    def add_ticket(self, message_pk: int, draft: TicketDraft) -> None:
        """A ticket to insert with the next ones (`write_tickets`)."""
        self.tickets.append((message_pk, draft))

    def write_tickets(self) -> None:
        """The tickets waiting, in one INSERT, and their poles at once (a look-up may seek
        them); their other rows, which need their ids, deferred."""
        if not self.tickets:
            return
        waiting, self.tickets = self.tickets, []
        connection = self.session.connection()
        rows = [draft.columns() for _, draft in waiting]
        ids = dict(connection.execute(INSERT_TICKETS, rows).all())  # message -> ticket
        poles = []
        for message_pk, draft in waiting:
            ticket_id = ids[message_pk]
            self.defer(
                INSERT_HITS, [{"ticket_id": ticket_id, **_hit_fields(h)} for h in draft.hits]
            )
            codes = dict.fromkeys(code[:64] for code in draft.pole_codes)
            poles.extend({"ticket_id": ticket_id, "code": code} for code in codes)
            self.defer(INSERT_ATTACHMENTS, self.attachments.get(message_pk, []))
            self.defer(INSERT_JOBS, [_job_row(job.row(ticket_id)) for job in draft.jobs])
        if poles:
            connection.execute(INSERT_POLES, poles)

    def flush(self) -> None:
        self.write_tickets()
        connection = self.session.connection()
        for statement, rows in self.deferred.items():
            if rows:
                connection.execute(statement, rows)
        self.deferred.clear()

    def discard(self) -> None:
        """Forget what waits to be written (its savepoint rolled back)."""
        self.tickets.clear()
        self.deferred.clear()

    def next_number(self, year: int) -> int:
        """The next number of `year`. Isolated: from the counter each time, so that a rolled-
        back savepoint gives it back. As a whole: the counter is locked by the first and
        written back by `finish`; a failure rolls the whole batch back."""
        if self.isolated or year not in self.last_seq:
            self.last_seq[year] = self.counted[year] = next_seq(self.session, year)
        else:
            self.last_seq[year] += 1
        return self.last_seq[year]

    def has_ticket(self, message_id: str) -> bool:
        return message_id in self.registered

    def related(self, clues: Clues) -> Related | None:
        """The earlier ticket, which may be one of this batch's: those are inserted first,
        when any of them could be found by these clues."""
        if any(_could_find(clues, draft) for _, draft in self.tickets):
            self.write_tickets()
        return find_related(self.session, clues)

    def recent_acks(self, recipient: str, since: datetime) -> int:
        """Those written before, and those this batch has planned and not written yet."""
        return acks_queued_since(self.session, recipient, since) + self.queued[recipient]

    def finish(self) -> None:
        if not self.isolated:
            counters = [
                {"y": year, "last": last}
                for year, last in self.last_seq.items()
                if last != self.counted[year]
            ]
            self.defer(SET_COUNTER, counters)
        self.flush()


def _could_find(clues: Clues, draft: TicketDraft) -> bool:
    """Whether `find_related` could find this ticket by these clues: a superset of its
    queries' conditions (the window aside), so that a ticket it would find is never left
    uninserted, and one it cannot find does not cost an INSERT of its own."""
    if draft.number in clues.ticket_refs:
        return True
    if not clues.is_reminder:
        return False
    thread = {draft.message_id, draft.thread_root} & set(clues.thread_ids)
    poles = {code[:64] for code in draft.pole_codes} & set(clues.pole_codes)
    return bool(thread or poles) or (clues.sender is not None and draft.sender == clues.sender)


def acks_queued_since(session: Session, recipient: str, since: datetime) -> int:
    """Acknowledgements to `recipient` written since `since`, suppressed ones aside."""
    query = select(func.count(Outbox.id)).where(
        Outbox.kind == "ack",
        Outbox.recipient == recipient,
        Outbox.created_at > since,
        Outbox.state != "suppressed",
    )
    return int(session.exec(query).one())


def _write(
    ctx: Context,
    messages: Sequence[Message],
    analyses: Sequence[Analysis],
    attachments: dict[int, list[dict[str, Any]]],
    *,
    isolated: bool,
) -> list[Outcome]:
    outcomes = []
    with transaction(ctx.engine) as session:
        waiting = _claim(session, [message.id for message in messages])
        registered = _registered_ids(session, analyses)
        batch = Batch(ctx, session, registered, attachments, isolated)
        for message, analysis in zip(messages, analyses, strict=True):
            if message.id in waiting:
                outcomes.append(_register_one(batch, message, analysis))
            else:  # another instance processed it since we read it
                outcomes.append(earlier_outcome(session, message.id))
        batch.finish()
    for level, note, exc_info in batch.notes:
        log.log(level, "%s", note, exc_info=exc_info)
    return outcomes


def _claim(session: Session, message_pks: list[int]) -> set[int]:
    """Which of these messages still wait, locked until the batch commits: a second instance
    on PostgreSQL waits here, then finds them processed (SQLite's BEGIN IMMEDIATE already lets
    one writer in at a time). Locked in id order, so that two instances whose batches overlap
    queue behind each other instead of deadlocking."""
    query = select(Message.id).where(Message.id.in_(message_pks), Message.status == "received")
    return set(session.exec(query.order_by(Message.id).with_for_update()))


def _registered_ids(session: Session, analyses: Sequence[Analysis]) -> set[str]:
    """Message-IDs of the batch that already have a ticket: one query for the whole batch."""
    wanted = {a.parsed.message_id for a in analyses if a.parsed and a.parsed.message_id}
    if not wanted:
        return set()
    query = select(Ticket.message_id).where(Ticket.message_id.in_(wanted))
    return {message_id for message_id in session.exec(query) if message_id}


def _register_one(batch: Batch, message: Message, analysis: Analysis) -> Outcome:
    """Register one message; isolated, in its own savepoint, where a failure costs only its
    own attempt."""
    if analysis.error:
        if analysis.trace and not analysis.transient:  # the machine's fault: its one line will do
            batch.note(
                logging.ERROR, f"message {message.id}: processing failed\n{analysis.trace.rstrip()}"
            )
        return _fail(
            batch, message.id, analysis.error, final=analysis.final, counted=not analysis.transient
        )
    facts = Received(
        message.id, message.source, message.channel, message.received_at, message.sha256
    )
    if not batch.isolated:
        decision = decide(facts, analysis, batch, batch.ctx.policy, utcnow())
        outcome = record(batch, message.id, decision)
    else:
        try:
            with batch.session.begin_nested():
                decision = decide(facts, analysis, batch, batch.ctx.policy, utcnow())
                outcome = record(batch, message.id, decision)
                batch.flush()
        except Exception as exc:  # the quarantine boundary: rolls back this message's rows only
            batch.discard()
            batch.note(logging.ERROR, f"message {message.id}: processing failed", sys.exc_info())
            return _fail(batch, message.id, f"{type(exc).__name__}: {exc}", final=False)
    if isinstance(decision, TicketDraft):  # written: later messages of the batch see it
        if decision.message_id:
            batch.registered.add(decision.message_id)
        acks = (j for j in decision.jobs if j.kind == "ack" and j.state != "suppressed")
        batch.queued.update(j.recipient for j in acks)
    return outcome


def record(batch: Batch, message_pk: int, decision: Decision) -> Outcome:
    """Write what was decided: the ticket and its rows, or the mark of a kept message."""
    if isinstance(decision, Kept):
        if decision.receipt is not None:  # PEC: linked to the acknowledgement it confirms
            note = receipts.record(batch.session, message_pk, decision.receipt)
            batch.notes.extend([(note[0], note[1], None)] if note else [])
        _mark(batch, message_pk, decision.outcome, decision.message_id)
        return Outcome(message_pk, decision.outcome)
    batch.add_ticket(message_pk, decision)  # inserted with the next ones
    _mark(batch, message_pk, "ticket", decision.message_id)
    return Outcome(message_pk, "ticket", decision.number)


def _job_row(row: dict[str, Any]) -> dict[str, Any]:
    """Every column given, as one multi-row INSERT needs: the rest at their initial values."""
    return {"attempts": 0, "sent_at": None, "outgoing_message_id": None, **row}


def _hit_fields(hit: rules.Hit) -> dict[str, str]:
    return {
        "rule": hit.rule[:100],
        "field": hit.field[:32],
        "value": str(hit.value)[:255],
        "evidence": hit.evidence[:500],
    }


def _store_attachments(
    ctx: Context, messages: Sequence[Message], analyses: Sequence[Analysis]
) -> dict[int, list[dict[str, Any]]]:
    """Attachment files of the batch, made durable before its transaction (not inside it, where
    they would hold the database lock); their rows, by message id."""
    parts = [
        (message.id, part)
        for message, analysis in zip(messages, analyses, strict=True)
        if analysis.verdict is not None and analysis.parsed is not None
        for part in analysis.parsed.attachments
    ]
    waiting = [part.payload for _, part in parts if part.sha256 is None]  # else: a worker did
    stored = iter(ctx.spool.blobs.put_many("attachments", waiting))
    shas = [part.sha256 or next(stored) for _, part in parts]
    read = {
        (message.id, part.index): doc
        for message, analysis in zip(messages, analyses, strict=True)
        if analysis.pages is not None
        for part, doc in analysis.pages.documents
    }
    rows: dict[int, list[dict[str, Any]]] = {}
    for (message_pk, part), sha in zip(parts, shas, strict=True):
        row = _attachment_row(message_pk, part, sha, read.get((message_pk, part.index)))
        rows.setdefault(message_pk, []).append(row)
    return rows


def _attachment_row(message_pk: int, part: Any, sha: str, doc: Any = None) -> dict[str, Any]:
    """The row of a stored attachment; for pages that were read (`read_pages`), their text,
    or why they could not be read, and their OCR confidence."""
    return {
        "message_pk": message_pk,
        "index": part.index,
        "filename": part.filename[:255],
        "original_filename": part.original_filename,
        "content_type": part.content_type[:255],
        "size": part.size,
        "sha256": sha,
        "truncated": part.truncated,
        "text": (doc.text or "; ".join(doc.problems) or None) if doc else None,
        "ocr_confidence": doc.confidence if doc else None,
    }


def _mark(batch: Batch, message_pk: int, outcome: str, header_id: str | None = None) -> None:
    """The message is done: one UPDATE, no need to load the row."""
    header = header_id[:998] if header_id else None
    done = {"pk": message_pk, "outcome": outcome, "processed_at": utcnow(), "header": header}
    batch.defer(MARK_PROCESSED, [done])


def _fail(
    batch: Batch, message_pk: int, error: str, *, final: bool, counted: bool = True
) -> Outcome:
    """Count a failed attempt; quarantine at once when `final`, else after `max_attempts`.
    Not `counted`: the machine failed, not the message (it stays waiting, its error shown)."""
    message = batch.session.get_one(Message, message_pk)
    message.attempts += counted
    message.last_error = error[:4000]
    if final or (counted and message.attempts >= batch.ctx.max_attempts):
        message.status = "quarantined"
        message.outcome = "quarantined"
        message.processed_at = utcnow()
    batch.session.add(message)
    quarantined = message.status == "quarantined"
    batch.note(logging.WARNING, f"message {message_pk}: {error}{' (quarantined)' * quarantined}")
    return Outcome(message_pk, "quarantined" if quarantined else "retry", error=error)


def earlier_outcome(session: Session, message_pk: int) -> Outcome:
    """What a message processed before became, and its ticket number if it made one."""
    message = session.get_one(Message, message_pk)
    number = session.exec(select(Ticket.number).where(Ticket.message_pk == message_pk)).first()
    return Outcome(message_pk, message.outcome or message.status, number, fresh=False)
