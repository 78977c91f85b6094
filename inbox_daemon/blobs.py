"""Content-addressed files, written durably: raw messages and attachments.

A file is durable once its bytes are fsynced under a temporary name, renamed into place, and
the folder holding the new name is fsynced (and, for a folder just created, the folder above
it, so that the new folder itself survives a power cut). Only then may anyone rely on it.

This module imports nothing of the database, so that the processes that parse and classify
(see `analysis.py`) can read messages without loading SQLAlchemy.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FSYNC_THREADS = 8  # fsync waits on the disk, not the CPU: overlapped, many share a journal commit


class BlobStore:
    """Content-addressed files under one folder: `<kind>/ab/cd/<sha256>`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, kind: str, sha256: str) -> Path:
        return self.root / kind / sha256[:2] / sha256[2:4] / sha256

    def put(self, kind: str, data: bytes) -> str:
        """Store `data` durably and return its sha256; storing the same bytes twice is a no-op."""
        return self.put_many(kind, [data])[0]

    def put_many(self, kind: str, items: Sequence[bytes]) -> list[str]:
        """Store each of `items` durably and return their sha256s, in order.

        All files are written first, then fsynced together, renamed, and each folder touched
        is fsynced once: a batch costs about what one file does when fsynced alone.
        """
        shas = [hashlib.sha256(data).hexdigest() for data in items]
        pending: dict[Path, Path] = {}  # temporary file -> its final name
        folders: set[Path] = set()  # folders whose entries change
        try:
            for sha, data in dict(zip(shas, items, strict=True)).items():
                target = self.path(kind, sha)
                if _complete(target, len(data)):
                    continue
                folders.update(_make_folders(target.parent))
                pending[_write_temporary(target.parent, data)] = target
            _fsync_all(pending)
            for tmp, target in pending.items():
                os.replace(tmp, target)
                folders.add(target.parent)
            pending.clear()
        finally:
            for tmp in pending:
                tmp.unlink(missing_ok=True)
        _fsync_all(folders)
        return shas

    def get(self, kind: str, sha256: str) -> bytes:
        return self.path(kind, sha256).read_bytes()


def _complete(target: Path, size: int) -> bool:
    """Already stored (a torn file from a disk fault has the wrong size and is rewritten)."""
    try:
        return target.stat().st_size == size
    except FileNotFoundError:
        return False


def _make_folders(folder: Path) -> list[Path]:
    """Create `folder` and missing parents; return the folders that gained an entry."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
    return [path.parent for path in missing]


def _write_temporary(folder: Path, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _fsync_all(paths: Iterable[Path]) -> None:
    paths = list(paths)
    if len(paths) <= 1:
        for path in paths:
            _fsync(path)
        return
    with ThreadPoolExecutor(min(FSYNC_THREADS, len(paths))) as pool:
        list(pool.map(_fsync, paths))


def _fsync(path: Path) -> None:
    """fsync a file or a folder by name (a folder: so that the names in it are durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
