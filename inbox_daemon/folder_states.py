"""Where each mailbox folder stands (`source_state`), and which of its UIDs are stored.

Handed out by the spool (`Spool.folder_states`), so that a source reads and writes its resume
point through the spool's engine and holds none of its own. The resume point (`last_uid`) only
ever covers messages the spool has committed, so a crash at any moment resumes at or before
the first message not yet stored.
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
    awaiting_action: int = 0  # stored (and ticketed) but not yet moved or flagged


class FolderStates:
    """The `source_state` rows of one source, and the UIDs the spool holds for it."""

    def __init__(self, engine: Engine, source: str) -> None:
        self._engine = engine
        self.source = source

    def load(self, folder: str) -> FolderState:
        with transaction(self._engine) as session:
            row = self._row(session, folder)
            if row is None:
                return FolderState(None, 0, None)
            return FolderState(row.uidvalidity, row.last_uid, row.last_error, row.awaiting_action)

    def save_progress(self, folder: str, uidvalidity: int, last_uid: int) -> None:
        """Record the resume point; called after each stored batch, never before it is stored."""
        with transaction(self._engine) as session:
            row = self._row(session, folder) or SourceState(source=self.source, folder=folder)
            row.uidvalidity, row.last_uid = uidvalidity, last_uid
            session.add(row)

    def save_outcome(self, folder: str, error: str | None, awaiting: int | None = None) -> None:
        """A finished pass: success clears the error; a failure keeps the last success time.
        `awaiting` (when the pass got that far) is how many stored messages still wait for
        their move or flag."""
        now: datetime = utcnow()
        with transaction(self._engine) as session:
            row = self._row(session, folder) or SourceState(source=self.source, folder=folder)
            if error is None:
                row.last_success_at, row.last_error = now, None
            elif row.last_error != error:
                row.last_error, row.last_error_at = error, now
            if awaiting is not None:
                row.awaiting_action = awaiting
            session.add(row)

    def stored_uids(self, folder: str, uidvalidity: int, uids: list[int]) -> set[int]:
        """Which of `uids` the spool already holds under this exact origin (no need to fetch)."""
        found: set[int] = set()
        with transaction(self._engine) as session:
            for start in range(0, len(uids), 500):
                query = select(Message.uid).where(
                    Message.source == self.source,
                    Message.folder == folder,
                    Message.uidvalidity == uidvalidity,
                    Message.uid.in_(uids[start : start + 500]),  # type: ignore[union-attr]
                )
                found.update(uid for uid in session.exec(query) if uid is not None)
        return found

    def _row(self, session: Session, folder: str) -> SourceState | None:
        query = select(SourceState).where(
            SourceState.source == self.source, SourceState.folder == folder
        )
        return session.exec(query).first()
