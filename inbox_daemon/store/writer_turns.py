"""Turns at SQLite's single write lock, taken inside the process before BEGIN IMMEDIATE.

SQLite lets one transaction write at a time. A writer that finds the lock taken is put to
sleep by SQLite's busy handler, polling at growing intervals (1, 2, 5, 10 … 100 ms): it wakes
long after the lock is free. The daemon's writers are threads of one process (the SMTP
ingress's, the main thread registering, the outbox's), so they queue here instead, and the
next one goes the moment the last one commits. Another process (a CLI command) still meets
the busy timeout, as before.

An SMTP client waits for its `250` while its message is stored, and a few clients in turn
are all the ingress has: a store must not wait behind a batch of registration. So a writer
may be `urgent` (the spool, which a source waits on): the others let urgent writers that
are waiting go first, for at most `PATIENCE_S` each time, so registration still advances
under a flood.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

PATIENCE_S = 0.2  # how long a writer lets waiting urgent writers pass before taking its turn


class WriterTurns:
    """A re-entrant lock (a thread may nest transactions) in which urgent writers go first."""

    def __init__(self, patience_s: float = PATIENCE_S) -> None:
        self.patience_s = patience_s
        self._changed = threading.Condition()
        self._holder: int | None = None
        self._depth = 0
        self._urgent_waiting = 0
        self._overdue = 0  # ordinary writers waiting past their patience: they go next

    @contextmanager
    def turn(self, urgent: bool = False) -> Iterator[None]:
        self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, urgent: bool) -> None:
        me = threading.get_ident()
        with self._changed:
            if self._holder == me:
                self._depth += 1
                return
            if urgent:
                self._wait_urgent()
            else:
                self._wait_ordinary()
            self._holder, self._depth = me, 1

    def _wait_urgent(self) -> None:
        self._urgent_waiting += 1
        try:  # behind the holder, and behind ordinary writers whose patience is over
            while self._holder is not None or self._overdue:
                self._changed.wait()
        finally:
            self._urgent_waiting -= 1

    def _wait_ordinary(self) -> None:
        deadline = time.monotonic() + self.patience_s
        while self._holder is not None or self._urgent_waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._changed.wait(left)
        self._overdue += 1  # from now on the urgent writers let this one pass
        try:
            while self._holder is not None:
                self._changed.wait()
        finally:
            self._overdue -= 1

    def _release(self) -> None:
        with self._changed:
            self._depth -= 1
            if self._depth == 0:
                self._holder = None
                self._changed.notify_all()
