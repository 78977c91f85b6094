"""SMTP ingress throughput: the daemon against a bare aiosmtpd Sink and Postfix's smtp-sink.

    .venv/bin/python bench/smtp_ingress.py [--n 3000] [--sessions 10] [--size 2000] [--runs 3]

Each contender listens on loopback as a child process; Postfix's `smtp-source` (a C client,
so that the client is never what is measured) sends N messages with `--sessions` parallel
sessions and a new connection per message, as MTAs do. Contenders:

  smtp-sink      Postfix's sink: accepts and discards (the practical ceiling)
  aiosmtpd Sink  `python -m aiosmtpd -c aiosmtpd.handlers.Sink`: the library, discarding
  daemon         `inbox-daemon run`: each message durable (file synced, row committed) before
                 its 250, while the pipeline makes tickets of them beside it (registration
                 waits while the ingress is pressed, up to 1 s a batch: `daemon.py`)

The three run in turn, `--runs` times, with the page cache's pending writes flushed before
each; it prints the median rate of each (smtp-source's time, from its first connection to
its last 250), the CPU time each server used per message (user + system over its life, the
daemon's worker processes included), how long after the last 250 the daemon's pipeline had
processed every message (it works beside the ingress, which goes first), the daemon /
aiosmtpd ratio of the medians (target >= 0.5), and checks that the daemon stored every
message it was sent. For the daemon it also prints the CPU time of its own process while
smtp-source sent, per message, and the part of it spent by the main thread (registration),
which shares the interpreter with the ingress's event loop, beside the Sink's process's CPU
per message over the same span (a figure the machine's load moves far less than the rates:
it is the one to compare on a busy machine). A report: it never fails on the figures.
`--profile FILE` writes py-spy's samples (`--gil`: whichever thread holds the interpreter)
of the daemon, and of the Sink beside it, while smtp-source sends.

`smtp-source` and `smtp-sink` come from Debian's `postfix` package. Installing that package
would start an MTA on port 25, so when they are not on the PATH the script fetches the
package with `apt-get download` and unpacks only those two programs (and their libraries)
into `.venv/postfix-tools/`; nothing is installed on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / ".venv" / "postfix-tools"  # beside the packages, ignored by git

CONFIG = """\
[database]
url = "sqlite:///tickets.db"
[storage]
dir = "store"
[acknowledgements]
enabled = false
[[sources]]
name = "ingress"
kind = "smtp"
listen = "127.0.0.1:{port}"
hostname = "bench.example.it"
recipients = ["segnalazioni@example.it"]
"""


NAMES = ("postfix smtp-sink", "aiosmtpd Sink", "daemon (durable before 250, pipeline on)")


@dataclass(frozen=True)
class Postfix:
    """smtp-source and smtp-sink, with the folder of their shared libraries when unpacked."""

    sbin: Path
    libs: Path | None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.libs is not None:
            env["LD_LIBRARY_PATH"] = str(self.libs)
        return env


def postfix_tools() -> Postfix:
    for folder in (Path("/usr/sbin"), *map(Path, os.environ["PATH"].split(os.pathsep))):
        if (folder / "smtp-source").exists() and (folder / "smtp-sink").exists():
            return Postfix(folder, None)
    unpacked = Postfix(TOOLS / "usr" / "sbin", TOOLS / "usr" / "lib" / "postfix")
    if not (unpacked.sbin / "smtp-source").exists():
        print("fetching Debian's postfix package for smtp-source and smtp-sink (not installed)")
        download = Path(tempfile.mkdtemp(prefix="postfix-deb-"))
        subprocess.run(["apt-get", "download", "postfix"], cwd=download, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        deb = next(download.glob("postfix_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(TOOLS)], check=True)
        shutil.rmtree(download)
    return unpacked


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_greeting(port: int, child: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"the server exited with {child.returncode} before answering")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if sock.recv(512).startswith(b"220"):
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answered on port {port} within {seconds:.0f} s")


def send(tools: Postfix, port: int, args: argparse.Namespace) -> float:
    """Seconds for smtp-source to deliver `args.n` messages, one connection each."""
    command = [str(tools.sbin / "smtp-source"), "-s", str(args.sessions), "-m", str(args.n),
               "-l", str(args.size), "-f", "cittadino@example.org",
               "-t", "segnalazioni@example.it", f"127.0.0.1:{port}"]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, env=tools.env(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or done.stderr.strip():
        print(f"  smtp-source: {done.stderr.strip()[:500]}")
    return seconds


@dataclass
class Run:
    seconds: float  # smtp-source's time: from the first connection to the last 250
    cpu_s: float  # the server's user + system time over its life, its worker processes included
    catch_up_s: float = 0.0  # daemon: after the last 250, until every message was processed
    sending_cpu_s: float = 0.0  # the server process's own CPU while smtp-source sent
    main_thread_s: float = 0.0  # of which its main thread's (the daemon's registration)


def timed_server(argv: list[str], port: int, tools: Postfix, args: argparse.Namespace,
                 cwd: Path | None = None, after: Callable[[], float] | None = None,
                 profile: Path | None = None) -> Run:  # fmt: skip
    server = subprocess.Popen(argv, cwd=cwd, env=tools.env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    run = Run(0.0, 0.0)
    try:
        wait_for_greeting(port, server)
        os.sync()  # no contender pays for the last one's writes
        spy = None if profile is None else start_profile(server.pid, profile)
        started = cpu_times(server.pid)
        run.seconds = send(tools, port, args)
        sent = cpu_times(server.pid)
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
            spy.wait()
        run.sending_cpu_s, run.main_thread_s = (b - a for a, b in zip(started, sent, strict=True))
        if after is not None:
            run.catch_up_s = after()
    finally:
        server.terminate()
        try:  # wait4: the server's own rusage, with that of the children it waited for
            _, _, usage = os.wait4(server.pid, 0)
            run.cpu_s = usage.ru_utime + usage.ru_stime
        except ChildProcessError:
            pass
    return run


def start_profile(pid: int, path: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid`'s threads while they hold the interpreter (`--gil`), as
    collapsed stacks (`--format raw`): where the daemon's CPU goes while smtp-source sends."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    argv = [py_spy, "record", "--pid", str(pid), "--gil", "--threads", "--rate", "250",
            "--format", "raw", "--output", str(path)]  # fmt: skip
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached before the first message
    return spy


def cpu_times(pid: int) -> tuple[float, float]:
    """User + system seconds of process `pid` (all its threads) and of its main thread."""

    def seconds(stat: str) -> float:
        fields = Path(stat).read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    try:
        return seconds(f"/proc/{pid}/stat"), seconds(f"/proc/{pid}/task/{pid}/stat")
    except OSError:  # not Linux
        return 0.0, 0.0


def run_smtp_sink(tools: Postfix, args: argparse.Namespace) -> Run:
    port = free_port()
    argv = [str(tools.sbin / "smtp-sink"), "-u", "nobody", f"127.0.0.1:{port}", "1000"]
    if os.geteuid() != 0:
        argv[1:3] = []
    return timed_server(argv, port, tools, args)


def run_aiosmtpd(tools: Postfix, args: argparse.Namespace) -> Run:
    port = free_port()
    argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
            "-c", "aiosmtpd.handlers.Sink"]  # fmt: skip
    profile = None if args.profile is None else args.profile.with_suffix(".sink.txt")
    return timed_server(argv, port, tools, args, profile=profile)


def run_daemon(tools: Postfix, args: argparse.Namespace, work: Path) -> tuple[Run, int]:
    port = free_port()
    (work / "config.toml").write_text(CONFIG.format(port=port))
    argv = [sys.executable, "-m", "inbox_daemon.cli", "--config", "config.toml", "-q", "run"]
    run = timed_server(argv, port, tools, args, cwd=work, after=lambda: catch_up(work, args.n),
                       profile=args.profile)  # fmt: skip
    with sqlite3.connect(work / "tickets.db") as db:
        stored = db.execute("SELECT count(*) FROM message").fetchone()[0]
    return run, stored


def catch_up(work: Path, n: int, limit_s: float = 600) -> float:
    """Seconds until the pipeline has processed all `n` messages (it works beside the ingress,
    which goes first: the ingress figure alone would hide a pipeline left behind)."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit_s:
        with sqlite3.connect(work / "tickets.db") as db:
            done = db.execute("SELECT count(*) FROM message WHERE status != 'received'")
            if done.fetchone()[0] >= n:
                break
        time.sleep(0.2)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="messages per contender and run")
    parser.add_argument("--sessions", type=int, default=10, help="parallel client sessions")
    parser.add_argument("--size", type=int, default=2000, help="message size in bytes")
    parser.add_argument("--runs", type=int, default=3, help="rounds of the three, in turn")
    parser.add_argument("--profile", type=Path, help="py-spy's collapsed stacks of the daemon "
                        "while smtp-source sends (the last run's), into this file; the Sink's "
                        "beside it (NAME.sink.txt)")  # fmt: skip
    args = parser.parse_args()
    tools = postfix_tools()
    runs: dict[str, list[Run]] = {name: [] for name in NAMES}
    short: list[str] = []
    for _ in range(args.runs):  # in turn, so that a busy moment of the machine hits all three
        runs[NAMES[0]].append(run_smtp_sink(tools, args))
        runs[NAMES[1]].append(run_aiosmtpd(tools, args))
        with tempfile.TemporaryDirectory(prefix="bench-smtp-") as work:
            run, stored = run_daemon(tools, args, Path(work))
        runs[NAMES[2]].append(run)
        if stored != args.n:
            short.append(f"the daemon stored {stored} of {args.n} messages")
    report(args, runs)
    for line in short:
        print(f"  WARNING: {line}")


def report(args: argparse.Namespace, runs: dict[str, list[Run]]) -> None:
    print(f"{args.n} messages, {args.sessions} sessions, a new connection per message, "
          f"median of {args.runs} run(s); cpu: the server's user+sys per message")  # fmt: skip
    rates = {}
    for name, its in runs.items():
        seconds = [run.seconds for run in its]
        median = statistics.median(seconds)
        rates[name] = args.n / median
        cpu_ms = statistics.median(run.cpu_s for run in its) / args.n * 1000
        spread = f"({min(seconds):.2f}-{max(seconds):.2f} s)"
        print(f"  {name:40} {median:6.2f} s {rates[name]:8.1f} msg/s  {spread}  "
              f"cpu {cpu_ms:.2f} ms")  # fmt: skip
    daemon = runs[NAMES[2]]
    sending = statistics.median(run.sending_cpu_s for run in daemon) / args.n * 1000
    main = statistics.median(run.main_thread_s for run in daemon) / args.n * 1000
    print(f"  daemon's own process while smtp-source sent: cpu {sending:.2f} ms per message, "
          f"{main:.2f} ms of it registration's (main thread)")  # fmt: skip
    sink = statistics.median(run.sending_cpu_s for run in runs[NAMES[1]]) / args.n * 1000
    pairs = zip(daemon, runs[NAMES[1]], strict=True)
    cpu_ratios = [d.sending_cpu_s / s.sending_cpu_s for d, s in pairs if s.sending_cpu_s]
    cpu_ratio = f"{statistics.median(cpu_ratios):.2f}x" if cpu_ratios else "?"
    print(f"  aiosmtpd Sink's process while smtp-source sent: cpu {sink:.2f} ms per message; "
          f"daemon / Sink, run by run: {cpu_ratio} (median)")  # fmt: skip
    catch_up = statistics.median(run.catch_up_s for run in daemon)
    print(f"  daemon: every message processed {catch_up:.2f} s after the last 250 (median)")
    ratio = rates[NAMES[2]] / rates[NAMES[1]]
    print(f"  daemon / aiosmtpd Sink rate ratio: {ratio:.2f}x (target >= 0.5x)")


if __name__ == "__main__":
    main()
