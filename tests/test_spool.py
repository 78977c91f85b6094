"""The spool: bytes durable and a row committed, once per message, whatever the path."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from inbox_daemon import blobs as blobs_module
from inbox_daemon.blobs import syncfs_works
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


def test_store_many_makes_one_row_per_message_whatever_repeats_in_the_batch(tmp_path):
    spool = make_spool(tmp_path)
    earlier = spool.store_many([incoming(b"stored before", uid=1), incoming(b"old uid", uid=2)])
    batch = [
        incoming(b"first", uid=10),
        incoming(b"stored before", uid=11),  # same bytes as a stored message
        incoming(b"rewritten by the server", uid=2),  # same UID as a stored message
        incoming(b"first", uid=12),  # same bytes as earlier in this batch
        incoming(b"second", uid=13),
        incoming(b"second, rewritten", uid=13),  # same UID as earlier in this batch
    ]
    results = spool.store_many(batch)

    assert [r.new for r in results] == [True, False, False, False, True, False]
    first, _, _, first_again, second, second_again = results
    assert results[1].message_pk == earlier[0].message_pk
    assert results[2].message_pk == earlier[1].message_pk
    assert first_again.message_pk == first.message_pk
    assert second_again.message_pk == second.message_pk
    assert [r.sha256 for r in results] == [hashlib.sha256(i.raw).hexdigest() for i in batch]
    assert count(spool) == 4
    for item in batch:  # every file is there, even those whose row already existed
        assert spool.read(hashlib.sha256(item.raw).hexdigest()) == item.raw
    with transaction(spool.engine) as s:
        row = s.get(Message, second.message_pk)
    assert (row.uid, row.size, row.status) == (13, len(b"second"), "received")


def test_store_is_store_many_of_one(tmp_path):
    spool = make_spool(tmp_path)
    assert spool.store_many([]) == []
    alone = spool.store(incoming(b"alone", uid=3))
    [again] = spool.store_many([incoming(b"alone", uid=3)])
    assert alone.new and not again.new and again.message_pk == alone.message_pk


def test_concurrent_batches_store_each_message_once(tmp_path):
    spool = make_spool(tmp_path)
    messages = [f"message {n}".encode() for n in range(40)]
    batches = [messages[start : start + 20] for start in range(0, 40, 5)]  # overlapping
    results = []
    barrier = threading.Barrier(len(batches))

    def worker(batch: list[bytes]) -> None:
        barrier.wait()
        results.extend(spool.store_many([incoming(raw) for raw in batch]))

    threads = [threading.Thread(target=worker, args=(batch,)) for batch in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(spool) == 40
    by_sha: dict[str, set[int]] = {}
    for r in results:
        by_sha.setdefault(r.sha256, set()).add(r.message_pk)
    assert all(len(pks) == 1 for pks in by_sha.values())
    assert sum(r.new for r in results) == 40  # each message reported new exactly once


class StaleLookUpSpool(Spool):
    """A writer whose first look-up is stale: it misses what another writer committed just
    before this one's insert. On PostgreSQL two writers can interleave so; SQLite's BEGIN
    IMMEDIATE serialises them, so the stale view is simulated here."""

    stale = True

    def _look_up(self, session, incomings, shas):
        if self.stale:
            self.stale = False
            return {}
        return super()._look_up(session, incomings, shas)


def test_a_batch_that_loses_a_race_is_redone_message_by_message(tmp_path):
    rival = make_spool(tmp_path)
    theirs = rival.store(incoming(b"taken", uid=2))
    spool = StaleLookUpSpool(rival.engine, rival.blobs)
    batch = [incoming(b"mine", uid=1), incoming(b"taken", uid=2), incoming(b"mine too", uid=3)]
    results = spool.store_many(batch)

    assert [r.new for r in results] == [True, False, True]
    assert results[1].message_pk == theirs.message_pk
    assert count(spool) == 3


@pytest.mark.parametrize("sync", ["files", "auto"])
def test_put_many_writes_each_content_once_and_leaves_no_temporary_file(tmp_path, sync):
    blobs = BlobStore(tmp_path / "store", sync)
    assert blobs.by_filesystem == (sync == "auto" and syncfs_works())
    shas = blobs.put_many("raw", [b"one", b"two", b"one"])
    assert shas == [hashlib.sha256(raw).hexdigest() for raw in (b"one", b"two", b"one")]
    assert sorted(p.name for p in (tmp_path / "store").rglob("*") if p.is_file()) == sorted(
        set(shas)
    )
    assert blobs.put_many("raw", []) == []
    assert [blobs.get("raw", sha) for sha in shas] == [b"one", b"two", b"one"]
    assert blobs.path("raw", shas[0]) == tmp_path / "store" / "raw" / shas[0][:2] / shas[0]


def test_files_half_written_before_a_crash_are_swept(tmp_path):
    blobs = BlobStore(tmp_path / "store")
    blobs.put_many("raw", [b"kept"])
    leftovers = tmp_path / "store" / "tmp"
    old, fresh = leftovers / "old-1-1", leftovers / "fresh-1-2"
    old.write_bytes(b"half a mess")
    fresh.write_bytes(b"being written now")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert blobs.sweep_temporary(older_than_s=3600) == 1
    assert sorted(p.name for p in leftovers.iterdir()) == ["fresh-1-2"]
    assert blobs.get("raw", hashlib.sha256(b"kept").hexdigest()) == b"kept"
    assert BlobStore(tmp_path / "elsewhere").sweep_temporary() == 0  # nothing written yet


def test_a_sync_mode_the_system_lacks_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(blobs_module, "syncfs_works", lambda: False)  # as on macOS or old Linux
    with pytest.raises(ValueError, match=r"Linux 5\.8"):
        BlobStore(tmp_path, "filesystem")
    assert not BlobStore(tmp_path, "auto").by_filesystem


def from_file(path, uid: int | None = None) -> Incoming:
    """An incoming message the spool copies from its open file, as the drop folder hands it."""
    handle = open(path, "rb")  # noqa: SIM115  closed by the test's end (tmp_path)
    return Incoming(b"", Origin(source="drop", uid=uid), WHEN, "email", file=handle)


def test_a_message_given_as_a_file_is_stored_like_its_bytes(tmp_path):
    spool = make_spool(tmp_path)
    raw = b"Subject: big\r\n\r\n" + os.urandom(3 * blobs_module.COPY_CHUNK + 17)
    (tmp_path / "drop.eml").write_bytes(raw)
    result = spool.store(from_file(tmp_path / "drop.eml"))
    assert result.new and result.sha256 == hashlib.sha256(raw).hexdigest()
    assert spool.read(result.sha256) == raw
    with transaction(spool.engine) as s:
        assert s.get(Message, result.message_pk).size == len(raw)
    again = spool.store(incoming(raw, source="smtp"))  # the same bytes, from memory this time
    assert not again.new and again.message_pk == result.message_pk
    assert not list((tmp_path / "store" / "tmp").iterdir())


def test_a_file_stored_again_after_a_fault_is_copied_from_its_start(tmp_path):
    """The store failing once the file is copied (its folder for messages unusable: a real
    fault) leaves no row and no copy; the same incoming stored again is read whole, not from
    where the first try stopped."""
    spool = make_spool(tmp_path)
    raw = b"Subject: retried\r\n\r\n" + os.urandom(2 * blobs_module.COPY_CHUNK)
    (tmp_path / "drop.eml").write_bytes(raw)
    message = from_file(tmp_path / "drop.eml")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "raw").write_bytes(b"not a folder")
    with pytest.raises(NotADirectoryError):
        spool.store(message)
    assert message.file.tell() == len(raw)  # read to its end by the first try
    assert count(spool) == 0 and not list((tmp_path / "store" / "tmp").iterdir())
    (tmp_path / "store" / "raw").unlink()
    result = spool.store(message)
    assert result.new and spool.read(result.sha256) == raw


@pytest.mark.parametrize("sync", ["files", "auto"])
def test_put_many_copies_files_beside_bytes_and_keeps_each_content_once(tmp_path, sync):
    blobs = BlobStore(tmp_path / "store", sync)
    contents = [b"one", os.urandom(blobs_module.COPY_CHUNK + 1), b"two"]
    for n, content in enumerate(contents):
        (tmp_path / f"{n}.eml").write_bytes(content)
    blobs.put("raw", b"two")  # stored before: its copy is dropped
    with contextlib.ExitStack() as files:
        first, second, third = (
            files.enter_context(open(tmp_path / f"{n}.eml", "rb")) for n in range(3)
        )
        shas = blobs.put_many("raw", [first, second, b"one", third])
    want = [hashlib.sha256(content).hexdigest() for content in (*contents[:2], b"one", b"two")]
    assert shas == want
    assert [blobs.get("raw", sha) for sha in shas] == [*contents[:2], b"one", b"two"]
    stored = sorted(p.name for p in (tmp_path / "store").rglob("*") if p.is_file())
    assert stored == sorted(set(want))  # nothing left in tmp/


def test_a_folders_resume_point_is_committed_with_the_batch_it_covers(tmp_path):
    """An IMAP batch and the resume point that covers it make one transaction: one BEGIN,
    and the point is there once `store_many` returns; with nothing to store, it is saved
    alone."""
    spool = make_spool(tmp_path)
    states = spool.folder_states("imap")
    begins = []

    def counting(_conn, _cursor, statement, *_args):
        begins.extend([statement] if statement.startswith("BEGIN") else [])

    event.listen(spool.engine, "before_cursor_execute", counting)
    spool.store_many(
        [incoming(b"one", uid=1), incoming(b"two", uid=2)],
        progress=states.progress("INBOX", 1, 2),
    )
    event.remove(spool.engine, "before_cursor_execute", counting)
    assert len(begins) == 1 and count(spool) == 2
    assert (states.load("INBOX").uidvalidity, states.load("INBOX").last_uid) == (1, 2)

    spool.store_many([incoming(b"three", uid=3)], progress=states.progress("INBOX", 1, 3))
    spool.store_many([], progress=states.progress("INBOX", 1, 5))  # UIDs 4-5 gone meanwhile
    assert states.load("INBOX").last_uid == 5 and count(spool) == 3


def test_a_resume_point_is_not_saved_when_its_batch_is_not_stored(tmp_path):
    """A batch whose rows the database refuses (a real SQLite trigger) leaves the folder's
    resume point where it was: it never runs ahead of what is stored."""
    spool = make_spool(tmp_path)
    states = spool.folder_states("imap")
    spool.store_many([incoming(b"one", uid=1)], progress=states.progress("INBOX", 1, 1))
    with spool.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON message "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    with pytest.raises(IntegrityError):
        spool.store_many(
            [incoming(b"two", uid=2), incoming(b"three", uid=3)],
            progress=states.progress("INBOX", 1, 3),
        )
    assert states.load("INBOX").last_uid == 1 and count(spool) == 1
