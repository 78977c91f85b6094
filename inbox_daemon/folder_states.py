"""Where each mailbox folder stands (`source_state`), and which of its UIDs are stored.

Handed out by the spool (`Spool.folder_states`), so that a source reads and writes its resume
point through the spool's engine and holds none of its own. The resume point (`last_uid`) only
ever covers messages the spool has committed, so a crash at any moment resumes at or before
the first message not yet stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, insert, update
from sqlmodel import Session, select

from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message, SourceState
from inbox_daemon.store.types import utcnow

SET_PROGRESS = (
    update(SourceState)
    .where(SourceState.source == bindparam("s"), SourceState.folder == bindparam("f"))
    .values(uidvalidity=bindparam("uv"), last_uid=bindparam("last"))
)


@dataclass(frozen=True)
class Progress:
    """A folder's resume point, to be written in the transaction that stores the messages
    it covers (`Spool.store_many`): committed with them, never before them."""

    source: str
    folder: str
    uidvalidity: int
    last_uid: int

    def write(self, connection: Connection) -> None:
        """Two statements at most, no ORM: one UPDATE, and the INSERT of a folder's first."""
        values = {"s": self.source, "f": self.folder, "uv": self.uidvalidity}
        if connection.execute(SET_PROGRESS, {**values, "last": self.last_uid}).rowcount:
            return
        connection.execute(
            insert(SourceState).values(
                source=self.source, folder=self.folder, uidvalidity=self.uidvalidity,
                last_uid=self.last_uid, awaiting_action=0,
            )
        )  # fmt: skip


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

    def progress(self, folder: str, uidvalidity: int, last_uid: int) -> Progress:
        """The resume point, for `Spool.store_many` to commit with the batch it covers."""
        return Progress(self.source, folder, uidvalidity, last_uid)

    def save_progress(self, folder: str, uidvalidity: int, last_uid: int) -> None:
        """Record the resume point on its own: never before what it covers is stored."""
        with transaction(self._engine) as session:
            self.progress(folder, uidvalidity, last_uid).write(session.connection())

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
