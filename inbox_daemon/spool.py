"""The durable spool: raw bytes on disk and a `message` row, committed before any source is
acknowledged.

Order matters. The file is written to a temporary name, fsynced, renamed into place and its
folder fsynced; only then is the row committed. A crash before the commit leaves at most an
orphan file (harmless: content-addressed, re-used by the retry); a crash after it leaves a
stored message the source will offer again and `store` will recognise.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message
from inbox_daemon.store.types import utcnow


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
    raw: bytes
    origin: Origin
    received_at: datetime  # aware
    channel: str


@dataclass(frozen=True)
class Spooled:
    message_pk: int
    sha256: str
    new: bool  # False when these bytes, or this source UID, were stored before


class BlobStore:
    """Content-addressed files under one folder: `<kind>/ab/cd/<sha256>`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, kind: str, sha256: str) -> Path:
        return self.root / kind / sha256[:2] / sha256[2:4] / sha256

    def put(self, kind: str, data: bytes) -> str:
        """Store `data` durably and return its sha256; storing the same bytes twice is a no-op."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(kind, sha)
        if target.is_file() and target.stat().st_size == len(data):
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return sha

    def get(self, kind: str, sha256: str) -> bytes:
        return self.path(kind, sha256).read_bytes()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(self, engine: Engine, blobs: BlobStore) -> None:
        self.engine = engine
        self.blobs = blobs

    def store(self, incoming: Incoming) -> Spooled:
        """Make `incoming` durable; only after this returns may the source acknowledge it."""
        sha = self.blobs.put("raw", incoming.raw)
        known = self._find(sha, incoming.origin)
        if known is not None:
            return Spooled(known, sha, new=False)
        try:
            with transaction(self.engine) as session:
                row = _message_row(incoming, sha)
                session.add(row)
                session.flush()
                return Spooled(row.id, sha, new=True)
        except IntegrityError:
            # Another writer stored the same bytes or origin between our look-up and insert.
            known = self._find(sha, incoming.origin)
            if known is None:
                raise
            return Spooled(known, sha, new=False)

    def read(self, sha256: str) -> bytes:
        return self.blobs.get("raw", sha256)

    def _find(self, sha: str, origin: Origin) -> int | None:
        with transaction(self.engine) as session:
            found = session.exec(select(Message.id).where(Message.sha256 == sha)).first()
            if found is None and origin.uid is not None:
                found = session.exec(
                    select(Message.id).where(
                        Message.source == origin.source,
                        Message.folder == origin.folder,
                        Message.uidvalidity == origin.uidvalidity,
                        Message.uid == origin.uid,
                    )
                ).first()
            return found


def _message_row(incoming: Incoming, sha: str) -> Message:
    origin = incoming.origin
    return Message(
        sha256=sha,
        size=len(incoming.raw),
        channel=incoming.channel,
        source=origin.source,
        folder=origin.folder,
        uidvalidity=origin.uidvalidity,
        uid=origin.uid,
        origin=origin.detail,
        received_at=incoming.received_at,
        spooled_at=utcnow(),
    )
