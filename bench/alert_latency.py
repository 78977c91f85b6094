"""From an emergency's arrival over SMTP to its alert at the on-call crew's mailbox.

    .venv/bin/python bench/alert_latency.py          # --n 200 --rate 5

A report, not a test (issue 16: p95 ≤ 5 s). A daemon process runs on a throwaway site with an
SMTP ingress and a routing rule that notifies the on-call address; its relay is a local
aiosmtpd sink that notes when each alert arrives. A client sends `--n` emergencies at
`--rate` a second, each about a different pole, and the figure is the time from the client's
DATA answered with 250 to the sink receiving that ticket's alert.
"""

from __future__ import annotations

import argparse
import re
import signal
import smtplib
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.smtp.test_smtp_kill import free_port, ingress_config, start_daemon  # noqa: E402

ROUTING = """
[acknowledgements]
enabled = true
from = "segnalazioni@example.it"
smtp = {{ host = "127.0.0.1", port = {relay}, tls = "none" }}
[[routing]]
match = {{ urgency = "emergenza" }}
queue = "reperibilita"
notify = ["reperibile@example.it"]
[[routing]]
queue = "manutenzione"
"""


class Sink:
    """Notes the arrival time of each alert, by the pole code in its subject."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook name
        if envelope.rcpt_tos == ["reperibile@example.it"]:
            found = re.search(rb"IP-\d{6}", envelope.content)
            if found:
                self.arrived.setdefault(found.group().decode(), time.monotonic())
        return "250 OK"


def emergency(i: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"cittadino{i}@example.org"
    message["To"] = "segnalazioni@example.it"
    message["Subject"] = "Palo caduto"
    message["Message-ID"] = f"<alert-{i}@example.org>"
    message.set_content(f"Il palo IP-{i:06d} è caduto sulla strada, c'è pericolo per le auto.")
    return message.as_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="emergencies a second")
    args = parser.parse_args()
    sink = Sink()
    relay = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=relay)
    controller.start()
    with tempfile.TemporaryDirectory() as tmp:
        config, port = ingress_config(Path(tmp), ROUTING.format(relay=relay))
        daemon = start_daemon(config)
        try:
            sent = _send(port, args.n, args.rate)
            deadline = time.monotonic() + 60
            while len(sink.arrived) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
            controller.stop()
    delays = sorted(sink.arrived[code] - at for code, at in sent.items() if code in sink.arrived)
    print(f"alert latency: {len(delays)} of {len(sent)} emergencies alerted, at {args.rate:g}/s")
    if delays:
        p95 = (
            statistics.quantiles(delays, n=20, method="inclusive")[18]
            if len(delays) > 1
            else delays[0]
        )
        median, worst = statistics.median(delays), delays[-1]
        print(
            f"  median {median:.2f} s   p95 {p95:.2f} s   max {worst:.2f} s   (target: p95 <= 5 s)"
        )
    return 0


def _send(port: int, n: int, rate: float) -> dict[str, float]:
    """Each emergency once, at `rate` a second; when each was answered 250, by pole code."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the daemon starting up
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=2).quit()
            break
        except OSError:
            time.sleep(0.2)
    sent = {}
    for i in range(1, n + 1):
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail(f"cittadino{i}@example.org", ["segnalazioni@example.it"], emergency(i))
        sent[f"IP-{i:06d}"] = time.monotonic()
        time.sleep(max(0.0, 1 / rate - 0.002))
    return sent


if __name__ == "__main__":
    sys.exit(main())
