"""The web form under load: reports per second on loopback, and the time to the answer page.

    .venv/bin/python bench/web_form.py           # --n 1000 --clients 20 [--smtp]

A report, not a test (issue 19: at least 200 reports/s, p95 to the answer page at most
100 ms, each report durable before it is answered). A daemon process runs on a throwaway site
with a web source (and, with `--smtp`, its SMTP ingress beside it, taking mail at the same
time from Postfix's `smtp-source` when installed, else from smtplib). `--clients` concurrent
HTTP clients (aiohttp, keep-alive like a browser) each fetch the form, send it, and follow
the 303 to the answer page, which waits until the ticket has its number. The figures:
  stored     POST sent to its 303 (the report is durable: the spool's sync and commit)
  answered   POST sent to the answer page showing the number (stored + registered)
  rate       reports answered with their number per second, wall clock
  registered a report's ticket committed after its message (the store's own times: the part
             of "answered" that is the main thread's registration, not the web server's)
  told       from the ticket's commit (`registered_at`) to the page with its number in the
             client's hands (one machine, one clock): what the web server adds to
             registration on the way to the number (hearing of it, the answer page)
  CPU        user+sys of the daemon's processes (its worker processes included) during the
             load, per report: on a shared machine the figure to compare, wall times vary
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from imap_throughput import _descendants  # noqa: E402
from sqlmodel import select  # noqa: E402

from inbox_daemon.store.db import open_store, transaction  # noqa: E402
from inbox_daemon.store.models import Message, Ticket  # noqa: E402
from tests.conftest import BASE_CONFIG  # noqa: E402
from tests.smtp.test_smtp_kill import counts, free_port, start_daemon  # noqa: E402

TOKEN = re.compile(r'name="token" value="([^"]+)"')
NUMBER = re.compile(r'id="ticket-number">([^<]+)<')


def config(tmp: Path, web: int, smtp: int | None) -> Path:
    text = BASE_CONFIG + (
        f'[[sources]]\nname = "web"\nkind = "web"\nlisten = "127.0.0.1:{web}"\n'
        'base_url = "http://127.0.0.1"\nsubmissions_per_hour = 100000\nanswer_wait_s = 30\n'
    )
    if smtp:
        text += (
            f'[[sources]]\nname = "ingress"\nkind = "smtp"\nlisten = "127.0.0.1:{smtp}"\n'
            'recipients = ["segnalazioni@example.it"]\n'
        )
    path = tmp / "config.toml"
    path.write_text(text)
    return path


Timing = tuple[float, float, str, float]  # stored, answered (s), the number, when (epoch)


async def one(session: aiohttp.ClientSession, base: str, i: int) -> Timing:
    async with session.get(f"{base}/") as form:
        token = TOKEN.search(await form.text()).group(1)
    data = aiohttp.FormData()
    for key, value in {
        "token": token, "code": f"IP-{i % 999999:06d}", "fault": "spenta",
        "text": f"Prova di carico {i}", "name": "Carico Prova", "email": f"p{i}@example.org",
    }.items():  # fmt: skip
        data.add_field(key, value)
    started = time.perf_counter()
    async with session.post(f"{base}/invia", data=data, allow_redirects=False) as posted:
        assert posted.status == 303, await posted.text()
        stored = time.perf_counter() - started
        where = posted.headers["Location"]
    async with session.get(f"{base}{where}") as page:
        text = await page.text()
        number = NUMBER.search(text)
        assert page.status == 200 and number, text[:500]
    return stored, time.perf_counter() - started, number.group(1), time.time()


def cpu_s(root: int) -> tuple[float, float]:
    """User+sys seconds used so far by `root` itself (all its threads) and by the processes
    under it (the forkserver, the workers)."""
    own = others = 0
    for pid in _descendants(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used = int(fields[11]) + int(fields[12])  # utime, stime
        if pid == root:
            own = used
        else:
            others += used
    tick = os.sysconf("SC_CLK_TCK")
    return own / tick, others / tick


Used = tuple[float, float, float]  # CPU seconds: the daemon's process, its workers, the clients


async def load(base: str, n: int, clients: int, daemon: int) -> tuple[list[Timing], float, Used]:
    queue = list(range(n))
    results: list[Timing] = []

    async def worker(session: aiohttp.ClientSession) -> None:
        while queue:
            results.append(await one(session, base, queue.pop()))

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        await one(session, base, n)  # warm: imports, first query plans
        started, (own, others), mine = time.perf_counter(), cpu_s(daemon), time.process_time()
        await asyncio.gather(*(worker(session) for _ in range(clients)))
        wall, (own_now, others_now) = time.perf_counter() - started, cpu_s(daemon)
        return results, wall, (own_now - own, others_now - others, time.process_time() - mine)


def mail_beside(port: int, stop: threading.Event, sent: list[int]) -> None:
    """SMTP mail at the same time, one connection per message, as fast as it goes."""
    i = 0
    while not stop.is_set():
        msg = EmailMessage()
        msg["From"], msg["To"] = f"c{i}@example.org", "segnalazioni@example.it"
        msg["Subject"], msg["Message-ID"] = f"Lampione spento {i}", f"<bench-web-{i}@example.org>"
        msg.set_content(f"Il lampione IP-{i:06d} è spento.")
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                client.send_message(msg)
            sent.append(i)
        except (OSError, smtplib.SMTPException):
            time.sleep(0.05)
        i += 1


def wait_up(base: str, deadline_s: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/", timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the daemon's web form never answered")


def registration_times(db_url: str) -> dict[str, tuple[float, float]]:
    """Per ticket number: when it was registered (epoch seconds), and how long after its
    message was stored."""
    query = select(Ticket.number, Ticket.registered_at, Message.spooled_at).join(
        Message, Message.id == Ticket.message_pk
    )
    with transaction(open_store(db_url)) as session:
        rows = list(session.exec(query))
    return {
        number: (registered.timestamp(), (registered - stored).total_seconds())
        for number, registered, stored in rows
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--smtp", action="store_true", help="SMTP mail beside, at the same time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as folder:
        tmp = Path(folder)
        web, smtp = free_port(), (free_port() if args.smtp else None)
        daemon = start_daemon(config(tmp, web, smtp), tmp / "daemon.log")
        base = f"http://127.0.0.1:{web}"
        stop, sent = threading.Event(), []
        try:
            wait_up(base)
            beside = threading.Thread(target=mail_beside, args=(smtp, stop, sent), daemon=True)
            if smtp:
                beside.start()
            results, wall, cpu = asyncio.run(load(base, args.n, args.clients, daemon.pid))
        finally:
            stop.set()
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=120)
        tickets = counts(f"sqlite:///{tmp}/tickets.db")[0]
        times = registration_times(f"sqlite:///{tmp}/tickets.db")
    stored = [s for s, _, _, _ in results]
    answered = [a for _, a, _, _ in results]
    registered = [times[number][1] for _, _, number, _ in results]  # not the warm-up's
    told = [shown - times[number][0] for _, _, number, shown in results]
    print(f"{args.n} reports, {args.clients} clients, keep-alive, on loopback"
          + (f"; {len(sent)} SMTP messages beside" if smtp else ""))  # fmt: skip
    for name, values in (("stored (POST to 303)", stored), ("answered (to the number)", answered),
                         ("registered (after stored)", registered),
                         ("told (after registered)", told)):  # fmt: skip
        print(f"  {name:26} median {statistics.median(values) * 1000:6.1f} ms"
              f"  p95 {percentile(values, 95) * 1000:6.1f} ms"
              f"  max {max(values) * 1000:6.1f} ms")  # fmt: skip
    print(f"  rate {len(results) / wall:7.1f} reports/s answered with their number "
          f"(target >= 200/s; p95 target <= 100 ms); {tickets} tickets in the store")  # fmt: skip
    own, others, clients = (used * 1000 / len(results) for used in cpu)
    print(f"  CPU  {own + others:7.2f} ms per report (user+sys, the daemon's processes, "
          f"{sum(cpu[:2]):.1f} s in all): {own:.2f} ms the daemon's own process (one "
          f"interpreter: web server, spool, registration), {others:.2f} ms its workers; "
          f"the clients {clients:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
