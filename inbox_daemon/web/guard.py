"""Who gets an HTTP connection, and for how long it may dawdle: bounds aiohttp lacks.

aiohttp bounds a request's size and closes idle keep-alive connections, but has no cap on
connections and no time limit on a request's head: a client sending a header byte every few
seconds (slowloris) holds its connection forever. `Guard` sits between asyncio and aiohttp's
protocol, through the public protocol methods only (`connection_made`, `data_received`,
`eof_received`, `connection_lost`, `pause_writing`, `resume_writing`): beyond
`max_connections` a connection is answered 503 and closed before aiohttp sees it; a request
whose head has not been read whole `header_timeout_s` after its first byte is cut. The
middleware in `app.py` tells the guard when aiohttp has handed a request over (`busy`), and
the handler bounds the body's reading on its own (`body_timeout_s`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from inbox_daemon.sources.repeat_log import RepeatLog

log = logging.getLogger(__name__)
SWEEP_S = 0.5
BUSY_PAGE = (
    "<!doctype html><html lang=it><meta charset=utf-8><title>Servizio occupato</title>"
    "<p>Il servizio è momentaneamente occupato. Riprovi tra qualche minuto.</p></html>"
).encode()
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html; charset=utf-8\r\n"
    b"Retry-After: 30\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(BUSY_PAGE)
) + BUSY_PAGE


class Guards:
    """The open connections of one server (event-loop thread only: no locks)."""

    def __init__(self, max_connections: int, header_timeout_s: float) -> None:
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self.open: dict[Any, Guard] = {}  # transport -> its guard
        self.repeats = RepeatLog(log)

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], Guard]:
        return lambda: Guard(self, inner)

    def of(self, transport: Any) -> Guard | None:
        return self.open.get(transport)

    async def sweep(self) -> None:
        """Cut the connections whose request head is late, forever (a task)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_S)
            now = loop.time()
            for transport, guard in list(self.open.items()):
                if guard.head_since is not None and now - guard.head_since > self.header_timeout_s:
                    log.debug("web: closing a connection whose request head is late")
                    transport.close()


class Guard(asyncio.Protocol):
    def __init__(self, guards: Guards, inner: Callable[[], asyncio.Protocol]) -> None:
        self.guards = guards
        self.inner: asyncio.Protocol | None = None
        self._make_inner = inner
        self.transport: asyncio.BaseTransport | None = None
        self.head_since: float | None = None  # first byte of a request not yet handed over
        self.busy = False  # aiohttp runs a handler for it
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if len(self.guards.open) >= self.guards.max_connections:
            self.guards.repeats.note("web: connections refused: max_connections reached",
                                     f"web: max_connections ({self.guards.max_connections}) "
                                     "reached, new connections get 503")  # fmt: skip
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(BUSY)
            transport.close()
            return
        self.transport = transport
        self.guards.open[transport] = self
        self.inner = self._make_inner()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            return
        if self.head_since is None and not self.busy:
            self.head_since = self._loop.time()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.inner is None:
            return
        self.guards.open.pop(self.transport, None)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def handed_over(self) -> None:
        """aiohttp has read a request's head and runs its handler: the head's clock stops."""
        self.busy = True
        self.head_since = None

    def answered(self) -> None:
        """The handler is done; the next bytes start the next request's clock."""
        self.busy = False
