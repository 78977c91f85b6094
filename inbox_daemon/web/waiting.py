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

Most of the time there is not even a query: registration's INSERT carries every column the
answer page shows, so a transaction seen to commit (SQLAlchemy's `commit` event, and no
`handle_error` after it) tells its tickets as they were inserted. One that rolled anything
back (a savepoint of a failing message, the whole batch), or whose rows lack a column, only
says which messages to look up, as before: what the page shows is always what committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Insert, event
from sqlalchemy.exc import SQLAlchemyError

from inbox_daemon.store.models import Ticket
from inbox_daemon.web.lookup import Registered, tickets_of

log = logging.getLogger(__name__)
POLL_S = 0.05
LONE_POLL_S = 0.5  # SQLite: no other daemon registers there
REGISTERED_KEPT = 10_000  # a minute of tickets at 200 a second and more
# A ticket told by its commit answers a page asked for it this soon after (a 303 followed);
# later, a reload say, the page is looked up: an operator may have changed it meanwhile.
TOLD_FRESH_S = 10.0
TICKETS = Ticket.__table__.name  # insert(Ticket) names an annotated copy of the table
SHOWN = tuple(shown.name for shown in fields(Registered))


class Waiters:
    def __init__(self, engine: Engine, poll_s: float | None = None) -> None:
        self.engine = engine
        if poll_s is None:
            poll_s = LONE_POLL_S if engine.dialect.name == "sqlite" else POLL_S
        self.poll_s = poll_s
        self._waiting: defaultdict[int, list[asyncio.Future[Registered]]] = defaultdict(list)
        self._poller: asyncio.Task[None] | None = None
        self._poked = asyncio.Event()
        # messages whose tickets were last committed: the ticket as told and when, if it was
        self._registered: dict[int, tuple[Registered, float] | None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        # set on a pooled connection whose transactions inserted tickets (`_Noted`); one key
        # per listener, so that each web source hears of every one (a key shared, the first
        # would take it)
        self._wrote = f"inbox_daemon_web_tickets_{id(self)}"

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Be told, on `loop`, of each transaction that inserted tickets ending (until
        `unwatch`)."""
        self._loop = loop
        for name, listener in self._listeners():
            event.listen(self.engine, name, listener)

    def unwatch(self) -> None:
        if self._loop is None:
            return
        for name, listener in self._listeners():
            event.remove(self.engine, name, listener)
        self._loop = None

    def _listeners(self) -> list[tuple[str, Any]]:
        return [
            ("after_execute", self._executed), ("commit", self._commit),
            ("rollback", self._spoil), ("rollback_savepoint", self._spoil),
            ("handle_error", self._failed), ("checkin", self._checked_in),
        ]  # fmt: skip

    async def ticket(self, message_pk: int, timeout: float) -> Registered | None:
        """The ticket made of `message_pk`, once it is registered; None after `timeout`."""
        told = self._registered.get(message_pk)
        if told is not None and time.monotonic() - told[1] < TOLD_FRESH_S:
            return told[0]  # its commit came just before the page, and told it
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
        """Any thread, after each statement: note on the connection the tickets it inserted
        (registration's multi-row INSERT, or the ORM's), as inserted."""
        if isinstance(statement, Insert) and statement.table.name == TICKETS:
            noted = connection.info.setdefault(self._wrote, _Noted())
            for row in many or [one]:
                if row and "message_pk" in row:
                    noted.pending[row["message_pk"]] = _as_shown(row)

    def _commit(self, connection: Any) -> None:
        """Its transaction commits: what it inserted is told, unless an error follows."""
        noted = connection.info.get(self._wrote)
        if noted is not None:
            noted.committed.update(noted.pending)
            noted.pending.clear()

    def _spoil(self, connection: Any, *_args: Any) -> None:
        """A rollback (of a savepoint too): which of the rows stayed, only a look says."""
        noted = connection.info.get(self._wrote)
        if noted is not None:
            noted.unsure.update(noted.pending)
            noted.pending.clear()

    def _failed(self, context: Any) -> None:
        """A statement, or a commit, failed: every ticket noted is looked up instead."""
        noted = context.connection.info.get(self._wrote) if context.connection else None
        if noted is not None:
            noted.unsure.update(noted.pending, noted.committed)
            noted.pending.clear()
            noted.committed.clear()

    def _checked_in(self, _dbapi_connection: Any, record: Any) -> None:
        """Any thread, once a connection is back in the pool: its commit is visible now."""
        loop = self._loop
        noted = record.info.pop(self._wrote, None) if record is not None else None
        if noted is None or not loop:
            return
        told = {pk: row for pk, row in noted.committed.items() if row is not None}
        unsure = (noted.unsure | set(noted.pending) | set(noted.committed)) - set(told)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(self._heard, told, unsure)

    def _heard(self, told: dict[int, Registered], unsure: set[int]) -> None:
        """On the loop: tickets were committed. Those told answer their pages at once; the
        others waited for are looked up at once. All are remembered for a while, for an
        answer page that comes after its ticket's commit (told at once too, or looked up at
        once, not at the next commit or poll)."""
        at = time.monotonic()
        self._registered.update((pk, (ticket, at)) for pk, ticket in told.items())
        self._registered.update(dict.fromkeys(unsure))
        while len(self._registered) > REGISTERED_KEPT:
            del self._registered[next(iter(self._registered))]
        for pk, ticket in told.items():
            for future in self._waiting.pop(pk, []):
                if not future.done():
                    future.set_result(ticket)
        if unsure and self._waiting:
            self._poked.set()


@dataclass
class _Noted:
    """A connection's tickets, by message: inserted in the transaction under way (as shown,
    None where a row lacks a shown column), inserted and committed, or to be looked up (a
    rollback or an error came after them)."""

    pending: dict[int, Registered | None] = field(default_factory=dict)
    committed: dict[int, Registered | None] = field(default_factory=dict)
    unsure: set[int] = field(default_factory=set)


def _as_shown(row: dict[str, Any]) -> Registered | None:
    """The ticket as the answer page shows it, from its inserted row (times in UTC, as they
    are read back); None when the row lacks a column the page shows."""
    if any(name not in row for name in SHOWN):
        return None
    values = [row[name] for name in SHOWN]
    return Registered(*(v.astimezone(UTC) if isinstance(v, datetime) else v for v in values))
