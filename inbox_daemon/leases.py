"""Leases: what only one instance on a shared PostgreSQL may do at a time (fetch a mailbox
folder), held by a row with an expiry that the holder keeps renewing.

A row, not an advisory lock held by a session: a session lock vanishes with its connection,
so a database restart would hand every folder to whoever reconnects first while the holder
still believes it holds it; a row survives the restart and stays its holder's. Expiry is in
the database's clock (`now()`), so the machines' clocks need not agree. The holder judges its
own lease by its monotonic clock from the moment it asked for it, minus a margin: it stops
acting on a folder (no fetch, no move) before the database could give the folder to another
instance, even when it cannot reach the database to learn that it lost it.

Bounds: a holder renews every `RENEW_S` (`instances.Heartbeat`: the instance's beat and all
its renewals in one transaction, so a beat costs the same few round trips however many
folders it holds); an instance that dies or is
cut off stops renewing, its lease expires `TTL_S` later, and a standing-by instance, which
asks for it at every beat, takes it over within TTL_S + RENEW_S. A stopping instance releases
its leases at once.

On SQLite (one machine) there is nothing to share: `Unshared` grants every lease.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol

from sqlalchemy import Engine, Executable, case, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from inbox_daemon.store.db import is_outage, transaction
from inbox_daemon.store.models import Lease

log = logging.getLogger(__name__)
TTL_S = 20.0  # a lease not renewed for this long is free
RENEW_S = 5.0  # the holder renews (and a standby asks) this often
MARGIN_S = 5.0  # the holder stops acting this long before its lease could expire


class LeaseLost(Exception):
    """This instance can no longer be sure it holds a lease: whatever it does under it stops."""


def folder_lease(source: str, folder: str) -> str:
    """The lease of one mailbox folder of one source."""
    return f"imap:{source}:{folder}"


class FolderLeases(Protocol):
    """What a source asks before it fetches or moves anything in a folder."""

    def take(self, name: str, source: str) -> str | None:
        """Take or renew `name`: None when this instance holds it now, else the holder."""
        ...

    def holds(self, name: str) -> bool:
        """Whether this instance may still act under `name` (renewed recently enough)."""
        ...

    def release(self, names: Iterable[str]) -> None: ...


class Unshared:
    """One instance alone on its database (SQLite): every lease is granted, nothing written."""

    def take(self, name: str, source: str) -> str | None:
        return None

    def holds(self, name: str) -> bool:
        return True

    def release(self, names: Iterable[str]) -> None:
        return None


class Leases:
    """This instance's leases on a shared PostgreSQL (see the module's docstring)."""

    def __init__(self, engine: Engine, holder: str, ttl_s: float = TTL_S) -> None:
        self.engine, self.holder, self.ttl = engine, holder, timedelta(seconds=ttl_s)
        self.margin = min(MARGIN_S, ttl_s / 4)
        self._valid_until: dict[str, float] = {}  # name -> monotonic end of our own judgement
        self._wanted: dict[str, str] = {}  # name -> source: held by another, asked at each beat
        self._lock = threading.Lock()

    def take(self, name: str, source: str) -> str | None:
        asked = time.monotonic()
        return self._noted(name, source, self._take(name), asked)

    def _noted(self, name: str, source: str, holder: str, asked: float) -> str | None:
        """What `take` found, kept: held until our judgement ends, or wanted from `holder`."""
        with self._lock:
            if holder == self.holder:
                if name not in self._valid_until:
                    log.info("lease %s: taken by this instance (%s)", name, self.holder)
                self._valid_until[name] = asked + self.ttl.total_seconds() - self.margin
                self._wanted.pop(name, None)
                return None
            self._valid_until.pop(name, None)
            self._wanted[name] = source
        return holder

    def holds(self, name: str) -> bool:
        with self._lock:
            return time.monotonic() < self._valid_until.get(name, 0.0)

    def held(self) -> list[str]:
        with self._lock:
            return sorted(self._valid_until)

    def renew(self, also: Executable | None = None) -> set[str]:
        """Renew what is held, in one transaction with one statement (and `also`, the
        heartbeat's own row); then ask again, one by one, for what another holds. The
        sources of the leases newly taken over: they should poll now."""
        asked, held = time.monotonic(), self.held()
        with transaction(self.engine) as session:
            if also is not None:
                session.execute(also)
            renewed = set(session.scalars(self._renewal(held))) if held else set()
        with self._lock:  # committed: our judgement runs from when we asked
            for name in held:
                if name in renewed:
                    self._valid_until[name] = asked + self.ttl.total_seconds() - self.margin
                elif self._valid_until.pop(name, None) is not None:
                    log.warning("lease %s: lost (expired and taken by another instance)", name)
            wanted = dict(self._wanted)
        return {source for name, source in wanted.items() if self.take(name, source) is None}

    def release(self, names: Iterable[str]) -> None:
        names = [name for name in names if name in self._valid_until]
        with self._lock:
            for name in names:
                self._valid_until.pop(name, None)
        if not names:
            return
        try:
            with transaction(self.engine) as session:
                session.execute(
                    delete(Lease).where(Lease.name.in_(names), Lease.holder == self.holder)
                )
        except SQLAlchemyError as exc:  # the database away: the leases simply expire
            if not is_outage(exc):
                raise

    def release_all(self) -> None:
        self.release(self.held())
        self._wanted.clear()

    def _take(self, name: str) -> str:
        """One statement: the row made, or renewed by its holder, or taken once expired.
        Only a shared PostgreSQL takes leases: its dialect is imported here, not by every
        daemon at start-up (some 20 ms of CPU on SQLite, for nothing)."""
        from sqlalchemy.dialects.postgresql import insert

        now, me = func.now(), self.holder
        until = now + self.ttl
        statement = insert(Lease).values(name=name, holder=me, acquired_at=now, expires_at=until)
        statement = statement.on_conflict_do_update(
            index_elements=[Lease.name],
            set_={"holder": me, "expires_at": until,
                  "acquired_at": case((Lease.holder == me, Lease.acquired_at), else_=now)},
            where=(Lease.holder == me) | (Lease.expires_at < now),
        ).returning(Lease.holder)  # fmt: skip
        with transaction(self.engine) as session:
            if session.execute(statement).first() is not None:
                return me
            held = session.execute(select(Lease.holder).where(Lease.name == name)).first()
        return held[0] if held else me

    def _renewal(self, names: list[str]) -> Executable:
        """The leases among `names` still ours, renewed; their names returned. Each row is
        ours alone (one holder), so renewing them together waits for nobody's beat."""
        return (
            update(Lease)
            .where(Lease.name.in_(names), Lease.holder == self.holder)
            .values(expires_at=func.now() + self.ttl)
            .returning(Lease.name)
        )
