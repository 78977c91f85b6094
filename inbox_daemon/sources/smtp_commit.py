"""Group commit: SMTP sessions that reach end-of-DATA together share one `Spool.store_many`.

Storing one message costs a sync of the store and a database commit, a few milliseconds
that hardly grow with the batch; paid once per message, they capped the ingress at about
200 messages/s. Here a message that ends while `WRITERS` batches are already being written
waits and joins the next batch with every other message that ended meanwhile; each session
is answered only when the `store_many` holding its message has returned, so each 250 still
follows the bytes being durable. Several batches are written at once (one syncing its files
while another commits its rows: the waits overlap), in threads of their own, off the event
loop, so the other sessions keep talking meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from inbox_daemon.spool import Incoming, Spool, Spooled
from inbox_daemon.store.db import is_outage

log = logging.getLogger(__name__)
WRITERS = 3  # batches written at once: one syncs its files while another commits its rows
MAX_BATCH = 100


class GroupCommit:
    """`await store(incoming)` returns once `incoming` is durable; raises if it could not be."""

    def __init__(self, spool: Spool, writers: int = WRITERS) -> None:
        self.spool = spool
        self.writers = writers
        self._pending: list[tuple[Incoming, asyncio.Future[Spooled]]] = []
        self._writing: set[asyncio.Task[None]] = set()  # kept: the loop holds tasks weakly
        self._threads = ThreadPoolExecutor(writers, thread_name_prefix="smtp-store")

    async def store(self, incoming: Incoming) -> Spooled:
        future: asyncio.Future[Spooled] = asyncio.get_running_loop().create_future()
        self._pending.append((incoming, future))
        if len(self._writing) < self.writers:
            task = asyncio.create_task(self._write_batches())
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)
        # shield: a client that hangs up does not cancel the write its message is part of
        return await asyncio.shield(future)

    @property
    def idle(self) -> bool:
        return not self._writing

    def close(self) -> None:
        self._threads.shutdown(wait=True)

    async def _write_batches(self) -> None:
        """Write what is pending, batch after batch, until nothing is."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # the sessions ending in this turn of the loop come along
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            incomings = [incoming for incoming, _ in batch]
            results = await loop.run_in_executor(self._threads, self._store, incomings)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _store(self, incomings: list[Incoming]) -> list[Spooled | Exception]:
        """Store the batch; if that fails, each message alone, so only a failing one is refused."""
        try:  # no waiting for a database that is away: 451 at once, the sender retries
            return list(self.spool.store_many(incomings, wait_s=0))
        except Exception as exc:  # every failure becomes a 451 for the messages it concerns
            if len(incomings) == 1 or is_outage(exc):
                return [exc] * len(incomings)
            log.warning("smtp: storing a batch of %d failed (%s); one by one", len(incomings), exc)
        results: list[Spooled | Exception] = []
        for incoming in incomings:
            try:
                results.append(self.spool.store(incoming))
            except Exception as exc:  # this message only: its session answers 451
                results.append(exc)
        return results
