"""Received messages claimed by one instance for a while, on a shared PostgreSQL.

Without claims every instance would read the same waiting messages and analyse each of them
(registration's row lock already lets only one write its ticket: the others' work is wasted).
An instance claims a batch before analysing it: the rows are picked with `FOR UPDATE SKIP
LOCKED` among those nobody claims, or whose claim has run out, and marked with its id and an
expiry (`CLAIM_S`, a minute) in the database's clock. A killed instance's messages are thus
taken over by another one at the latest `CLAIM_S` after it claimed them; a claim that runs
out under a slow analysis costs only a second analysis, never a second ticket
(`registration._claim`).
On SQLite, one machine, nothing is claimed.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, update
from sqlmodel import Session, select

from inbox_daemon.store.models import Message

CLAIM_S = 60.0  # a batch is analysed in seconds; one that takes longer is only analysed twice


def claim_messages(
    session: Session, holder: str, after: int, limit: int, seconds: float = CLAIM_S
) -> list[Message]:
    """Up to `limit` waiting messages with an id above `after`, claimed for `holder` for
    `seconds`: the unclaimed, the expired and its own, oldest first.

    One statement, one round trip: the rows are picked (`SKIP LOCKED`), marked and read back
    by an UPDATE whose FROM is the picking query."""
    free = or_(
        Message.claimed_until.is_(None),  # type: ignore[union-attr]
        Message.claimed_until < func.now(),
        Message.claimed_by == holder,
    )
    picked = (
        select(Message.id)
        .where(Message.status == "received", Message.id > after, free)
        .order_by(Message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("picked")
    )
    claim = (
        update(Message)
        .where(Message.id == picked.c.id)  # type: ignore[arg-type]
        .values(claimed_by=holder, claimed_until=func.now() + timedelta(seconds=seconds))
        .returning(Message)
    )
    claimed = session.scalars(claim, execution_options={"synchronize_session": False})
    return sorted(claimed, key=lambda message: message.id)
