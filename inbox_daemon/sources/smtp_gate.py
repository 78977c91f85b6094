"""Who gets an SMTP session at all: client networks, connection caps, timeouts, stopping.

All of it sits on public interfaces: asyncio's (`loop.create_server`, the protocol methods
`connection_made`, `data_received`, `connection_lost`, `loop.set_exception_handler`) and
aiosmtpd's `SMTP` constructor arguments. aiosmtpd has no hook before its greeting, so a
refused connection never reaches it: `Session.connection_made` answers `554`/`421` on the
transport and closes it before aiosmtpd's own `connection_made` starts the session. That is
what lets aiosmtpd be taken at its newest release (pyproject.toml has no upper bound).
A session lists only its public names (`Session.__dir__`): aiosmtpd lists them all at each
connection to find its commands (`smtp_*`) and AUTH mechanisms (`auth_*`), and the private
and special ones cost it a fifth of a connection. Every public name of aiosmtpd's `SMTP` stays
listed (`tests/smtp/test_ingress_units.py`); a release that looked for a private name by
listing would miss it, which that test and the SMTP tests would show.

Timeouts are counted from the last byte the client sent: `idle_timeout_s` between commands,
`data_timeout_s` once a recipient is accepted (the client may be sending a big message).
aiosmtpd's own `timeout` restarts only at each command, so it would also cut a whole DATA
transfer short; it is kept as a backstop (`BACKSTOP_S`) behind ours.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from aiosmtpd.smtp import SMTP

from inbox_daemon.sources.repeat_log import RepeatLog

log = logging.getLogger("inbox_daemon.sources.smtp")
BACKSTOP_S = 3600.0  # aiosmtpd's per-command timer: a whole DATA transfer must end within it
SWEEP_S = 0.5  # how often idle sessions are looked for
REFUSED_CLIENT = "554 5.7.1 Your address is not allowed to send mail here"
KNOWN_CLIENTS = 4096  # client addresses whose admission is remembered (then forgotten, all)


@dataclass(frozen=True)
class Limits:
    max_connections: int
    per_client: int
    idle_timeout_s: float
    data_timeout_s: float


class Gate:
    """Admits sessions (loop thread only: no locks), closes idle ones, refuses all at stop."""

    def __init__(self, hostname: str, limits: Limits, networks: list[str]) -> None:
        self.hostname = hostname
        self.limits = limits
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]
        self.sessions: set[Session] = set()
        self.per_client: Counter[str] = Counter()
        self._allowed: dict[str, bool] = {}  # client address -> inside client_networks
        self.stopping = False
        self.repeats = RepeatLog(log)

    def refusal(self, peer: Any) -> str | None:
        """The reply that ends a new connection at once, or None to let it in."""
        if not self.client_allowed(peer):
            self.repeats.note("smtp: connections refused from outside client_networks",
                              f"smtp: refused connection from {peer!r}", logging.INFO)  # fmt: skip
            return REFUSED_CLIENT
        if self.stopping:
            return f"421 4.3.2 {self.hostname} Service shutting down, try again later"
        if len(self.sessions) >= self.limits.max_connections:
            self.repeats.note("smtp: connections refused: max_connections reached",
                              f"smtp: max_connections ({self.limits.max_connections}) "
                              f"reached, new connections get 421")  # fmt: skip
            return f"421 4.7.0 {self.hostname} Too many connections, try again later"
        if self.per_client[_host(peer)] >= self.limits.per_client:
            self.repeats.note("smtp: connections refused: max_connections_per_client reached",
                              f"smtp: {_host(peer)} has max_connections_per_client "
                              f"({self.limits.per_client}), new ones get 421")  # fmt: skip
            return f"421 4.7.0 {self.hostname} Too many connections from your address"
        return None

    def client_allowed(self, peer: Any) -> bool:
        """Whether the client's address is inside `client_networks`; asked at connect and
        again at HELO, EHLO and MAIL, so the answer for an address is remembered (parsing it
        cost as much as the rest of those hooks)."""
        host = _host(peer)
        allowed = self._allowed.get(host)
        if allowed is None:
            if len(self._allowed) >= KNOWN_CLIENTS:
                self._allowed.clear()
            allowed = self._allowed[host] = self._inside_networks(host)
        return allowed

    def _inside_networks(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def enter(self, session: Session) -> None:
        self.sessions.add(session)
        self.per_client[session.client] += 1

    def leave(self, session: Session) -> None:
        if session in self.sessions:
            self.sessions.discard(session)
            self.per_client[session.client] -= 1
            if self.per_client[session.client] <= 0:
                del self.per_client[session.client]

    def busy(self) -> bool:
        """Whether a session is in a mail transaction (a recipient accepted, no reply yet)."""
        return any(session.in_transaction for session in self.sessions)

    async def sweep(self) -> None:
        """Close the sessions silent for longer than their timeout, forever (a task)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_S)
            now = loop.time()
            for session in list(self.sessions):
                if now - session.last_read > session.timeout(self.limits):
                    log.debug("smtp: closing silent session from %r", session.client)
                    session.close(f"421 4.4.2 {self.hostname} Timeout exceeded, closing")

    def exception_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The loop's errors (an accept failing with EMFILE, again and again) once per interval."""
        exc = context.get("exception")
        key = f"smtp: {context.get('message', 'event loop error')}"
        detail = f"{key}: {type(exc).__name__}: {exc}" if exc else key
        self.repeats.note(key, detail, logging.ERROR)


class Session(SMTP):
    """aiosmtpd's SMTP for one connection, admitted by the `Gate` before any greeting."""

    def __init__(self, gate: Gate, handler: Any, **smtp_kwargs: Any) -> None:
        super().__init__(handler, timeout=BACKSTOP_S, **smtp_kwargs)
        self.gate = gate
        self.client = ""
        self.admitted = False
        self.last_read = self.loop.time()

    def __dir__(self) -> list[str]:
        """The session's public names only. aiosmtpd builds its table of commands (`smtp_*`)
        and AUTH mechanisms (`auth_*`) for every connection by listing the new session's
        names and getting each (`dir`, `inspect.getmembers`); the private and special names,
        two thirds of them, were a fifth of what a connection cost the ingress."""
        return public_names(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.admitted:  # again after STARTTLS, with the TLS transport
            super().connection_made(transport)
            return
        peer = transport.get_extra_info("peername")
        refusal = self.gate.refusal(peer)
        if refusal is not None:
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(refusal.encode("ascii") + b"\r\n")
            transport.close()  # after the write is flushed; aiosmtpd never sees this one
            return
        self.admitted, self.client = True, _host(peer)
        self.gate.enter(self)
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.admitted:
            self.last_read = self.loop.time()
            super().data_received(data)

    def eof_received(self) -> bool | None:
        return super().eof_received() if self.admitted else False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.admitted:
            return
        self.gate.leave(self)
        super().connection_lost(exc)

    @property
    def in_transaction(self) -> bool:
        return bool(self.envelope is not None and self.envelope.rcpt_tos)

    def timeout(self, limits: Limits) -> float:
        return limits.data_timeout_s if self.in_transaction else limits.idle_timeout_s

    def close(self, reply: str = "") -> None:
        """Close the connection, after `reply` when given (RFC 5321 3.8: 421, then close)."""
        if self.transport is None:
            return
        if reply:
            assert isinstance(self.transport, asyncio.WriteTransport)
            self.transport.write(reply.encode("ascii") + b"\r\n")
        self.transport.close()


def public_names(instance: object) -> list[str]:
    """What `dir(instance)` lists, without the names that begin with an underscore."""
    own = [name for name in vars(instance) if not name.startswith("_")]
    return sorted({*_public_class_names(type(instance)), *own})


@cache
def _public_class_names(cls: type) -> frozenset[str]:
    return frozenset(name for name in dir(cls) if not name.startswith("_"))


def session_factory(gate: Gate, handler: Any, **smtp_kwargs: Any) -> Callable[[], Session]:
    """The protocol factory for `loop.create_server`."""
    return lambda: Session(gate, handler, **smtp_kwargs)


def _host(peer: Any) -> str:
    try:
        return str(peer[0]).partition("%")[0]
    except (TypeError, IndexError):
        return ""
