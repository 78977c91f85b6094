"""PEC receipts, recorded against the outgoing message they confirm.

A receipt names the Message-ID of what we sent (`X-Riferimento-Message-ID`, and the msgid
of its signed daticert.xml); the outbox keeps the Message-ID of each job it sent, so the
receipt is linked to that job and `acks list` shows whether the acknowledgement was accepted
and delivered. A non-delivery is logged as a warning: it means a sender was never told their
ticket number. A receipt that matches nothing is kept all the same, unlinked.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, select

from inbox_daemon.drafts import ReceiptDraft
from inbox_daemon.store.models import Outbox, PecReceipt
from inbox_daemon.store.types import utcnow

# The state an acknowledgement's receipts add up to: the furthest certified one counts; a
# receipt whose signature does not hold proves nothing (anyone can write "CONSEGNA").
RANK = {
    "other": 0, "unverified": 0, "accepted": 1, "not_accepted": 2, "not_delivered": 3,
    "delivered": 4,
}  # fmt: skip


def record(session: Session, message_pk: int, receipt: ReceiptDraft) -> tuple[int, str] | None:
    """Write the receipt; return (level, note) worth logging once the batch commits."""
    job = _job(session, receipt.reference)
    row = PecReceipt(
        message_pk=message_pk,
        outbox_id=job.id if job else None,
        receipt_type=receipt.receipt_type[:32],
        delivery=receipt.delivery,
        reference=(receipt.reference or "")[:998] or None,
        identificativo=(receipt.identificativo or "")[:255] or None,
        recipient=(receipt.recipient or "")[:320] or None,
        error=receipt.error,
        certified=receipt.certified,
        reason=receipt.reason,
        at=receipt.at,
        recorded_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _note(message_pk, receipt, job)


def _job(session: Session, reference: str | None) -> Outbox | None:
    if not reference:
        return None
    query = select(Outbox).where(Outbox.outgoing_message_id == reference.strip())
    return session.exec(query.limit(1)).first()


def _note(message_pk: int, receipt: ReceiptDraft, job: Outbox | None) -> tuple[int, str] | None:
    what = f"PEC receipt {receipt.receipt_type} (message {message_pk})"
    if not receipt.certified:
        what += f", not certified: {receipt.reason}"
    if receipt.delivery in ("not_delivered", "not_accepted"):
        target = f"outbox job {job.id} to {job.recipient}" if job else "an unknown message"
        why = f": {receipt.error}" if receipt.error else ""
        return logging.WARNING, f"{what}: NOT delivered, {target} {receipt.reference}{why}"
    if job is None:
        return logging.INFO, f"{what} for {receipt.reference}: no outgoing message of ours"
    return None


def delivery_states(session: Session, job_ids: list[int]) -> dict[int, str]:
    """Each job's PEC delivery state from its receipts (the furthest wins)."""
    if not job_ids:
        return {}
    query = select(PecReceipt.outbox_id, PecReceipt.delivery, PecReceipt.certified).where(
        PecReceipt.outbox_id.in_(job_ids)
    )
    states: dict[int, str] = {}
    for job_id, delivery, certified in session.exec(query):
        state = delivery if certified else "unverified"
        if job_id not in states or RANK.get(state, 0) > RANK.get(states[job_id], 0):
            states[job_id] = state
    return states
