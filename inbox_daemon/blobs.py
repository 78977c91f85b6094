"""Content-addressed files, written durably: raw messages and attachments.

A file is durable once its bytes and its name are on disk: written in `tmp/` (as a maildir
does), renamed into place, then synced. Only then may anyone rely on it. A batch is synced at once:

- on Linux 5.8 and later, by one `syncfs(2)` of the store's filesystem, opened before the
  first write (from 5.8 on, it reports a write-back error on any file written since then):
  a batch of fifty messages costs one flush of the journal instead of a hundred fsyncs, which
  is most of the CPU that storing mail costs;
- elsewhere, by fsyncing every new file (in threads, so that they share journal commits) and
  then every folder that gained a name (and, for a folder just created, the one above it).

`syncfs` also flushes whatever else is waiting to be written on that filesystem: on a machine
that writes much else there, give the store a filesystem of its own, or choose the per-file
way with `[storage] sync = "files"`.

A message or an attachment may come as bytes or as an open file: a file is copied in chunks of
`COPY_CHUNK` into `tmp/` and hashed as it is copied, so that a 45 MB drop file is never in
memory whole; its name is known only once it is copied, and a copy of content stored before is
dropped. Either way the same durability and the same one-file-per-content contract hold.

This module imports nothing of the database, so that the processes that parse and classify
(see `analysis.py`) can read messages without loading SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import itertools
import os
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import BinaryIO

FSYNC_THREADS = 8  # fsync waits on the disk, not the CPU: overlapped, many share a journal commit
SYNC_MODES = ("auto", "filesystem", "files")
COPY_CHUNK = 1 << 20  # bytes of a file read, hashed and written at a time
Content = bytes | BinaryIO  # what `put_many` stores: bytes, or a binary file read to its end
_BYTES = (bytes, bytearray, memoryview)
_copies = itertools.count()  # tells apart the temporary copies of one thread


@dataclass(frozen=True)
class _Copied:
    """A file's content already copied into `tmp/` (by `_copy_temporary`), not yet in place."""

    tmp: str
    size: int


class BlobStore:
    """Content-addressed files under one folder: `<kind>/ab/<sha256>`, 256 folders a kind
    (as git keeps its objects: a folder made per file would cost an inode and a sync each).

    `sync`: "filesystem" (one syncfs per batch; Linux 5.8+), "files" (fsync each file and
    folder), or "auto" (the first where the system has it).
    """

    def __init__(self, root: Path, sync: str = "auto") -> None:
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {', '.join(SYNC_MODES)}, not {sync!r}")
        if sync == "filesystem" and not syncfs_works():
            raise ValueError("sync = 'filesystem' needs Linux 5.8 or later")
        self.root = root
        self.by_filesystem = sync == "filesystem" or (sync == "auto" and syncfs_works())

    def path(self, kind: str, sha256: str) -> Path:
        return Path(self._path(kind, sha256))

    def _path(self, kind: str, sha256: str) -> str:
        return os.path.join(self.root, kind, sha256[:2], sha256)

    def put(self, kind: str, data: Content) -> str:
        """Store `data` durably and return its sha256; storing the same bytes twice is a no-op."""
        return self.put_many(kind, [data])[0]

    def put_many(self, kind: str, items: Sequence[Content]) -> list[str]:
        """Store each of `items` durably and return their sha256s, in order.

        An item is bytes, or a binary file open for reading: that one is read from where it
        stands to its end, in chunks, never whole (the caller closes it).
        """
        streamed = not all(isinstance(item, _BYTES) for item in items)
        if streamed:  # root opened before the copies are written: syncfs reports their errors
            os.makedirs(self._tmp, exist_ok=True)
        root = os.open(self.root, os.O_RDONLY) if streamed and self.by_filesystem else None
        hashed: list[tuple[str, bytes | _Copied]] = []
        try:
            for item in items:
                if isinstance(item, _BYTES):
                    hashed.append((hashlib.sha256(item).hexdigest(), bytes(item)))
                else:
                    hashed.append(self._copy_temporary(item))
            missing: dict[str, bytes | _Copied] = {}
            for sha, content in hashed:
                if sha not in missing and not _complete(self._path(kind, sha), _size(content)):
                    missing[sha] = content
            if missing:
                os.makedirs(self._tmp, exist_ok=True)
                if self.by_filesystem:
                    self._put_synced_by_filesystem(kind, missing, root)
                else:
                    self._put_synced_by_file(kind, missing)
        finally:
            if root is not None:
                os.close(root)
            for _, content in hashed:  # copies not renamed into place: content stored before
                if isinstance(content, _Copied):
                    Path(content.tmp).unlink(missing_ok=True)
        return [sha for sha, _ in hashed]

    def size(self, kind: str, sha256: str) -> int:
        """The stored file's size in bytes: that of the content it was stored for."""
        return os.stat(self._path(kind, sha256)).st_size

    def get(self, kind: str, sha256: str) -> bytes:
        with open(self._path(kind, sha256), "rb") as handle:
            return handle.read()

    def open(self, kind: str, sha256: str) -> BinaryIO:
        """The stored file, open for reading: a large message need not be read whole."""
        return open(self._path(kind, sha256), "rb")

    def sweep_temporary(self, older_than_s: float = 3600) -> int:
        """Remove what writers that crashed left in `tmp/` (files older than `older_than_s`:
        a younger one may still be written); the number removed."""
        removed = 0
        cutoff = time.time() - older_than_s
        with contextlib.suppress(FileNotFoundError), os.scandir(self._tmp) as entries:
            for entry in entries:
                with contextlib.suppress(FileNotFoundError):
                    if entry.is_file() and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
        return removed

    @property
    def _tmp(self) -> str:
        return os.path.join(self.root, "tmp")

    def _write_temporary(self, sha: str, data: bytes | _Copied) -> str:
        """`data` in `tmp/`, under a name no other writer uses now (a leftover of a crashed
        writer with the same name holds the same bytes, and is overwritten); a copy made by
        `_copy_temporary` is there already."""
        if isinstance(data, _Copied):
            return data.tmp
        tmp = os.path.join(self._tmp, f"{sha[:16]}-{os.getpid()}-{threading.get_ident()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return tmp

    def _copy_temporary(self, source: BinaryIO) -> tuple[str, _Copied]:
        """`source`, read to its end, copied into `tmp/` and hashed on the way, a chunk at a
        time: its sha256 and the copy (its name in place is known only now)."""
        name = f"copy-{os.getpid()}-{threading.get_ident()}-{next(_copies)}"
        tmp = os.path.join(self._tmp, name)
        digest, size = hashlib.sha256(), 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(COPY_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest.hexdigest(), _Copied(tmp, size)

    def _put_synced_by_filesystem(
        self, kind: str, items: dict[str, bytes | _Copied], root: int | None
    ) -> None:
        own = root is None
        if own:  # before the writes: syncfs reports their errors
            root = os.open(self.root, os.O_RDONLY)
        assert root is not None
        try:
            for sha, data in items.items():
                target = self._path(kind, sha)
                _make_folders(os.path.dirname(target))
                os.replace(self._write_temporary(sha, data), target)
            _syncfs(root)
        finally:
            if own:
                os.close(root)

    def _put_synced_by_file(self, kind: str, items: dict[str, bytes | _Copied]) -> None:
        pending: dict[str, str] = {}  # temporary file -> its final name
        folders: set[str] = set()  # folders whose entries change
        try:
            for sha, data in items.items():
                target = self._path(kind, sha)
                folder = os.path.dirname(target)
                folders.update(os.path.dirname(made) for made in _make_folders(folder))
                folders.add(folder)
                pending[self._write_temporary(sha, data)] = target
            _fsync_all(pending)
            for tmp, target in pending.items():
                os.replace(tmp, target)
            pending.clear()
        finally:
            for tmp in pending:
                Path(tmp).unlink(missing_ok=True)
        _fsync_all(folders)


def _size(content: bytes | _Copied) -> int:
    return content.size if isinstance(content, _Copied) else len(content)


def _complete(target: str, size: int) -> bool:
    """Already stored (a torn file from a disk fault has the wrong size and is rewritten)."""
    try:
        return os.stat(target).st_size == size
    except FileNotFoundError:
        return False


def _make_folders(folder: str) -> list[str]:
    """Create `folder` and missing parents; return the folders created, outermost first."""
    missing = []
    while not os.path.isdir(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    missing.reverse()
    for path in missing:
        with contextlib.suppress(FileExistsError):  # another writer made it meanwhile
            os.mkdir(path)
    return missing


@cache
def syncfs_works() -> bool:
    """syncfs(2) exists and reports write-back errors (Linux 5.8 and later)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 8) and hasattr(_libc(), "syncfs")


@cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _syncfs(fd: int) -> None:
    if _libc().syncfs(fd) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"syncfs failed: {os.strerror(errno)}")


def _fsync_all(paths: Iterable[str]) -> None:
    paths = list(paths)
    if len(paths) <= 1:
        for path in paths:
            _fsync(path)
        return
    list(_fsync_pool().map(_fsync, paths))


@cache
def _fsync_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(FSYNC_THREADS, thread_name_prefix="fsync")


def _fsync(path: str) -> None:
    """fsync a file or a folder by name (a folder: so that the names in it are durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
