"""Daemon instances sharing one PostgreSQL: a heartbeat row each, and what each holds.

Each instance writes its row at start (host, pid, start time) and beats every
`leases.RENEW_S` from a thread of its own, renewing its folder leases in the same beat and
asking for the folders another instance holds; it marks the row stopped, and releases its
leases, when it stops. An instance whose last beat is older than `LIVE_S` is dead
(SIGKILLed, its machine gone, cut off from the database): `status` lists the live ones and
what each holds (`live_instances`). On SQLite, one machine, there is no heartbeat.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, update
from sqlmodel import Session, select

from inbox_daemon.leases import RENEW_S, Leases
from inbox_daemon.store.db import is_outage, transaction
from inbox_daemon.store.models import Instance, Lease, Message, Outbox
from inbox_daemon.store.types import utcnow
from inbox_daemon.tickets import iso

log = logging.getLogger(__name__)
LIVE_S = 3 * RENEW_S + 5  # a beat older than this: the instance is dead


def shared(engine: Engine) -> bool:
    """Whether other instances may share this database (PostgreSQL), so leases matter."""
    return engine.dialect.name == "postgresql"


def new_id() -> str:
    """This instance's name: where it runs and which process, unique across restarts."""
    return f"{socket.gethostname()[:180]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Heartbeat:
    """This instance's row and its beat; `start`, then `stop` (leases released)."""

    def __init__(self, engine: Engine, on_taken: Callable[[str], None] | None = None) -> None:
        self.engine = engine
        self.id = new_id()
        self.leases = Leases(engine, self.id)
        self.on_taken = on_taken  # a folder lease newly taken over: the source to poll now
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        now = utcnow()
        host, pid = socket.gethostname()[:255], os.getpid()
        with transaction(self.engine) as session:
            session.add(Instance(id=self.id, host=host, pid=pid, started_at=now, last_beat_at=now))
        log.info("instance %s: started on a shared database", self.id)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(RENEW_S * 2)
        try:
            self.leases.release_all()
            with transaction(self.engine) as session:
                session.execute(
                    update(Instance).where(Instance.id == self.id).values(stopped_at=utcnow())
                )
        except Exception as exc:  # the database away: the leases simply expire
            log.warning("instance %s: could not release its leases at stop: %s", self.id, exc)

    def beat(self) -> None:
        """The instance's row and its leases renewed together, in one transaction."""
        alive = update(Instance).where(Instance.id == self.id).values(last_beat_at=utcnow())
        for source in self.leases.renew(also=alive):
            if self.on_taken is not None:
                self.on_taken(source)

    def _run(self) -> None:
        while not self._stop.wait(RENEW_S):
            try:
                self.beat()
            except Exception as exc:  # an outage is logged once, by the store
                if not is_outage(exc):
                    log.exception("instance %s: heartbeat failed", self.id)


def live_instances(session: Session, tz: ZoneInfo, now: datetime) -> list[dict[str, Any]]:
    """The instances that beat lately, and what each holds: folder leases, messages it is
    analysing, outbox jobs it is sending (for `status`; none on SQLite)."""
    query = select(Instance).where(
        Instance.stopped_at.is_(None),  # type: ignore[union-attr]
        Instance.last_beat_at > now - timedelta(seconds=LIVE_S),
    )
    found = []
    for row in session.exec(query.order_by(Instance.started_at)):
        leases = session.exec(
            select(Lease.name).where(Lease.holder == row.id, Lease.expires_at > now)
        )
        messages = select(func.count(Message.id)).where(
            Message.claimed_by == row.id, Message.status == "received", Message.claimed_until > now
        )
        jobs = select(func.count(Outbox.id)).where(
            Outbox.claimed_by == row.id, Outbox.state == "sending"
        )
        found.append({
            "id": row.id, "host": row.host, "pid": row.pid,
            "started": iso(row.started_at, tz), "last_beat": iso(row.last_beat_at, tz),
            "folders": sorted(leases), "messages": session.exec(messages).one(),
            "jobs": session.exec(jobs).one(),
        })  # fmt: skip
    return found


def instance_lines(instances: list[dict[str, Any]]) -> list[str]:
    """`status`'s text lines for the live instances."""
    return [
        f"instance {i['id']} (host {i['host']}, pid {i['pid']}, since {i['started']}): last beat "
        f"{i['last_beat']}; folders {', '.join(i['folders']) or 'none'}; {i['messages']} "
        f"message(s) and {i['jobs']} outbox job(s) claimed"
        for i in instances
    ]
