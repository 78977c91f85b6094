"""The `kind = "web"` source: the form's HTTP server, a PushSource like the SMTP ingress.

It runs on an asyncio event loop of its own, in its own thread, as `sources/smtp.py` does:
the daemon's main thread registers tickets meanwhile, and storing happens in `GroupCommit`'s
threads, so neither slows the other's loop. aiohttp's `AppRunner` serves the application;
the listening socket is made here, with `Guards` between asyncio and aiohttp's protocol
(connection cap, request-head timeout: `guard.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from aiohttp import web

from inbox_daemon.config import Config, WebSource
from inbox_daemon.errors import ConfigError, SourceError
from inbox_daemon.register import LoadedRegister
from inbox_daemon.sources.loop_thread import LoopThread
from inbox_daemon.sources.smtp_commit import GroupCommit
from inbox_daemon.spool import Spool
from inbox_daemon.web.app import Site, environment, make_app
from inbox_daemon.web.guard import Guards
from inbox_daemon.web.limits import RateLimit
from inbox_daemon.web.tokens import Signer, load_secret, secret_path
from inbox_daemon.web.waiting import Waiters

log = logging.getLogger(__name__)
BACKLOG = 128
KEEPALIVE_S = 15.0  # an idle keep-alive connection is closed after this (aiohttp's own)
STOP_GRACE_S = 5.0  # at stop, how long requests under way may take to finish


class WebIngress:
    def __init__(
        self, config: WebSource, whole: Config, spool: Spool, on_new: Callable[[], None]
    ) -> None:
        self.name = config.name
        self.config = config
        self.commit = GroupCommit(spool)
        try:
            signer = Signer(load_secret(secret_path(config.secret_file, whole.storage.dir)))
        except (OSError, ValueError) as exc:
            raise ConfigError([f"sources.{config.name}.secret_file: {exc}"]) from None
        self.guards = Guards(config.max_connections, config.header_timeout_s)
        self.site = Site(
            config=config, signer=signer, commit=self.commit,
            register=LoadedRegister(spool.engine), waiters=Waiters(spool.engine),
            guards=self.guards, tz=ZoneInfo(whole.calendar.timezone),
            emergency_phone=config.emergency_phone or whole.acknowledgements.emergency_phone,
            on_new=on_new, pages=environment(config.templates),
            limit=RateLimit(config.submissions_per_hour), formats=whole.poles.pole_formats(),
        )  # fmt: skip
        self._runs = LoopThread(f"web-{self.name}")
        self._loop = self._runs.loop
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._port = config.host_port[1]

    @property
    def port(self) -> int:
        """The bound port: the configured one, or the one the system chose for port 0."""
        return self._port

    def start(self) -> None:
        self._runs.start()
        try:
            self._server = self._runs.call(self._listen())
        except OSError as exc:
            self._halt()
            message = f"web {self.name}: cannot listen on {self.config.listen}: {exc}"
            raise SourceError(message) from None
        self._port = int(self._server.sockets[0].getsockname()[1])
        log.info("web %s: listening on %s port %d (%s)", self.name, self.config.host_port[0],
                 self.port, self.config.base_url)  # fmt: skip

    def stop(self) -> None:
        """No new connections; requests under way get up to `STOP_GRACE_S`; then close."""
        if self._server is None:
            return
        self._runs.call(self._stop())
        self._halt()
        self._server = None
        log.info("web %s: stopped", self.name)

    async def _listen(self) -> asyncio.Server:
        runner = web.AppRunner(
            make_app(self.site), access_log=None, keepalive_timeout=KEEPALIVE_S,
            handle_signals=False, shutdown_timeout=STOP_GRACE_S,
        )  # fmt: skip
        await runner.setup()
        self._runner = runner
        assert runner.server is not None
        host, port = self.config.host_port
        server = await self._loop.create_server(
            self.guards.factory(runner.server), host or None, port, backlog=BACKLOG
        )
        self._sweeper = asyncio.create_task(self.guards.sweep())
        self.site.waiters.watch(self._loop)
        return server

    async def _stop(self) -> None:
        assert self._server is not None and self._runner is not None
        self._server.close()
        deadline = self._loop.time() + STOP_GRACE_S
        while (not self.commit.idle or _busy(self.guards)) and self._loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self._sweeper is not None:
            self._sweeper.cancel()
        await self._runner.cleanup()
        for transport in list(self.guards.open):
            transport.close()
        # Handlers of connections cut above end here, not as tasks destroyed with the loop.
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    def _halt(self) -> None:
        self.site.waiters.unwatch()
        self._runs.halt()
        self.commit.close()


def _busy(guards: Guards) -> bool:
    return any(guard.busy for guard in guards.open.values())
