"""How long the daemon takes to stop on SIGTERM, with a relay that accepts and never answers.

    .venv/bin/python bench/stop_bound.py            # --backlog 20000 --load-s 5

A report, not a test: each line is one daemon process started on a throwaway site (SQLite,
an SMTP ingress), its acknowledgements relayed to a port that accepts connections and never
says a word, with the relay's default timeouts (30 s a command, 10 s to connect): the case
where a delivery in registration's path, or a stop that waited for it, would show. Then
SIGTERM, and the seconds until the process has exited, against `TimeoutStopSec` of
systemd/inbox-daemon.service (systemd would SIGKILL beyond it):

- idle: nothing to do but the acknowledgements waiting on the silent relay;
- under load: SIGTERM while an SMTP client is still sending requests;
- backlog: SIGTERM just after a start that found thousands of stored messages to register
  (the stop registers for up to `daemon.STOP_DRAIN_S`; the rest wait, stored, for the next
  start).
"""

from __future__ import annotations

import argparse
import re
import signal
import smtplib
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlmodel import func, select

from inbox_daemon.blobs import BlobStore
from inbox_daemon.spool import Incoming, Origin, Spool
from inbox_daemon.store.db import open_store, transaction
from inbox_daemon.store.models import Message, Outbox, Ticket
from inbox_daemon.store.types import utcnow

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.smtp.test_smtp_kill import ingress_config, request, start_daemon  # noqa: E402

UNIT = ROOT / "systemd" / "inbox-daemon.service"
EXTRA = """
[acknowledgements]
enabled = true
from = "segnalazioni@example.it"
smtp = {{ host = "127.0.0.1", port = {relay}, tls = "none" }}
"""


class Site:
    """A throwaway folder with a config, and the daemon process run on it."""

    def __init__(self, folder: Path, relay: int | None) -> None:
        """Acknowledgements go to `relay`; None: acknowledgements off."""
        self.folder = folder
        extra = EXTRA.format(relay=relay) if relay else ""
        self.config, self.port = ingress_config(folder, extra)
        self.process = start_daemon(self.config)
        self.stopped: tuple[float, int] | None = None

    def restart(self) -> None:
        self.process = start_daemon(self.config)

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
    site.stopped = site.stop()
    stop.set()
    client.join()
    return f"{len(sent)} accepted in {args.load_s:g} s, {tickets} tickets before SIGTERM"


def backlog(site: Site, args: argparse.Namespace) -> str:
    """Messages received and stored (as a crash or a long outage of the pipeline leaves
    them), registered by the next start: SIGTERM as soon as it has begun."""
    site.stop()
    spool = Spool(
        open_store(f"sqlite:///{site.folder}/tickets.db"), BlobStore(site.folder / "store")
    )
    spool.store_many([
        Incoming(raw=request(200_000 + i), origin=Origin(source="ingress", detail=f"bench {i}"),
                 received_at=utcnow(), channel="email")
        for i in range(args.backlog)
    ])  # fmt: skip
    site.restart()
    deadline = time.monotonic() + 120
    while site.counts()[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    return f"{args.backlog} messages stored before the start"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=20000)
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
                site.wait_ready()
                note = scenario(site, args)
                seconds, code = site.stopped or site.stop()
                tickets, waiting, queued = site.counts()
                print(f"  {name:<11} exit {code} after {seconds:5.2f} s; {tickets} tickets, "
                      f"{waiting} stored for the next start, "
                      f"{queued} acks queued{'; ' + note if note else ''}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
