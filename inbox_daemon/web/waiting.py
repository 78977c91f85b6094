"""Waiting for a stored report's ticket, for the answer page.

The main thread registers tickets (`pipeline.py`); the web server only reads. Rather than
each waiting page querying on its own, one task asks the database for all the messages being
waited for at once: a hundred citizens waiting cost one query, not a hundred. It asks as soon
as a transaction that inserted tickets has ended in this process (a registration batch:
SQLAlchemy's public `after_execute` and `checkin` events, on this engine only), and at least
every `POLL_S` besides, for a ticket registered where no event is seen (another instance on
a shared PostgreSQL; on SQLite, where only a CLI command could, every `LONE_POLL_S`).
Polling alone, every 50 ms, made each answer wait 25 ms more on average than its
registration; asking after every transaction that wrote (the spool's commits of the reports
themselves, the outbox's) made the query a third of the web source's work under load, most
of it finding nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, Insert, event
from sqlalchemy.exc import SQLAlchemyError

from inbox_daemon.store.models import Ticket
from inbox_daemon.web.lookup import Registered, tickets_of

log = logging.getLogger(__name__)
POLL_S = 0.05
LONE_POLL_S = 0.5  # SQLite: no other daemon registers there
REGISTERED_KEPT = 10_000  # a minute of tickets at 200 a second and more
TICKETS = Ticket.__table__.name  # insert(Ticket) names an annotated copy of the table


class Waiters:
    def __init__(self, engine: Engine, poll_s: float | None = None) -> None:
        self.engine = engine
        if poll_s is None:
            poll_s = LONE_POLL_S if engine.dialect.name == "sqlite" else POLL_S
        self.poll_s = poll_s
        self._waiting: defaultdict[int, list[asyncio.Future[Registered]]] = defaultdict(list)
        self._poller: asyncio.Task[None] | None = None
        self._poked = asyncio.Event()
        self._registered: dict[int, None] = {}  # messages whose tickets were last committed
        self._loop: asyncio.AbstractEventLoop | None = None
        # set on a pooled connection whose transaction inserted tickets; one key per listener,
        # so that each web source hears of every one (a key shared, the first would take it)
        self._wrote = f"inbox_daemon_web_tickets_{id(self)}"

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Be told, on `loop`, of each transaction that inserted tickets ending (until
        `unwatch`)."""
        self._loop = loop
        event.listen(self.engine, "after_execute", self._executed)
        event.listen(self.engine, "checkin", self._checked_in)

    def unwatch(self) -> None:
        if self._loop is None:
            return
        event.remove(self.engine, "after_execute", self._executed)
        event.remove(self.engine, "checkin", self._checked_in)
        self._loop = None

    async def ticket(self, message_pk: int, timeout: float) -> Registered | None:
        """The ticket made of `message_pk`, once it is registered; None after `timeout`."""
        future: asyncio.Future[Registered] = asyncio.get_running_loop().create_future()
        self._waiting[message_pk].append(future)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())
        elif message_pk in self._registered:  # its commit came before the page: look now
            self._poked.set()
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
        while self._waiting:
            self._poked.clear()  # before the query: a commit during it asks again after it
            try:
                pks = list(self._waiting)
                found = await loop.run_in_executor(None, tickets_of, self.engine, pks)
            except SQLAlchemyError as exc:  # the pages waiting fall back to "received"
                log.warning("web: cannot read the tickets being waited for: %s", exc)
                found = {}
            for pk, ticket in found.items():
                for future in self._waiting.pop(pk, []):
                    if not future.done():
                        future.set_result(ticket)
            if self._waiting:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poked.wait(), self.poll_s)

    def _executed(self, connection: Any, statement: Any, many: Any, one: Any, *_args: Any) -> None:
        """Any thread, after each statement: note on the connection the messages whose
        tickets it inserted (registration's multi-row INSERT, or the ORM's). A transaction
        rolled back after it costs one look that finds nothing."""
        if isinstance(statement, Insert) and statement.table.name == TICKETS:
            noted = connection.info.setdefault(self._wrote, set())
            rows = many or [one]
            noted.update(row["message_pk"] for row in rows if "message_pk" in (row or {}))

    def _checked_in(self, _dbapi_connection: Any, record: Any) -> None:
        """Any thread, once a connection is back in the pool: its commit is visible now."""
        loop = self._loop
        noted = record.info.pop(self._wrote, None) if record is not None else None
        if noted is not None and loop:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
                loop.call_soon_threadsafe(self._heard, noted)

    def _heard(self, message_pks: set[int]) -> None:
        """On the loop: tickets were committed. Those waited for are looked up at once; the
        messages are remembered for a while, for an answer page that comes after its
        ticket's commit (it is looked up at once too, not at the next commit or poll)."""
        self._registered.update(dict.fromkeys(message_pks))
        while len(self._registered) > REGISTERED_KEPT:
            del self._registered[next(iter(self._registered))]
        if self._waiting:
            self._poked.set()
