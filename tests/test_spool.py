"""The spool: bytes durable and a row committed, once per message, whatever the path."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime

from sqlmodel import func, select

from inbox_daemon.spool import BlobStore, Incoming, Origin, Spool
from inbox_daemon.store.db import open_store, transaction
from inbox_daemon.store.models import Message

WHEN = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def make_spool(tmp_path) -> Spool:
    return Spool(open_store(f"sqlite:///{tmp_path}/t.db"), BlobStore(tmp_path / "store"))


def incoming(raw: bytes, uid: int | None = None, source: str = "imap") -> Incoming:
    origin = Origin(source=source, folder="INBOX" if uid else None, uidvalidity=1 if uid else None,
                    uid=uid)  # fmt: skip
    return Incoming(raw=raw, origin=origin, received_at=WHEN, channel="email")


def count(spool: Spool) -> int:
    with transaction(spool.engine) as s:
        return s.exec(select(func.count(Message.id))).one()


def test_store_writes_the_bytes_by_hash_and_a_row(tmp_path):
    spool = make_spool(tmp_path)
    raw = b"Subject: x\r\n\r\nbody\r\n"
    result = spool.store(incoming(raw, uid=5))
    assert result.new and result.sha256 == hashlib.sha256(raw).hexdigest()
    assert spool.read(result.sha256) == raw
    with transaction(spool.engine) as s:
        row = s.get(Message, result.message_pk)
    assert (row.status, row.uid, row.received_at, row.size) == ("received", 5, WHEN, len(raw))
    assert not list((tmp_path / "store").rglob(".tmp-*"))


def test_same_bytes_from_another_source_are_not_stored_twice(tmp_path):
    spool = make_spool(tmp_path)
    first = spool.store(incoming(b"same", uid=1))
    again = spool.store(incoming(b"same", source="smtp"))
    assert not again.new and again.message_pk == first.message_pk
    assert count(spool) == 1


def test_same_uid_is_recognised_even_if_the_bytes_differ(tmp_path):
    # A server may rewrite a message (e.g. add a header) between two fetches of one UID.
    spool = make_spool(tmp_path)
    first = spool.store(incoming(b"v1", uid=9))
    again = spool.store(incoming(b"v2", uid=9))
    assert not again.new and again.message_pk == first.message_pk
    assert count(spool) == 1


def test_concurrent_writers_store_one_row(tmp_path):
    spool = make_spool(tmp_path)
    results = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(spool.store(incoming(b"raced message")))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.new for r in results) == 1
    assert len({r.message_pk for r in results}) == 1
    assert count(spool) == 1


def test_an_orphan_file_from_a_crash_is_reused(tmp_path):
    # A crash after the file was written but before the row was committed leaves the file.
    spool = make_spool(tmp_path)
    sha = spool.blobs.put("raw", b"orphan")
    assert count(spool) == 0
    result = spool.store(incoming(b"orphan"))
    assert result.new and result.sha256 == sha and count(spool) == 1


def test_a_truncated_file_is_rewritten(tmp_path):
    spool = make_spool(tmp_path)
    sha = spool.blobs.put("raw", b"complete content")
    spool.blobs.path("raw", sha).write_bytes(b"compl")  # torn write from a disk fault
    spool.blobs.put("raw", b"complete content")
    assert spool.read(sha) == b"complete content"
