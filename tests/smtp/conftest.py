"""Real SMTP on loopback: the ingress on an ephemeral port, and an `ack_sink` that captures
what the daemon sends (Mailman's fake-MTA idea), both aiosmtpd servers in their own threads."""

from __future__ import annotations

import asyncio
import email
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from inbox_daemon.config import Config, SmtpSource
from inbox_daemon.sources.smtp import SmtpIngress
from inbox_daemon.spool import BlobStore, Spool
from inbox_daemon.store.db import open_store

INGRESS = """
[[sources]]
name = "ingress"
kind = "smtp"
listen = "127.0.0.1:0"
hostname = "cc.example.it"
recipients = ["segnalazioni@example.it", "fax@example.it", "@comune.example.it"]
channels = { "fax@example.it" = "fax" }
max_message_mb = 1
"""


def free_port() -> int:
    """A port nothing listens on now (the sink is started on it later, or never)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    peer: Any = None  # the client's (host, port): one per connection

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]


@dataclass
class AckSink:
    """An SMTP server that keeps every message it is given; `start`/`stop` model an outage."""

    port: int
    messages: list[Captured] = field(default_factory=list)
    controller: Controller | None = None
    refuse_rcpt: str | None = None  # e.g. "550 5.1.1 No such user": refuse every recipient
    hang_s: float = 0.0  # at the end of DATA, wait this long, then 451 (nothing kept)
    hung: int = 0  # how many DATA ends were held so
    drop_after_250: bool = False  # close the connection right after each 250 to DATA

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.hang_s:  # a relay that has the message and never answers in time
            self.hung += 1
            await asyncio.sleep(self.hang_s)
            return "451 4.3.0 Try again later"
        self.messages.append(
            Captured(
                envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content,
                session.peer,
            )
        )  # fmt: skip
        if self.drop_after_250 and server.transport is not None:
            asyncio.get_running_loop().call_soon(server.transport.close)  # after the 250
        return "250 OK"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def make_sink() -> Iterator[Callable[..., AckSink]]:
    """Start more sinks (a PEC provider's relay, a refusing server); all stopped at the end."""
    sinks: list[AckSink] = []

    def make(refuse_rcpt: str | None = None) -> AckSink:
        sink = AckSink(free_port(), refuse_rcpt=refuse_rcpt)
        sink.start()
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.stop()


@pytest.fixture
def silent_relay() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


@pytest.fixture
def ack_sink(make_sink: Callable[..., AckSink]) -> AckSink:
    return make_sink()


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(open_store(f"sqlite:///{tmp_path}/t.db"), BlobStore(tmp_path / "store"))


@dataclass
class Running:
    ingress: SmtpIngress
    spool: Spool
    wakeups: list[int]

    @property
    def port(self) -> int:
        return self.ingress.port


@pytest.fixture
def smtp_ingress(
    make_config: Callable[..., Config], spool: Spool
) -> Iterator[Callable[..., Running]]:
    """Start an ingress (INGRESS plus `extra` keys for the source) on an ephemeral port."""
    started: list[SmtpIngress] = []

    def start(extra: str = "", spool_: Spool | None = None) -> Running:
        base = INGRESS.replace('listen = "127.0.0.1:0"\n', "") if "listen" in extra else INGRESS
        config = make_config(base + extra)
        source = config.sources[0]
        assert isinstance(source, SmtpSource)
        wakeups: list[int] = []
        target = spool_ or spool
        ingress = SmtpIngress(source, target, lambda: wakeups.append(1))
        ingress.start()
        started.append(ingress)
        return Running(ingress, target, wakeups)

    yield start
    for ingress in started:
        ingress.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (and localhost), made by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (scripts/setup.sh test installs it)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def swaks() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the swaks SMTP client (Debian package `swaks`) with the given arguments."""
    binary = shutil.which("swaks")
    if binary is None:
        pytest.skip("swaks is not installed: apt-get install swaks (scripts/setup.sh test does)")

    def run(*args: Any) -> subprocess.CompletedProcess[str]:
        command = [binary, "--timeout", "20", *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    return run


@pytest.fixture
def ingress_toml() -> str:
    return INGRESS
