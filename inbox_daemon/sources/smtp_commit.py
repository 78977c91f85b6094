"""Group commit: SMTP sessions that reach end-of-DATA together share their syncs and commit.

Storing a message costs two waits on the disk, in this order: a sync of its file, then the
commit of its row (SQLite syncs its log at each commit). Both hardly grow with the number
of messages they cover, so messages are stored in two stages, each shared:

- files: what has ended is written and synced in batches, up to `FILE_WRITERS` at once (a
  batch that ends while the others sync need not wait for them);
- rows: one committer at a time takes every message whose file is durable, however many
  batches they came in, and commits their rows in one transaction (and in front of
  registration's transactions: `writer_turns.py`). While it commits, the next messages'
  files are synced, and they join the next commit. A writer hands its synced batch to the
  committer's thread itself, and the committer answers the sessions on the event loop: the
  loop takes part only at the ends.

Paid per batch of sessions rather than per message, each wait on the disk is shared by all
the messages that ended meanwhile (measured in bench/smtp_ingress.py). Each session is
answered only once its row is committed, after its file was synced, so each 250 still
follows the bytes being durable. The work runs in threads of its own, off the event loop:
the other sessions keep talking meanwhile.

When stores overlap (clients queue for their 250s), the commit is `pressed` for a moment:
for the SMTP ingress, the daemon's registration then waits (`daemon.py`), since it would take
the interpreter and SQLite's write lock from the clients waiting here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from inbox_daemon.spool import Incoming, Spool, Spooled
from inbox_daemon.store.db import is_outage

log = logging.getLogger(__name__)
FILE_WRITERS = 3  # batches of files synced at once
MAX_BATCH = 100
PRESSED_S = 0.1  # how long overlapping stores keep the commit `pressed`
Waiting = tuple[Incoming, "asyncio.Future[Spooled]"]


class GroupCommit:
    """`await store(incoming)` returns once `incoming` is durable; raises if it could not be."""

    def __init__(
        self, spool: Spool, writers: int = FILE_WRITERS, pressed_s: float = PRESSED_S
    ) -> None:
        self.spool = spool
        self.writers = writers
        self.pressed_s = pressed_s
        self._pending: list[Waiting] = []  # ended, file not written yet
        self._filed: list[tuple[Waiting, str]] = []  # file durable, row not committed yet
        self._filing: set[asyncio.Task[None]] = set()  # kept: the loop holds tasks weakly
        self._committing = 0  # commits asked for by a writer, not ended yet
        self._lock = threading.Lock()  # `_filed` and `_committing`: the writers' and committer's
        self._storing = 0  # sessions waiting for their message to be durable
        self._pressed_until = 0.0  # monotonic; read from other threads (a float: no lock)
        self._files = ThreadPoolExecutor(writers, thread_name_prefix="smtp-files")
        self._rows = ThreadPoolExecutor(1, thread_name_prefix="smtp-rows")

    async def store(self, incoming: Incoming) -> Spooled:
        future: asyncio.Future[Spooled] = asyncio.get_running_loop().create_future()
        self._pending.append((incoming, future))
        if len(self._filing) < self.writers:
            self._start(self._filing, self._write_files())
        self._storing += 1
        if self._storing > 1:
            self._pressed_until = time.monotonic() + self.pressed_s
        try:  # shield: a client that hangs up does not cancel the write its message is part of
            return await asyncio.shield(future)
        finally:
            self._storing -= 1

    @property
    def pressed(self) -> bool:
        """Whether several clients waited for their message to be stored, just now (any thread)."""
        return time.monotonic() < self._pressed_until

    @property
    def idle(self) -> bool:
        return not self._filing and not self._committing

    def close(self) -> None:
        self._files.shutdown(wait=True)  # first: a writer hands its batch to the committer
        self._rows.shutdown(wait=True)

    def _start(self, tasks: set[asyncio.Task[None]], work: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    async def _write_files(self) -> None:
        """Write and sync what is pending, batch after batch, until nothing is."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # the sessions ending in this turn of the loop come along
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            await loop.run_in_executor(self._files, self._file, loop, batch)

    def _file(self, loop: asyncio.AbstractEventLoop, batch: list[Waiting]) -> None:
        """(A writer's thread.) Write and sync the batch's files, then hand their rows to the
        committer from here: going back through the event loop in between cost a busy loop's
        turn, about a tenth of what a session waits for its 250 (bench/smtp_ingress_cpu.py)."""
        try:
            shas = self.spool.write_files([incoming for incoming, _ in batch])
        except Exception as exc:  # a full disk, a sync failing: 451 for these messages
            _answer(loop, [(future, exc) for _, future in batch])
            return
        with self._lock:
            self._filed.extend(zip(batch, shas, strict=True))
            self._committing += 1
        self._rows.submit(self._commit_rows, loop)

    def _commit_rows(self, loop: asyncio.AbstractEventLoop) -> None:
        """(The committer's thread.) Commit the rows of every message whose file is durable,
        until none is left: the batches synced while the last commit ran come in one."""
        try:
            while True:
                with self._lock:
                    filed, self._filed = self._filed[:MAX_BATCH], self._filed[MAX_BATCH:]
                if not filed:
                    return
                incomings = [incoming for (incoming, _), _ in filed]
                results = self._record(incomings, [sha for _, sha in filed])
                answers = [
                    (future, result)
                    for ((_, future), _), result in zip(filed, results, strict=True)
                ]
                _answer(loop, answers)
        finally:
            with self._lock:
                self._committing -= 1

    def _record(self, incomings: list[Incoming], shas: list[str]) -> list[Spooled | Exception]:
        """Commit the batch's rows; if that fails, each alone, so only a failing one is refused."""
        try:  # no waiting for a database that is away: 451 at once, the sender retries
            return list(self.spool.record(incomings, shas, wait_s=0))
        except Exception as exc:  # every failure becomes a 451 for the messages it concerns
            if len(incomings) == 1 or is_outage(exc):
                return [exc] * len(incomings)
            log.warning("smtp: storing a batch of %d failed (%s); one by one", len(incomings), exc)
        results: list[Spooled | Exception] = []
        for incoming, sha in zip(incomings, shas, strict=True):
            try:
                results.append(self.spool.record([incoming], [sha], wait_s=0)[0])
            except Exception as exc:  # this message only: its session answers 451
                results.append(exc)
        return results


def _answer(
    loop: asyncio.AbstractEventLoop, answers: list[tuple[asyncio.Future[Spooled], Any]]
) -> None:
    """From a store's thread: settle the sessions' futures on their loop, in one callback."""
    with contextlib.suppress(RuntimeError):  # the loop is closed: stop gave up on them
        loop.call_soon_threadsafe(_settle_all, answers)


def _settle_all(answers: list[tuple[asyncio.Future[Spooled], Any]]) -> None:
    for future, result in answers:
        _settle(future, result)


def _settle(future: asyncio.Future[Spooled], result: Spooled | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
