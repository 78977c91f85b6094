"""The web source on an ephemeral port, built as the daemon builds it, with a registrar
thread standing in for the daemon's main loop (woken by each stored report, it makes the
tickets), and a pole register that knows IP-004512."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from inbox_daemon import pipeline
from inbox_daemon.context import Context
from inbox_daemon.register import import_register
from inbox_daemon.sources import build_sources
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message, Ticket
from inbox_daemon.web.server import WebIngress
from tests.web.client import Client

REGISTER = (
    "code,address,municipality,lat,lon\n"
    "IP-004512,Via Roma 12,Bologna,44.4949,11.3426\n"
    "IP-004513,Via Roma 14,Bologna,44.4950,11.3427\n"
)


def web_source(extra: str = "") -> str:
    return (
        '[[sources]]\nname = "web"\nkind = "web"\nlisten = "127.0.0.1:0"\n'
        'base_url = "https://segnalazioni.example.it"\nemergency_phone = "800 123 456"\n' + extra
    )


class Registrar:
    """The daemon's main loop, reduced: process what is stored whenever a source says so."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.wake = threading.Event()
        self.stopping = False
        self.paused = threading.Event()  # set: stored reports wait (the daemon is busy)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping:
            self.wake.wait(1.0)
            self.wake.clear()
            if not self.paused.is_set():
                list(pipeline.process_pending(self.ctx))

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join(10)


@dataclass
class WebSite:
    ctx: Context
    ingress: WebIngress
    registrar: Registrar
    client: Client

    def tickets(self) -> list[Ticket]:
        with transaction(self.ctx.engine) as session:
            return list(session.exec(select(Ticket).order_by(Ticket.id)))

    def messages(self) -> list[Message]:
        with transaction(self.ctx.engine) as session:
            return list(session.exec(select(Message).order_by(Message.id)))


@pytest.fixture
def start_site(
    make_context: Callable[..., Context], tmp_path: Path
) -> Iterator[Callable[..., WebSite]]:
    started: list[WebSite] = []

    def start(extra: str = "", config: str = "", **overrides: Any) -> WebSite:
        ctx = make_context(web_source(extra) + config, **overrides)
        register = tmp_path / "poles.csv"
        register.write_text(REGISTER)
        import_register(ctx.engine, register, ctx.pole_formats)
        registrar = Registrar(ctx)
        _, [ingress] = build_sources(ctx.config, ctx.spool, registrar.wake.set)
        assert isinstance(ingress, WebIngress)
        ingress.start()
        site = WebSite(ctx, ingress, registrar, Client(ingress.port))
        started.append(site)
        return site

    yield start
    for site in started:
        site.ingress.stop()
        site.registrar.stop()


@pytest.fixture
def site(start_site: Callable[..., WebSite]) -> WebSite:
    return start_site()


REPORT = {
    "code": "IP-004512",
    "fault": "spenta",
    "text": "Da tre sere, davanti al civico 12.",
    "name": "Maria Bianchi",
    "email": "maria.bianchi@example.org",
    "phone": "",
}
