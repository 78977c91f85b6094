"""The drop folder: each file stored once, then moved to .done/, also with two instances
watching the same folder."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest
from sqlmodel import func, select

from inbox_daemon.config import FolderSource as FolderConfig
from inbox_daemon.context import Context
from inbox_daemon.sources.folder import FolderSource
from inbox_daemon.spool import Incoming, Spool, Spooled
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message


def drop(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"{i:03d}.eml"
        path.write_bytes(
            f"From: a{i}@example.org\r\nSubject: lampione {i}\r\n"
            f"Message-ID: <drop-{i}@example.org>\r\n\r\nIl lampione {i} e' spento.\r\n".encode()
        )
        paths.append(path)
    return paths


def source(folder: Path, name: str = "drop") -> FolderSource:
    return FolderSource(FolderConfig(name=name, kind="folder", path=folder))


def stored(ctx: Context) -> int:
    with transaction(ctx.engine) as session:
        return session.exec(select(func.count()).select_from(Message)).one()


def test_dropped_files_are_stored_once_and_moved_to_done(ctx: Context, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    drop(folder, 3)
    (folder / ".half-written.eml").write_bytes(b"From: x")
    drop_source = source(folder)
    assert drop_source.poll(ctx.spool) == 3
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [".half-written.eml"]
    assert sorted(p.name for p in (folder / ".done").iterdir()) == [
        "000.eml", "001.eml", "002.eml",
    ]  # fmt: skip
    drop(folder, 1)  # the same file dropped again: stored before, moved beside the first
    assert drop_source.poll(ctx.spool) == 0
    assert len(list((folder / ".done").iterdir())) == 4
    assert stored(ctx) == 3


class Interleaved(Spool):
    """A spool that, while storing its first file, lets another instance poll the folder
    first: the other stores and moves every file before this one acts on any."""

    def __init__(self, spool: Spool, rival: FolderSource) -> None:
        super().__init__(spool.engine, spool.blobs)
        self.rival, self.spool = rival, spool

    def store(self, incoming: Incoming) -> Spooled:
        if self.rival is not None:
            rival, self.rival = self.rival, None
            rival.poll(self.spool)
        return super().store(incoming)


def test_two_instances_on_one_folder_store_each_file_once(ctx: Context, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    drop(folder, 5)
    first, second = source(folder, "drop-a"), source(folder, "drop-b")
    first.poll(Interleaved(ctx.spool, rival=second))  # no error for files gone meanwhile
    assert stored(ctx) == 5
    assert not [p for p in folder.iterdir() if p.is_file()]
    assert sorted(p.name for p in (folder / ".done").iterdir()) == [
        f"{i:03d}.eml" for i in range(5)
    ]


def test_close_ends_a_poll_in_progress_before_its_next_file(ctx: Context, tmp_path: Path) -> None:
    """The daemon's stop closes the source while it polls: the files left wait, unread."""
    folder = tmp_path / "drop"
    drop(folder, 5)
    drop_source = source(folder)

    class Closing:  # the spool, closing the source under its poll after the second file
        def __init__(self) -> None:
            self.stored = 0

        def store(self, incoming: Incoming) -> Spooled:
            self.stored += 1
            if self.stored == 2:
                drop_source.close()
            return ctx.spool.store(incoming)

    assert drop_source.poll(Closing()) == 2  # type: ignore[arg-type]
    assert len(list(folder.glob("*.eml"))) == 3 and stored(ctx) == 2


def test_a_large_file_is_copied_into_the_spool_never_read_whole(
    ctx: Context, tmp_path: Path
) -> None:
    """A 24 MB drop file stored byte-exact while the poll allocates a few megabytes at most
    (tracemalloc counts the allocations, whatever the machine's load): reading it whole, as
    the source once did, allocates its 24 MB at once."""
    folder = tmp_path / "drop"
    folder.mkdir()
    raw = b"From: a@example.org\r\nSubject: foto\r\n\r\n" + os.urandom(24 << 20)
    (folder / "large.eml").write_bytes(raw)
    want, size = hashlib.sha256(raw).hexdigest(), len(raw)
    del raw
    tracemalloc.start()
    try:
        assert source(folder).poll(ctx.spool) == 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    with transaction(ctx.engine) as session:
        message = session.exec(select(Message)).one()
    assert (message.sha256, message.size) == (want, size)
    with ctx.spool.blobs.open("raw", want) as stored_file:
        assert hashlib.file_digest(stored_file, "sha256").hexdigest() == want
    assert [p.name for p in (folder / ".done").iterdir()] == ["large.eml"]


def test_a_file_the_store_cannot_take_stays_in_the_folder(ctx: Context, tmp_path: Path) -> None:
    """Nothing lost: the store failing (its folder for messages unusable: a real fault) fails
    the poll, and the file waits in the drop folder, unmoved, for the next one."""
    folder = tmp_path / "drop"
    [path] = drop(folder, 1)
    raw_folder = ctx.spool.blobs.root / "raw"
    raw_folder.parent.mkdir(parents=True, exist_ok=True)
    raw_folder.write_bytes(b"not a folder")
    with pytest.raises(NotADirectoryError):
        source(folder).poll(ctx.spool)
    assert path.exists() and not (folder / ".done").exists() and stored(ctx) == 0
    raw_folder.unlink()
    assert source(folder).poll(ctx.spool) == 1
    assert not path.exists() and stored(ctx) == 1


def test_a_file_that_cannot_be_read_is_left_and_said_once_per_interval(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Tests run as root, whom no permission stops, so the refusal is made by replacing
    `Path.open` for the one file: the only fault here that cannot be caused for real."""
    folder = tmp_path / "drop"
    unreadable, readable = drop(folder, 2)
    real_open = Path.open

    def refusing(self: Path, *args: object, **kwargs: object):
        if self == unreadable:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing)
    drop_source = source(folder)
    with caplog.at_level("WARNING", logger="inbox_daemon.sources.folder"):
        assert drop_source.poll(ctx.spool) == 1  # the other file is stored all the same
        for _ in range(50):
            assert drop_source.poll(ctx.spool) == 0
    said = [r.getMessage() for r in caplog.records if "cannot read" in r.getMessage()]
    assert said == [f"drop: cannot read {unreadable}: Permission denied"]  # once, not 51 times
    assert unreadable.exists() and not readable.exists()  # left for the operator to mend
    caplog.clear()
    with caplog.at_level("WARNING", logger="inbox_daemon.sources.folder"):
        drop_source.close()  # the count is said at stop
    assert any("50 more time(s)" in r.getMessage() for r in caplog.records)
    assert stored(ctx) == 1
