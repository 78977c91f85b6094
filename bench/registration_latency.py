"""From arrival to ticket at a steady rate, with acknowledgements off, to a working relay, and
to a relay that accepts and never answers.

    .venv/bin/python bench/registration_latency.py      # --rate 40 --seconds 20

A report, not a test. An SMTP client sends requests at a steady rate to a daemon process (the
same throwaway site as bench/stop_bound.py); each ticket's delay is its `registered_at` less
its message's `received_at` (the SMTP reception time), both written by the daemon. Delivery
of acknowledgements runs beside registration, so the three lines should read alike: before
issue 13, a working relay took the delay from 1.9 s to 13.7 s in 30 s at 40 requests/s.
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import statistics
import tempfile
import time
from pathlib import Path

from sqlmodel import select
from stop_bound import Site, request  # it also puts the repository on sys.path, for tests.*

from inbox_daemon.store.db import open_store, transaction
from inbox_daemon.store.models import Message, Ticket
from tests.smtp.conftest import AckSink, free_port


def send_steadily(port: int, rate: float, seconds: float) -> int:
    """One connection per message, as MTAs do; returns how many were accepted."""
    accepted, start = 0, time.monotonic()
    for i in range(int(rate * seconds)):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                client.sendmail("cittadino@example.org", ["segnalazioni@example.it"], request(i))
            accepted += 1
        except (OSError, smtplib.SMTPException):
            pass
    return accepted


def delays(site: Site, expected: int) -> list[float]:
    """Seconds from reception to ticket, once every accepted message has its ticket."""
    engine = open_store(f"sqlite:///{site.folder}/tickets.db")
    deadline = time.monotonic() + 120
    while True:
        with transaction(engine) as s:
            rows = s.exec(
                select(Ticket.registered_at, Message.received_at).join(
                    Message, Message.id == Ticket.message_pk
                )
            ).all()
        if len(rows) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    engine.dispose()
    return sorted((registered - received).total_seconds() for registered, received in rows)


def run(name: str, relay: int | None, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="latency-") as tmp:
        site = Site(Path(tmp), relay)
        site.wait_ready()
        accepted = send_steadily(site.port, args.rate, args.seconds)
        found = delays(site, accepted)
        site.stop()
    if not found:
        print(f"  {name:<22} no tickets")
        return
    p95 = found[min(len(found) - 1, int(len(found) * 0.95))]
    print(f"  {name:<22} {len(found):4d} tickets  median {statistics.median(found):6.3f} s  "
          f"p95 {p95:6.3f} s  max {found[-1]:6.3f} s")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(f"arrival to ticket, {args.rate:g} requests/s for {args.seconds:g} s")
    run("acknowledgements off", None, args)
    sink = AckSink(free_port())
    sink.start()
    try:
        run("working relay", sink.port, args)
    finally:
        sink.stop()
    print(f"    (the working relay received {len(sink.messages)} acknowledgements)")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        run("relay never answers", silent.getsockname()[1], args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
