"""SIGHUP to the real daemon process: a good new configuration is applied without a restart
(a drop folder removed, another added, a rule file and the acknowledgement template re-read);
a broken one is refused with its reason logged, and the daemon goes on as it was. A stream
of SMTP deliveries across reloads (the ingress kept, then restarted) loses nothing and makes
nothing twice. systemd hears RELOADING=1 and READY=1 on a real notify socket."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from inbox_daemon.store.db import open_store, transaction
from inbox_daemon.store.models import Ticket
from tests.conftest import REPO
from tests.smtp.conftest import AckSink, free_port
from tests.smtp.test_smtp_bounds import until as poll_until
from tests.smtp.test_smtp_kill import deliver, request

pytestmark = pytest.mark.slow
LIMIT_S = 90.0  # only to fail rather than hang: nothing here asserts on time
TEMPLATE = (REPO / "inbox_daemon" / "templates" / "ack_it.txt").read_text(encoding="utf-8")
RULE = """field = "request_type"
[[rule]]
name = "informazione.prova_ricarica"
value = "informazione"
weight = 4
description = "A word that only this test uses."
patterns = ['\\bzuppa\\s+inglese\\b']
"""


@pytest.fixture
def sink() -> Iterator[AckSink]:
    relay = AckSink(free_port())
    relay.start()
    yield relay
    relay.stop()


def config_text(relay_port: int, sources: str, extra: str = "") -> str:
    return (
        '[database]\nurl = "sqlite:///tickets.db"\n[storage]\ndir = "store"\n'
        '[calendar]\ntimezone = "Europe/Rome"\n'
        '[acknowledgements]\nenabled = true\nfrom = "segnalazioni@example.it"\n'
        'template = "ack.txt"\n'
        f'smtp = {{ host = "127.0.0.1", port = {relay_port}, tls = "none" }}\n' + extra + sources
    )


def folder(name: str) -> str:
    return (
        f'[[sources]]\nname = "{name}"\nkind = "folder"\npath = "{name}"\npoll_interval_s = 0.3\n'
    )


class Daemon:
    """The daemon as a process, its log, and what it told a notify socket."""

    def __init__(self, tmp_path: Path) -> None:
        self.log = tmp_path / "daemon.log"
        self.notify_path = str(tmp_path / "notify.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.listener.bind(self.notify_path)
        self.listener.settimeout(0.2)
        self.heard: list[str] = []
        # read at once, as systemd does: a full socket queue (ten datagrams) blocks the sender
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        command = [sys.executable, "-m", "inbox_daemon.cli", "--config",
                   str(tmp_path / "config.toml"), "run"]  # fmt: skip
        env = {**os.environ, "NOTIFY_SOCKET": self.notify_path}
        with open(self.log, "ab") as stderr:
            self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                            stderr=stderr)  # fmt: skip

    def _read(self) -> None:
        while self.listener.fileno() != -1:
            with contextlib.suppress(TimeoutError, OSError):
                self.heard += self.listener.recv(65536).decode().split("\n")

    def lines(self) -> list[str]:
        return list(self.heard)

    def logged(self, text: str) -> int:
        return self.log.read_text(encoding="utf-8").count(text)

    def hangup(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=LIMIT_S)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            time.sleep(0.5)  # the last datagrams read
            self.listener.close()


def until(condition: Callable[[], object]) -> None:
    assert poll_until(condition, LIMIT_S), "condition not reached"


def tickets(tmp_path: Path) -> list[Ticket]:
    engine = open_store(f"sqlite:///{tmp_path}/tickets.db")
    with transaction(engine) as session:
        rows = list(session.exec(select(Ticket).order_by(Ticket.id)))
    engine.dispose()
    return rows


def drop(tmp_path: Path, folder_name: str, n: int) -> Path:
    path = tmp_path / folder_name / f"m{n}.eml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        f"From: Cittadino {n} <c{n}@example.org>\nSubject: Domanda {n}\n"
        f"Message-ID: <reload-{n}@example.org>\n\n"
        "Buongiorno, vi scrivo della zuppa inglese.\n",
        encoding="utf-8",
    )
    return path


def test_sighup_applies_a_good_config_and_keeps_the_old_one_when_the_new_is_broken(
    tmp_path, sink: AckSink
):
    config = tmp_path / "config.toml"
    (tmp_path / "ack.txt").write_text(TEMPLATE + "MODELLO-UNO\n", encoding="utf-8")
    config.write_text(config_text(sink.port, folder("drop1")), encoding="utf-8")
    daemon = Daemon(tmp_path)
    try:
        drop(tmp_path, "drop1", 1)
        until(lambda: len(sink.messages) == 1)
        assert "MODELLO-UNO" in sink.messages[0].message.get_content()

        # the good one: drop1 removed, drop2 added, a rule file, the template rewritten
        (tmp_path / "extra.toml").write_text(RULE, encoding="utf-8")
        (tmp_path / "ack.txt").write_text(TEMPLATE + "MODELLO-DUE\n", encoding="utf-8")
        config.write_text(
            config_text(sink.port, folder("drop2"), '[rules]\nfiles = ["extra.toml"]\n'),
            encoding="utf-8",
        )
        daemon.hangup()
        until(lambda: daemon.logged("reloaded "))
        assert daemon.logged("sources added drop2; removed drop1") == 1
        drop(tmp_path, "drop2", 2)
        until(lambda: len(sink.messages) == 2)
        assert "MODELLO-DUE" in sink.messages[1].message.get_content()
        left = drop(tmp_path, "drop1", 3)  # no longer a source: stays where it is

        # the broken one: a misspelt placeholder in the template, and an unknown key
        (tmp_path / "ack.txt").write_text(TEMPLATE + "$nmber\n", encoding="utf-8")
        config.write_text(config.read_text() + "colour = 'blue'\n", encoding="utf-8")
        daemon.hangup()
        until(lambda: daemon.logged("reload refused"))
        text = daemon.log.read_text(encoding="utf-8")
        assert "the running configuration stays" in text and "colour: unknown key" in text
        config.write_text(config.read_text().replace("colour = 'blue'\n", ""), encoding="utf-8")
        daemon.hangup()
        until(lambda: daemon.logged("reload refused") == 2)
        assert "unknown placeholder $nmber" in daemon.log.read_text(encoding="utf-8")

        drop(tmp_path, "drop2", 4)  # still running, on the good configuration
        until(lambda: len(sink.messages) == 3)
        assert "MODELLO-DUE" in sink.messages[2].message.get_content()
        assert daemon.process.poll() is None
    finally:
        code = daemon.stop()
    assert code == 0
    rows = tickets(tmp_path)
    assert [t.request_type for t in rows] == ["da_classificare", "informazione", "informazione"]
    assert left.exists() and not (tmp_path / "drop1" / ".done" / left.name).exists()
    lines = daemon.lines()
    assert lines.count("RELOADING=1") == 3  # each SIGHUP, refused or not
    assert lines.count("READY=1") == 4  # at start, then after each of the three
    refused = [line for line in lines if "the last reload was refused" in line]
    assert refused and refused[0].startswith("STATUS=waiting for mail; 2 ticket(s) since start")


def test_mail_delivered_over_smtp_across_reloads_makes_each_ticket_once(tmp_path, sink):
    """A client keeps delivering while the daemon is reloaded: with its ingress kept, then
    with the ingress changed (restarted on the same port; a refused connection is retried,
    as any SMTP client does). Every message answered 250 makes exactly one ticket."""
    port = free_port()

    def ingress(limit_mb: int) -> str:
        return (
            f'[[sources]]\nname = "ingress"\nkind = "smtp"\nlisten = "127.0.0.1:{port}"\n'
            f'recipients = ["segnalazioni@example.it"]\nmax_message_mb = {limit_mb}\n'
        )

    config = tmp_path / "config.toml"
    (tmp_path / "ack.txt").write_text(TEMPLATE, encoding="utf-8")
    config.write_text(config_text(sink.port, ingress(1)), encoding="utf-8")
    daemon = Daemon(tmp_path)
    accepted = 0
    try:
        until(lambda: "READY=1" in daemon.lines())
        for i in range(60):
            if i == 15:
                daemon.hangup()  # nothing changed: the ingress is kept
            if i == 30:
                until(lambda: daemon.logged("reloaded ") == 1)  # two SIGHUPs at once: one reload
                config.write_text(config_text(sink.port, ingress(2)), encoding="utf-8")
                daemon.hangup()  # the ingress changed: stopped, then started again
            until(lambda i=i: deliver(port, request(i)))
            accepted += 1
        until(lambda: len(tickets(tmp_path)) >= accepted)
        until(lambda: daemon.logged("reloaded ") == 2)
    finally:
        code = daemon.stop()
    assert code == 0
    assert daemon.logged("sources restarted ingress") == 1
    ids = [t.message_id for t in tickets(tmp_path)]
    assert len(ids) == len(set(ids)) == 60
