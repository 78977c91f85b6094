"""Where each mailbox folder stands (`source_state`), and which of its UIDs are stored.

The resume point (`last_uid`) only ever covers messages the spool has committed, so a crash
at any moment resumes at or before the first message not yet stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message, SourceState
from inbox_daemon.store.types import utcnow


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int | None
    last_uid: int
    last_error: str | None


def load(engine: Engine, source: str, folder: str) -> FolderState:
    with transaction(engine) as session:
        row = _row(session, source, folder)
        if row is None:
            return FolderState(None, 0, None)
        return FolderState(row.uidvalidity, row.last_uid, row.last_error)


def save_progress(
    engine: Engine, source: str, folder: str, uidvalidity: int, last_uid: int
) -> None:
    """Record the resume point; called after each stored batch, never before it is stored."""
    with transaction(engine) as session:
        row = _row(session, source, folder) or SourceState(source=source, folder=folder)
        row.uidvalidity, row.last_uid = uidvalidity, last_uid
        session.add(row)


def save_outcome(engine: Engine, source: str, folder: str, error: str | None) -> None:
    """A finished pass: success clears the error; a failure keeps the last success time."""
    now: datetime = utcnow()
    with transaction(engine) as session:
        row = _row(session, source, folder) or SourceState(source=source, folder=folder)
        if error is None:
            row.last_success_at, row.last_error = now, None
        elif row.last_error != error:
            row.last_error, row.last_error_at = error, now
        session.add(row)


def stored_uids(
    engine: Engine, source: str, folder: str, uidvalidity: int, uids: list[int]
) -> set[int]:
    """Which of `uids` the spool already holds under this exact origin (no need to fetch)."""
    found: set[int] = set()
    with transaction(engine) as session:
        for start in range(0, len(uids), 500):
            chunk = uids[start : start + 500]
            query = select(Message.uid).where(
                Message.source == source,
                Message.folder == folder,
                Message.uidvalidity == uidvalidity,
                Message.uid.in_(chunk),  # type: ignore[union-attr]
            )
            found.update(uid for uid in session.exec(query) if uid is not None)
    return found


def _row(session: Session, source: str, folder: str) -> SourceState | None:
    query = select(SourceState).where(SourceState.source == source, SourceState.folder == folder)
    return session.exec(query).first()
