"""Waiting for a stored report's ticket, for the answer page.

The main thread registers tickets (`pipeline.py`); the web server only reads. Rather than
each waiting page querying on its own, one task asks the database every `POLL_S` for all the
messages being waited for at once: a hundred citizens waiting cost one query, not a hundred.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from inbox_daemon.web.lookup import Registered, tickets_of

log = logging.getLogger(__name__)
POLL_S = 0.05


class Waiters:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._waiting: defaultdict[int, list[asyncio.Future[Registered]]] = defaultdict(list)
        self._poller: asyncio.Task[None] | None = None

    async def ticket(self, message_pk: int, timeout: float) -> Registered | None:
        """The ticket made of `message_pk`, once it is registered; None after `timeout`."""
        future: asyncio.Future[Registered] = asyncio.get_running_loop().create_future()
        self._waiting[message_pk].append(future)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return None
        finally:
            waiting = self._waiting.get(message_pk, [])
            if future in waiting:
                waiting.remove(future)
            if not waiting:
                self._waiting.pop(message_pk, None)

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        first = True
        while self._waiting:
            if not first:
                await asyncio.sleep(POLL_S)
            first = False
            try:
                pks = list(self._waiting)
                found = await loop.run_in_executor(None, tickets_of, self.engine, pks)
            except SQLAlchemyError as exc:  # the pages waiting fall back to "received"
                log.warning("web: cannot read the tickets being waited for: %s", exc)
                continue
            for pk, ticket in found.items():
                for future in self._waiting.pop(pk, []):
                    if not future.done():
                        future.set_result(ticket)
