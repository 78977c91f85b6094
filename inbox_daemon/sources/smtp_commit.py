"""Group commit: SMTP sessions that reach end-of-DATA together share one `Spool.store_many`.

Storing one message costs a sync of the store and a database commit, a few milliseconds
that do not grow with the batch; paid once per message, they capped the ingress at about
200 messages/s. Here the first message to arrive opens a batch, the ones that arrive within
`WINDOW_S`, or while the previous batch is being written, join the next, and every session
is answered only when the `store_many` holding its message has returned: each 250 still
follows the bytes being durable. Writing happens in one thread of its own, off the event
loop, so the other sessions keep talking meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from inbox_daemon.spool import Incoming, Spool, Spooled

log = logging.getLogger(__name__)
WINDOW_S = 0.002  # how long the first message of a batch waits for company
MAX_BATCH = 100


class GroupCommit:
    """`await store(incoming)` returns once `incoming` is durable; raises if it could not be."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self._pending: list[tuple[Incoming, asyncio.Future[Spooled]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="smtp-store")

    async def store(self, incoming: Incoming) -> Spooled:
        future: asyncio.Future[Spooled] = asyncio.get_running_loop().create_future()
        self._pending.append((incoming, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_batches())
        # shield: a client that hangs up does not cancel the write its message is part of
        return await asyncio.shield(future)

    @property
    def idle(self) -> bool:
        return self._writer is None

    def close(self) -> None:
        self._thread.shutdown(wait=True)

    async def _write_batches(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                await asyncio.sleep(WINDOW_S)
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                incomings = [incoming for incoming, _ in batch]
                results = await loop.run_in_executor(self._thread, self._store, incomings)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._writer = None

    def _store(self, incomings: list[Incoming]) -> list[Spooled | Exception]:
        """Store the batch; if that fails, each message alone, so only a failing one is refused."""
        try:
            return list(self.spool.store_many(incomings))
        except Exception as exc:  # every failure becomes a 451 for the messages it concerns
            if len(incomings) == 1:
                return [exc]
            log.warning("smtp: storing a batch of %d failed (%s); one by one", len(incomings), exc)
        results: list[Spooled | Exception] = []
        for incoming in incomings:
            try:
                results.append(self.spool.store(incoming))
            except Exception as exc:  # this message only: its session answers 451
                results.append(exc)
        return results
