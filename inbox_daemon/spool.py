"""The durable spool: raw bytes on disk and a `message` row, committed before any source is
acknowledged.

Order matters. The file is written to a temporary name, fsynced, renamed into place and its
folder fsynced (`blobs.py`); only then is the row committed. A crash before the commit leaves
at most an orphan file (harmless: content-addressed, re-used by the retry); a crash after it
leaves a stored message the source will offer again and `store` will recognise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import Connection, Engine, bindparam, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from inbox_daemon.blobs import BlobStore
from inbox_daemon.folder_states import FolderStates, Progress
from inbox_daemon.store.db import RETRY_S, retrying, transaction
from inbox_daemon.store.models import Message
from inbox_daemon.store.types import utcnow

Key = tuple[Any, ...]  # ("sha", sha256) or ("uid", source, folder, uidvalidity, uid)
# One multi-row INSERT … RETURNING per batch (SQLAlchemy's "insertmanyvalues"). Each id comes
# back with its row's sha256, unique in the batch and the table: asking for the ids in the
# order of the rows instead (`sort_by_parameter_order`) makes SQLAlchemy insert the rows one
# by one on SQLite, a statement per message.
INSERT_MESSAGES = insert(Message).returning(Message.sha256, Message.id)
# A batch's look-ups, built once: an IN of fifty literal values was a new statement to build
# and to key for the statement cache at every batch; an expanding parameter is bound instead.
LOOK_UP_SHAS = select(Message.id, Message.sha256).where(
    Message.sha256.in_(bindparam("shas", expanding=True))
)
LOOK_UP_UIDS = select(Message.id, Message.uid).where(
    Message.source == bindparam("source"),
    Message.folder == bindparam("folder"),
    Message.uidvalidity == bindparam("uidvalidity"),
    Message.uid.in_(bindparam("uids", expanding=True)),
)


@dataclass(frozen=True)
class Origin:
    """Where a message came from: enough to recognise it when the source offers it again."""

    source: str
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None
    detail: str | None = None  # SMTP session, file path: for people, not for matching


@dataclass(frozen=True)
class Incoming:
    """A message to store: its bytes, or (`file`) a seekable binary file that holds them,
    which the spool copies from its start in chunks (a large drop file is then never in
    memory whole; `raw` is then b"")."""

    raw: bytes
    origin: Origin
    received_at: datetime  # aware
    channel: str
    file: BinaryIO | None = None

    def content(self) -> bytes | BinaryIO:
        """What the blob store copies: the bytes, or the file from its start (a store tried
        again after a fault reads it whole again)."""
        if self.file is None:
            return self.raw
        self.file.seek(0)
        return self.file


@dataclass(frozen=True)
class Spooled:
    message_pk: int
    sha256: str
    new: bool  # False when these bytes, or this source UID, were stored before


class Spool:
    def __init__(self, engine: Engine, blobs: BlobStore) -> None:
        self.engine = engine
        self.blobs = blobs

    def store(self, incoming: Incoming) -> Spooled:
        """Make `incoming` durable; only after this returns may the source acknowledge it."""
        return self.store_many([incoming])[0]

    def store_many(
        self,
        incomings: Sequence[Incoming],
        wait_s: float = RETRY_S,
        progress: Progress | None = None,
    ) -> list[Spooled]:
        """Make each of `incomings` durable, in order; only after this returns may the source
        acknowledge them.

        Files first (fsynced together), then one transaction looks up and inserts every row:
        a batch costs one commit, not one per message. The same bytes or origin twice in the
        batch make one row; the later ones come back as not new. While the database is away
        the transaction is tried again for up to `wait_s` (a commit whose answer was lost is
        found by the look-up: nothing is stored twice), then the error is raised. A mailbox
        folder's resume point that covers the batch (`progress`) is written in the same
        transaction: stored with the messages, or not at all, and no commit of its own.
        """
        if not incomings:
            if progress is not None:
                self.folder_states(progress.source).save_progress(
                    progress.folder, progress.uidvalidity, progress.last_uid
                )
            return []
        return self.record(incomings, self.write_files(incomings), wait_s, progress)

    def write_files(self, incomings: Sequence[Incoming]) -> list[str]:
        """The first half of `store_many`: the raw bytes, durable; their sha256s, in order."""
        return self.blobs.put_many("raw", [incoming.content() for incoming in incomings])

    def record(
        self,
        incomings: Sequence[Incoming],
        shas: Sequence[str],
        wait_s: float = RETRY_S,
        progress: Progress | None = None,
    ) -> list[Spooled]:
        """The second half of `store_many`: the rows of messages whose files `write_files`
        has made durable (never before: a row must not outlive a crash without its file)."""
        try:
            return retrying(self.engine, lambda: self._record(incomings, shas, progress), wait_s)
        except DBAPIError as exc:
            if not _lost_race(exc):
                raise
            # Another writer stored one of these between our look-up and insert (PostgreSQL;
            # SQLite's BEGIN IMMEDIATE lets no one in between): redo each message on its own,
            # then the resume point that covers them all.
            pairs = zip(incomings, shas, strict=True)
            stored = [self._store_one(incoming, sha) for incoming, sha in pairs]
            if progress is not None:
                self.store_many([], progress=progress)
            return stored

    def folder_states(self, source: str) -> FolderStates:
        """Where `source`'s mailbox folders stand (resume points, stored UIDs, waiting
        post-actions): sources keep their state through the spool, never in an engine of
        their own."""
        return FolderStates(self.engine, source)

    def read(self, sha256: str) -> bytes:
        return self.blobs.get("raw", sha256)

    def _store_one(self, incoming: Incoming, sha: str) -> Spooled:
        try:
            return self._record([incoming], [sha])[0]
        except IntegrityError:
            # The row that won the race is committed by now: this look-up finds it.
            return self._record([incoming], [sha])[0]

    def _record(
        self, incomings: Sequence[Incoming], shas: Sequence[str], progress: Progress | None = None
    ) -> list[Spooled]:
        """Look up and insert the rows of a batch whose files are durable, in one transaction
        (with the folder's resume point, if given).

        An incoming message makes a row unless its bytes or its source UID are stored already,
        or came earlier in the batch.
        """
        keys = [_keys(sha, incoming.origin) for incoming, sha in zip(incomings, shas, strict=True)]
        # urgent: a source waits on this to acknowledge; registration lets it go first
        with transaction(self.engine, urgent=True) as session:
            connection = session.connection()
            found = self._look_up(connection, incomings, shas)
            taken = set(found)
            makers = []  # positions of the messages that make a row
            for position, its_keys in enumerate(keys):
                if taken.isdisjoint(its_keys):
                    makers.append(position)
                    taken.update(its_keys)
            rows = [self._row(incomings[position], shas[position]) for position in makers]
            ids = dict(connection.execute(INSERT_MESSAGES, rows).all()) if rows else {}
            for position in makers:  # each maker's sha256 is its own (`taken` above)
                found.update(dict.fromkeys(keys[position], ids[shas[position]]))
            if progress is not None:
                progress.write(connection)
        made = set(makers)
        return [
            Spooled(next(found[key] for key in its_keys if key in found), sha, new=position in made)
            for position, (its_keys, sha) in enumerate(zip(keys, shas, strict=True))
        ]

    def _look_up(
        self, connection: Connection, incomings: Sequence[Incoming], shas: Sequence[str]
    ) -> dict[Key, int]:
        """Ids of messages already stored with these bytes, or from these source UIDs."""
        rows = connection.execute(LOOK_UP_SHAS, {"shas": sorted(set(shas))})
        found: dict[Key, int] = {("sha", sha): pk for pk, sha in rows}
        for (source, folder, uidvalidity), uids in _uids_by_folder(incomings).items():
            if folder is None or uidvalidity is None:  # `= NULL` would match nothing
                query = select(Message.id, Message.uid).where(
                    Message.source == source,
                    Message.folder == folder,
                    Message.uidvalidity == uidvalidity,
                    Message.uid.in_(uids),
                )
                rows = connection.execute(query)
            else:
                where = {"source": source, "folder": folder, "uidvalidity": uidvalidity}
                rows = connection.execute(LOOK_UP_UIDS, {**where, "uids": sorted(uids)})
            for pk, uid in rows:
                found[("uid", source, folder, uidvalidity, uid)] = pk
        return found

    def _row(self, incoming: Incoming, sha: str) -> dict[str, Any]:
        """The `message` row; a copied file's size is its stored file's (the bytes hashed)."""
        size = len(incoming.raw) if incoming.file is None else self.blobs.size("raw", sha)
        return _message_row(incoming, sha, size)


DEADLOCK_DETECTED = "40P01"  # SQLSTATE


def _lost_race(exc: DBAPIError) -> bool:
    """Whether another writer storing some of the same messages made the batch fail.

    Its committed row breaks a unique constraint (IntegrityError). Or, on PostgreSQL, two
    writers inserting some of the same messages in different orders (the same mail reaching
    two instances, batched differently) each come to hold a row the other one wants next:
    PostgreSQL then ends one of them as deadlocked, an OperationalError, and that one must
    recover the same way (a test in tests/postgres makes it happen). Inserting in a fixed
    order (by sha256) would avoid it, but would give messages their ids out of arrival order.
    """
    if isinstance(exc, IntegrityError):
        return True
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code == DEADLOCK_DETECTED


def _keys(sha: str, origin: Origin) -> list[Key]:
    """What identifies a stored message, strongest first: its bytes, then its source UID."""
    keys: list[Key] = [("sha", sha)]
    if origin.uid is not None:
        keys.append(("uid", origin.source, origin.folder, origin.uidvalidity, origin.uid))
    return keys


def _uids_by_folder(incomings: Sequence[Incoming]) -> dict[Key, set[int]]:
    by_folder: dict[Key, set[int]] = defaultdict(set)
    for incoming in incomings:
        origin = incoming.origin
        if origin.uid is not None:
            by_folder[(origin.source, origin.folder, origin.uidvalidity)].add(origin.uid)
    return by_folder


def _message_row(incoming: Incoming, sha: str, size: int) -> dict[str, Any]:
    origin = incoming.origin
    return {
        "sha256": sha,
        "size": size,
        "channel": incoming.channel,
        "source": origin.source,
        "folder": origin.folder,
        "uidvalidity": origin.uidvalidity,
        "uid": origin.uid,
        "origin": origin.detail,
        "received_at": incoming.received_at,
        "spooled_at": utcnow(),
    }
