"""The drop folder: `.eml` files put there are ingested, then moved to `.done/`.

Writers should create files under a dot-name and rename them into place (as maildir does), so
a half-written file is never read; hidden files are skipped for that reason.

Several instances may watch one folder (a shared disk): a file another instance took between
our listing and our reading or moving it is simply gone, not a fault. Both may store the same
file meanwhile; the spool keeps its bytes once.

A file is copied into the spool in chunks, never read whole: spooling a 45 MB message costs
the daemon a megabyte of memory, not 45 (the workers parse the stored copy, read in chunks
too). It is moved aside only once the copy is durable.

`close` (the daemon stopping) ends a poll in progress before its next file: the files left
are read at the next start, so a stop does not wait for a large folder to be stored.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path

from inbox_daemon.config import FolderSource as FolderConfig
from inbox_daemon.sources.files import HEAD_BYTES, file_received_at, message_files
from inbox_daemon.sources.repeat_log import RepeatLog
from inbox_daemon.spool import Incoming, Origin, Spool
from inbox_daemon.store.types import utcnow

log = logging.getLogger(__name__)


class FolderSource:
    def __init__(self, config: FolderConfig) -> None:
        self.name = config.name
        self.config = config
        self.done = config.path / ".done"
        self._closed = threading.Event()
        self._unreadable = RepeatLog(log)  # a file left unreadable is met at every poll

    def poll(self, spool: Spool) -> int:
        self.config.path.mkdir(parents=True, exist_ok=True)
        new = 0
        for path in message_files(self.config.path):
            if self._closed.is_set():
                break
            new += self._take(path, spool)
        return new

    def _take(self, path: Path, spool: Spool) -> int:
        """Store one file and move it aside; 1 if it was new. The spool copies it from the open
        file: its bytes are never all in memory (the pipeline parses it from the store)."""
        try:
            handle = path.open("rb")
        except FileNotFoundError:  # another instance took it meanwhile
            return 0
        except OSError as exc:
            return self._cannot_read(path, exc)
        with handle:
            try:
                head = handle.read(HEAD_BYTES)
            except OSError as exc:
                return self._cannot_read(path, exc)
            incoming = Incoming(
                raw=b"",
                origin=Origin(source=self.name, detail=str(path)),
                received_at=file_received_at(head, fallback=utcnow()),
                channel=self.config.channel,
                file=handle,
            )
            new = spool.store(incoming).new
        self._acknowledge(path)
        return new

    def _cannot_read(self, path: Path, exc: OSError) -> int:
        """A file that cannot be read stays where it is, for the operator to see and mend;
        said once per interval with a count, not at every poll (one a second, for months)."""
        said = f"{self.name}: cannot read {path}: {exc.strerror}"
        self._unreadable.note(said, said)
        return 0

    def _acknowledge(self, path: Path) -> None:
        """Move the stored file out of the way (kept, not deleted: operators may want it)."""
        self.done.mkdir(exist_ok=True)
        target = self.done / path.name
        if target.exists():
            target = self.done / f"{path.stem}.{os.getpid()}.{utcnow():%Y%m%d%H%M%S%f}{path.suffix}"
        with contextlib.suppress(FileNotFoundError):  # another instance moved it: stored twice,
            os.replace(path, target)  # kept once

    def close(self) -> None:
        self._closed.set()
        self._unreadable.flush()
