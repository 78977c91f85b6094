"""The web form under load: reports per second on loopback, and the time to the answer page.

    .venv/bin/python bench/web_form.py           # --n 1000 --clients 20 [--smtp]
    .venv/bin/python bench/web_form.py --rate 200 --n 1000      # offered at 200 a second
    .venv/bin/python bench/web_form.py --client raw --phases    # lean client; phase by phase

A report, not a test (issue 19: at least 200 reports/s, p95 to the answer page at most
100 ms, each report durable before it is answered). A daemon process runs on a throwaway site
with a web source (and, with `--smtp`, its SMTP ingress beside it, taking mail at the same
time from smtplib). Each report: the client fetches the form, sends it, and follows the 303
to the answer page, which waits until the ticket has its number.

Load, two ways:
  closed    (default) `--clients` clients, each sending its next report once the last one
            is answered: as fast as the daemon goes, the figure that says its capacity
  --rate R  reports offered at R a second whatever the answers (a new citizen does not wait
            for the last one's page), over up to `--clients` connections: what the target
            asks (200 a second, each answered within 100 ms). `behind` counts the reports
            whose POST could not go out on time (every connection busy, the form slow to
            come, or the client itself late), beside those answered more than 100 ms after
            their POST

Clients, two kinds, the same requests (the form, the POST, the answer page):
  aiohttp   (default, the reference) aiohttp's client, keep-alive like a browser
  raw       HTTP/1.1 written and read by hand on asyncio streams, keep-alive: a third of
            aiohttp's CPU per report, for a truer figure where the client shares the cores
            with the daemon (its CPU is printed either way)
`--multipart` sends the form as a browser does (multipart/form-data, with the empty photo
part); without it, urlencoded, as the figures before it were taken.

The figures:
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
`--phases` runs the daemon under `bench/web_phases.py` and prints where each report's time
went, phase by phase, with the registration batches, the event loop's lag, the garbage
collections and each thread's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

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

TOKEN = re.compile(rb'name="token" value="([^"]+)"')
NUMBER = re.compile(rb'id="ticket-number">([^<]+)<')
BOUNDARY = "----benchWebFormBoundary7MA4YWxkTrZu0gW"
LATE_S = 0.010  # a report whose POST went out later than this after its offer fell behind
TARGET_S = 0.100
now = time.perf_counter


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


@dataclass
class Timing:
    """One report, on the monotonic clock (`perf_counter`, the daemon's too)."""

    seq: int
    offered: float  # when it was due (rate mode), else when its form was asked for
    form_sent: float
    post_sent: float
    stored: float  # the 303 in hand
    answered: float  # the page with the number in hand
    number: str
    shown: float  # epoch seconds, beside `answered`: against the store's registered_at


def fields(token: str, i: int) -> dict[str, str]:
    return {
        "token": token, "code": f"IP-{i % 999999:06d}", "fault": "spenta",
        "text": f"Prova di carico {i}", "name": "Carico Prova", "email": f"p{i}@example.org",
    }  # fmt: skip


def multipart(values: dict[str, str]) -> bytes:
    """The form as a browser sends it: a part per field, and the photo's part, empty."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
        for key, value in values.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photo"; filename=""\r\n'
        "Content-Type: application/octet-stream\r\n\r\n\r\n"
    )
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()


class Client(Protocol):
    async def report(self, i: int, offered: float | None = None) -> Timing: ...

    async def close(self) -> None: ...


class AiohttpClient:
    """The reference: aiohttp's client session, `limit` keep-alive connections."""

    def __init__(self, base: str, limit: int, as_multipart: bool) -> None:
        self.base, self.as_multipart = base, as_multipart
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit))

    async def report(self, i: int, offered: float | None = None) -> Timing:
        form_sent = now()
        async with self.session.get(f"{self.base}/") as form:
            token = TOKEN.search(await form.read()).group(1).decode()
        data = aiohttp.FormData(default_to_multipart=self.as_multipart)
        for key, value in fields(token, i).items():
            data.add_field(key, value)
        if self.as_multipart:
            data.add_field("photo", b"", filename="", content_type="application/octet-stream")
        post_sent = now()
        async with self.session.post(
            f"{self.base}/invia", data=data, allow_redirects=False,
            headers={"X-Bench-Seq": str(i)},
        ) as posted:  # fmt: skip
            assert posted.status == 303, await posted.text()
            stored = now()
            where = posted.headers["Location"]
        async with self.session.get(f"{self.base}{where}") as page:
            text = await page.read()
            number = NUMBER.search(text)
            assert page.status == 200 and number, text[:500]
        return Timing(i, form_sent if offered is None else offered, form_sent, post_sent,
                      stored, now(), number.group(1).decode(), time.time())  # fmt: skip

    async def close(self) -> None:
        await self.session.close()


class Connection:
    """One keep-alive HTTP/1.1 connection, requests written and answers read by hand."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(head.encode() + body)
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                key, _, value = line.partition(":")
                headers[key.lower()] = value.strip()
        assert "chunked" not in headers.get("transfer-encoding", ""), headers
        data = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.writer.close()
            self.reader = self.writer = None
        return status, headers, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class RawClient:
    """The lean client: a pool of `limit` hand-driven connections."""

    def __init__(self, base: str, limit: int, as_multipart: bool) -> None:
        host, port = base.removeprefix("http://").rsplit(":", 1)
        self.host = f"{host}:{port}"
        self.as_multipart = as_multipart
        self.idle: asyncio.Queue[Connection] = asyncio.Queue()
        self.all = [Connection(host, int(port)) for _ in range(limit)]
        for connection in self.all:
            self.idle.put_nowait(connection)

    async def report(self, i: int, offered: float | None = None) -> Timing:
        connection = await self.idle.get()
        try:
            return await self._report(connection, i, offered)
        finally:
            self.idle.put_nowait(connection)

    async def _report(self, connection: Connection, i: int, offered: float | None) -> Timing:
        get = "GET {} HTTP/1.1\r\nHost: " + self.host + "\r\n\r\n"
        form_sent = now()
        status, _, page = await connection.request(get.format("/"))
        token = TOKEN.search(page).group(1).decode()
        if self.as_multipart:
            body = multipart(fields(token, i))
            kind = f"multipart/form-data; boundary={BOUNDARY}"
        else:
            body, kind = urlencode(fields(token, i)).encode(), "application/x-www-form-urlencoded"
        head = (f"POST /invia HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nX-Bench-Seq: {i}\r\n\r\n")  # fmt: skip
        post_sent = now()
        status, headers, page = await connection.request(head, body)
        assert status == 303, page[:500]
        stored = now()
        status, _, page = await connection.request(get.format(headers["location"]))
        number = NUMBER.search(page)
        assert status == 200 and number, page[:500]
        return Timing(i, form_sent if offered is None else offered, form_sent, post_sent,
                      stored, now(), number.group(1).decode(), time.time())  # fmt: skip

    async def close(self) -> None:
        for connection in self.all:
            connection.close()


CLIENTS: dict[str, Callable[[str, int, bool], Client]] = {
    "aiohttp": AiohttpClient, "raw": RawClient,
}  # fmt: skip


def cpu_s(root: int) -> tuple[float, float]:
    """User+sys seconds used so far by `root` itself (all its threads) and by the processes
    under it (the forkserver, the workers)."""
    own = others = 0
    for pid in _descendants(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used = int(stat[11]) + int(stat[12])  # utime, stime
        if pid == root:
            own = used
        else:
            others += used
    tick = os.sysconf("SC_CLK_TCK")
    return own / tick, others / tick


Used = tuple[float, float, float]  # CPU seconds: the daemon's process, its workers, the clients


async def load(
    args: argparse.Namespace, base: str, daemon: int
) -> tuple[list[Timing], float, Used]:
    client = CLIENTS[args.client](base, args.clients, args.multipart)
    try:
        await client.report(args.n)  # warm: imports, first query plans
        if args.phases:
            daemon_signal(daemon, signal.SIGUSR2)
        started, (own, others), mine = now(), cpu_s(daemon), time.process_time()
        if args.rate:
            results = await offered(client, args.n, args.rate)
        else:
            results = await closed(client, args.n, args.clients)
        wall, (own_now, others_now) = now() - started, cpu_s(daemon)
        if args.phases:
            daemon_signal(daemon, signal.SIGUSR2)
        return results, wall, (own_now - own, others_now - others, time.process_time() - mine)
    finally:
        await client.close()


async def closed(client: Client, n: int, clients: int) -> list[Timing]:
    queue = list(range(n))
    results: list[Timing] = []

    async def worker() -> None:
        while queue:
            results.append(await client.report(queue.pop()))

    await asyncio.gather(*(worker() for _ in range(clients)))
    return results


async def offered(client: Client, n: int, rate: float) -> list[Timing]:
    """Report i offered at start + i/rate, whether the earlier ones are answered or not."""
    start = now() + 0.05
    tasks = []
    for i in range(n):
        due = start + i / rate
        delay = due - now()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(client.report(i, offered=due)))
    return list(await asyncio.gather(*tasks))


def daemon_signal(pid: int, signum: int) -> None:
    os.kill(pid, signum)
    time.sleep(0.2)  # its handler runs on its main thread, between two of its bytecodes


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


def spread(name: str, values: list[float], width: int = 34) -> str:
    if not values:
        return f"  {name:{width}} (none)"
    return (f"  {name:{width}} median {statistics.median(values) * 1000:6.1f} ms"
            f"  p95 {percentile(values, 95) * 1000:6.1f} ms"
            f"  max {max(values) * 1000:6.1f} ms")  # fmt: skip


def start(
    args: argparse.Namespace, config_path: Path, log: Path, trace: Path
) -> subprocess.Popen[bytes]:
    if not args.phases:
        return start_daemon(config_path, log)
    command = [sys.executable, str(ROOT / "bench" / "web_phases.py"), str(trace),
               "--config", str(config_path), "-q", "run"]  # fmt: skip
    with open(log, "ab") as stderr:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20, help="connections (closed: clients)")
    parser.add_argument("--rate", type=float, help="reports offered per second (open loop)")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="aiohttp")
    parser.add_argument("--multipart", action="store_true", help="post as a browser does")
    parser.add_argument("--phases", action="store_true", help="time the daemon phase by phase")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep-trace", type=Path, help="with --phases: keep the raw trace")
    parser.add_argument("--smtp", action="store_true", help="SMTP mail beside, at the same time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as folder:
        tmp = Path(folder)
        web, smtp = free_port(), (free_port() if args.smtp else None)
        daemon = start(args, config(tmp, web, smtp), tmp / "daemon.log", tmp / "trace.json")
        base = f"http://127.0.0.1:{web}"
        stop, sent = threading.Event(), []
        try:
            wait_up(base)
            beside = threading.Thread(target=mail_beside, args=(smtp, stop, sent), daemon=True)
            if smtp:
                beside.start()
            results, wall, cpu = asyncio.run(load(args, base, daemon.pid))
        finally:
            stop.set()
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=120)
        tickets = counts(f"sqlite:///{tmp}/tickets.db")[0]
        times = registration_times(f"sqlite:///{tmp}/tickets.db")
        trace = json.loads((tmp / "trace.json").read_text()) if args.phases else None
        if trace is not None and args.keep_trace:
            trace["client"] = [vars(r) for r in results]
            args.keep_trace.write_text(json.dumps(trace))
    figures = report(args, results, wall, cpu, times, tickets, len(sent) if smtp else None)
    if trace is not None:
        figures["phases"] = phases(results, trace)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


def report(
    args: argparse.Namespace, results: list[Timing], wall: float, cpu: Used,
    times: dict[str, tuple[float, float]], tickets: int, mailed: int | None,
) -> dict[str, Any]:  # fmt: skip
    stored = [r.stored - r.post_sent for r in results]
    answered = [r.answered - r.post_sent for r in results]
    registered = [times[r.number][1] for r in results]  # not the warm-up's
    told = [r.shown - times[r.number][0] for r in results]
    how = f"offered at {args.rate:g}/s over up to" if args.rate else "closed loop,"
    print(f"{args.n} reports, {how} {args.clients} connections, {args.client} client, "
          f"{'multipart' if args.multipart else 'urlencoded'}, keep-alive, on loopback"
          + (f"; {mailed} SMTP messages beside" if mailed is not None else "")
          + f"; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    for name, values in (("stored (POST to 303)", stored), ("answered (to the number)", answered),
                         ("registered (after stored)", registered),
                         ("told (after registered)", told)):  # fmt: skip
        print(spread(name, values, 26))
    figures: dict[str, Any] = {
        "load": os.getloadavg()[0], "rate": len(results) / wall,
        "answered_p95_ms": percentile(answered, 95) * 1000,
        "answered_median_ms": statistics.median(answered) * 1000,
    }  # fmt: skip
    if args.rate:
        late = [r.post_sent - r.offered for r in results]
        behind = sum(1 for value in late if value > LATE_S)
        slow = sum(1 for value in answered if value > TARGET_S)
        offered_to = [r.answered - r.offered for r in results]
        print(spread("offered to the number", offered_to, 26))
        print(f"  behind {behind} of {len(results)} reports posted more than "
              f"{LATE_S * 1000:.0f} ms after their offer (max {max(late) * 1000:.1f} ms); "
              f"{slow} answered more than {TARGET_S * 1000:.0f} ms after their POST")  # fmt: skip
        figures.update({"behind": behind, "over_target": slow,
                        "offered_p95_ms": percentile(offered_to, 95) * 1000})  # fmt: skip
    print(f"  rate {len(results) / wall:7.1f} reports/s answered with their number "
          f"(target >= 200/s; p95 target <= 100 ms); {tickets} tickets in the store")  # fmt: skip
    own, others, clients = (used * 1000 / len(results) for used in cpu)
    print(f"  CPU  {own + others:7.2f} ms per report (user+sys, the daemon's processes, "
          f"{sum(cpu[:2]):.1f} s in all): {own:.2f} ms the daemon's own process (one "
          f"interpreter: web server, spool, registration), {others:.2f} ms its workers; "
          f"the clients {clients:.2f} ms")  # fmt: skip
    figures.update({"cpu_ms": own + others, "cpu_own_ms": own, "cpu_workers_ms": others,
                    "cpu_client_ms": clients})  # fmt: skip
    return figures


def phases(results: list[Timing], trace: dict[str, Any]) -> dict[str, Any]:
    """Each report's time, phase by phase, from the client's and the daemon's clocks."""
    web = trace["web"]
    pk_of = {int(entry["seq"]): int(pk) for pk, entry in web.items() if entry.get("seq")}
    batch_of: dict[int, dict[str, Any]] = {}
    for batch in trace["batches"]:
        for pk in batch["ids"]:
            batch_of[pk] = batch
    heard: dict[int, float] = {}
    for at, pks in trace["heard"]:
        for pk in pks:
            heard.setdefault(pk, at)
    found: dict[int, float] = {}
    for _, ended, _, pks in trace["lookups"]:
        for pk in pks:
            found.setdefault(pk, ended)
    rows: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    for r in results:
        pk = pk_of.get(r.seq)
        if pk is None or pk not in batch_of:
            continue
        w, b = web[str(pk)], batch_of[pk]
        add("1 POST sent -> its handler", w["post_in"] - r.post_sent)
        add("2 handler: body, CSRF, form, bytes", w["store_in"] - w["post_in"])
        add("3 spool: durable (sync, commit)", w["store_out"] - w["store_in"])
        add("4 stored -> 303 in client's hands", r.stored - w["store_out"])
        add("5 stored -> read by registration", b["read"] - w["store_out"])
        add("6 read -> analysed and placed", b["register"] - b["read"])
        add("7 registered and committed", b["committed"] - b["register"])
        add("8 committed -> heard on the loop", heard.get(pk, b["committed"]) - b["committed"])
        ready = found.get(pk, heard.get(pk, b["committed"]))
        add("9 heard -> looked up", ready - heard.get(pk, b["committed"]))
        add("10 answer asked (after 303)", w["answer_in"] - r.stored)
        add("11 ticket known -> page in hand", r.answered - max(ready, w["answer_in"]))
        add("   stored -> committed (5+6+7)", b["committed"] - w["store_out"])
        add("   answered (POST to number)", r.answered - r.post_sent)
    print("  phases (per report):")
    for name, values in rows.items():
        print(spread(name, values))
    sizes = [len(b["ids"]) for b in trace["batches"]]
    out: dict[str, Any] = {name: percentile(v, 95) * 1000 for name, v in rows.items()}
    if sizes:
        print(f"  registration batches: {len(sizes)}, size median {statistics.median(sizes):g}"
              f" p95 {percentile(sizes, 95)} max {max(sizes)}")  # fmt: skip
    shares = [a for a in trace["analyses"] if a["done"]]
    if shares:
        print(
            spread("workers: batch sent -> analysed", [max(a["done"]) - a["sent"] for a in shares])
        )
    spool = trace["spool"]
    for kind in ("files", "rows"):
        done = [(e - s, n) for k, s, e, n in spool if k == kind]
        if done:
            print(
                spread(
                    f"spool {kind} batch ({len(done)}, median size "
                    f"{statistics.median(n for _, n in done):g})",
                    [d for d, _ in done],
                )
            )
    lag = [late for _, late in trace["lag"]]
    if lag:
        print(spread(f"event loop lag ({len(lag)} samples)", lag))
    collections = trace["gc"]
    if collections:
        total = sum(e - s for s, e, _, _ in collections)
        worst = max(collections, key=lambda c: c[1] - c[0])
        by_gen = {g: sum(1 for c in collections if c[2] == g) for g in (0, 1, 2)}
        print(
            f"  gc: {len(collections)} collections {by_gen}, {total * 1000:.1f} ms in all, "
            f"longest {(worst[1] - worst[0]) * 1000:.1f} ms (gen {worst[2]}, {worst[3]})"
        )
    passes = trace["outbox"]
    if passes:
        print(spread(f"outbox passes ({len(passes)})", [e - s for s, e in passes]))
    lookups = trace["lookups"]
    if lookups:
        print(f"  waiter look-ups: {len(lookups)}, "
              f"{sum(1 for *_, pks in lookups if not pks)} found nothing")  # fmt: skip
    snaps = trace["threads"]
    if len(snaps) >= 2:
        (_, before), (_, after) = snaps[0], snaps[-1]
        used = {name: after[name] - before.get(name, 0.0) for name in after}
        print("  CPU per report, by thread of the daemon's process: " + ", ".join(
            f"{name} {spent * 1000 / len(results):.2f} ms"
            for name, spent in sorted(used.items(), key=lambda kv: -kv[1]) if spent > 0
        ))  # fmt: skip
        out["threads_ms"] = {name: spent * 1000 / len(results) for name, spent in used.items()}
    return out


if __name__ == "__main__":
    main()
