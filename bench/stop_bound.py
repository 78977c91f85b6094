"""How long the daemon takes to stop on SIGTERM, with a relay that accepts and never answers.

    .venv/bin/python bench/stop_bound.py            # --backlog 3000 --load-s 5

A report, not a test: each line is one daemon process started on a throwaway site (SQLite,
an SMTP ingress, a drop folder), its acknowledgements relayed to a port that accepts
connections and never says a word, with the relay's default timeouts (30 s a command, 10 s
to connect) — the case where a delivery in registration's path, or a stop that waited for
it, would show. Then SIGTERM, and the seconds until the process has exited, against
`TimeoutStopSec` of systemd/inbox-daemon.service (systemd would SIGKILL beyond it):

- idle: nothing to do but the acknowledgements waiting on the silent relay;
- under load: SIGTERM while an SMTP client is still sending requests;
- backlog: SIGTERM while thousands of stored messages wait to be registered (the stop
  registers for up to `daemon.STOP_DRAIN_S`; the rest wait, stored, for the next start).
"""

from __future__ import annotations

import argparse
import re
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

from sqlmodel import func, select

from inbox_daemon.store.db import open_store, transaction
from inbox_daemon.store.models import Message, Outbox, Ticket

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "inbox-daemon.service"
CONFIG = """
[database]
url = "sqlite:///tickets.db"
[storage]
dir = "store"
[calendar]
timezone = "Europe/Rome"
[[sources]]
name = "ingress"
kind = "smtp"
listen = "127.0.0.1:{port}"
recipients = ["segnalazioni@example.it"]
[[sources]]
name = "drop"
kind = "folder"
path = "drop"
[acknowledgements]
enabled = true
from = "segnalazioni@example.it"
smtp = {{ host = "127.0.0.1", port = {relay}, tls = "none" }}
"""


def request(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"cittadino{i}@example.org"
    msg["To"] = "segnalazioni@example.it"
    msg["Subject"] = f"Lampione spento in via Garibaldi {i}"
    msg["Message-ID"] = f"<stop-bound-{i}@example.org>"
    msg.set_content(f"Buongiorno, il lampione IP-{i % 1000000:06d} è spento da tre giorni.")
    return msg.as_bytes()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Site:
    """A throwaway folder with a config, and the daemon process run on it."""

    def __init__(self, folder: Path, relay: int) -> None:
        self.folder, self.port = folder, free_port()
        (folder / "drop").mkdir()
        self.config = folder / "config.toml"
        self.config.write_text(CONFIG.format(port=self.port, relay=relay))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "inbox_daemon.cli", "--config", str(self.config),
                   "-q", "run"]  # fmt: skip
        self.process = subprocess.Popen(command, stderr=subprocess.DEVNULL, cwd=self.folder)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as client:
                    client.noop()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the daemon did not start")

    def stop(self) -> tuple[float, int]:
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=600)
        return time.monotonic() - started, code

    def counts(self) -> tuple[int, int, int]:
        """Tickets, messages still waiting to be registered, acknowledgements queued."""
        engine = open_store(f"sqlite:///{self.folder}/tickets.db")
        with transaction(engine) as s:
            tickets = s.exec(select(func.count(Ticket.id))).one()
            waiting = s.exec(select(func.count(Message.id)).where(Message.status == "received"))
            queued = s.exec(select(func.count(Outbox.id)).where(Outbox.state == "pending"))
            result = tickets, waiting.one(), queued.one()
        engine.dispose()
        return result


def send_until(port: int, stop: threading.Event, sent: list[int]) -> None:
    i = 100_000
    while not stop.is_set():
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                client.sendmail("cittadino@example.org", ["segnalazioni@example.it"], request(i))
            sent.append(i)
        except (OSError, smtplib.SMTPException):
            time.sleep(0.05)  # stopping: 421, or refused
        i += 1


def idle(site: Site, _args: argparse.Namespace) -> str:
    for i in range(5):
        with smtplib.SMTP("127.0.0.1", site.port, timeout=10) as client:
            client.sendmail("cittadino@example.org", ["segnalazioni@example.it"], request(i))
    time.sleep(2)  # the acknowledgements are now waiting on the silent relay
    return ""


def under_load(site: Site, args: argparse.Namespace) -> str:
    stop, sent = threading.Event(), []
    client = threading.Thread(target=send_until, args=(site.port, stop, sent))
    client.start()
    time.sleep(args.load_s)
    tickets, _, _ = site.counts()
    site.stopped = site.stop()  # type: ignore[attr-defined]
    stop.set()
    client.join()
    return f"{len(sent)} accepted in {args.load_s:g} s, {tickets} tickets before SIGTERM"


def backlog(site: Site, args: argparse.Namespace) -> str:
    site.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    site.process.wait()  # type: ignore[union-attr]
    for i in range(args.backlog):
        (site.folder / "drop" / f"{i:06d}.eml").write_bytes(request(200_000 + i))
    site.start()
    deadline = time.monotonic() + 120
    while site.counts()[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # registering has begun
    return f"{args.backlog} files dropped"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=3000)
    parser.add_argument("--load-s", type=float, default=5.0)
    args = parser.parse_args()
    bound = re.search(r"^TimeoutStopSec=(\d+)s", UNIT.read_text(), re.MULTILINE)
    print(f"stop on SIGTERM, relay accepts and never answers; unit TimeoutStopSec="
          f"{bound.group(1) if bound else '?'}s")  # fmt: skip
    with socket.socket() as relay:
        relay.bind(("127.0.0.1", 0))
        relay.listen(64)
        for name, scenario in (("idle", idle), ("under load", under_load), ("backlog", backlog)):
            with tempfile.TemporaryDirectory(prefix="stop-bound-") as tmp:
                site = Site(Path(tmp), relay.getsockname()[1])
                site.start()
                site.wait_ready()
                note = scenario(site, args)
                seconds, code = getattr(site, "stopped", None) or site.stop()
                tickets, waiting, queued = site.counts()
                unread = len(list((site.folder / "drop").glob("*.eml")))
                print(f"  {name:<11} exit {code} after {seconds:5.2f} s; {tickets} tickets, "
                      f"{waiting} stored and {unread} unread for the next start, "
                      f"{queued} acks queued{'; ' + note if note else ''}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
