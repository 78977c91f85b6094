"""Memory for a large message: the daemon's peak RSS, with its workers, for one 45 MB message.

    .venv/bin/python bench/large_message.py [--mb 45] [--workers N] [--runs 3] [--via smtp]

Writes one request of about `--mb` MB (a short text and two binary attachments, base64: the
shape of a scanned report with photos, under the SMTP ingress's 50 MB limit and the 30 MB
attachment limit) into a drop folder, runs `inbox-daemon run --once` on it as a child
process (`--via smtp`: runs `inbox-daemon run` with an SMTP ingress, has a child process
send the message to it with smtplib, and stops the daemon once the message is processed;
the main process's own high-water mark, VmHWM, is printed beside, since it is the one that
receives the message), and prints the peak resident memory of the daemon and its processes summed
(sampled from /proc, as `imap_throughput.py` does), the same as PSS (a page that processes
share counts once in all: the workers share what their forkserver loaded, which summed RSS
counts once per worker), the largest single process, and whether both attachments were
stored whole and byte-exact. Target: <= 250 MB. A report, not a test: tests never assert on
time or memory. The daemon starts on a fresh database each run (migrations included).

The message is made by a child process (`--write`), and checked by reading files in chunks:
this process never holds it. It must not: the child's `ru_maxrss` that `timed` reads is, for
a child started by vfork (as `subprocess` does), this process's own high-water mark, and
building a 45 MB message with `email` once took 276 MB here, reported as the daemon's peak.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import smtplib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from imap_throughput import TreeRss, timed

CONFIG = """\
[database]
url = "sqlite:///tickets.db"
[storage]
dir = "store"
[processing]
{workers}
[[sources]]
name = "drop"
kind = "folder"
path = "drop"
"""
SMTP_SOURCE = """\
[[sources]]
name = "ingress"
kind = "smtp"
listen = "127.0.0.1:{port}"
hostname = "bench.example.it"
recipients = ["segnalazioni@example.it"]
"""
TARGET_MB = 250


def large_request(mb: float) -> tuple[bytes, list[bytes]]:
    """A request of about `mb` MB and its attachments' bytes (random: incompressible)."""
    decoded = int(mb * 1024 * 1024 * 3 / 4)  # base64 adds a third
    parts = [os.urandom(decoded * 3 // 5), os.urandom(decoded - decoded * 3 // 5)]
    message = EmailMessage()
    message["From"] = "Mario Rossi <mario.rossi@example.it>"
    message["To"] = "segnalazioni@example.it"
    message["Subject"] = "Palo pericolante in via Roma, foto e verbale allegati"
    message["Message-ID"] = f"<large-{os.getpid()}@example.it>"
    message.set_content("Buongiorno, il palo IP-001234 in via Roma 12 è piegato.\nMario Rossi\n")
    message.add_attachment(parts[0], "application", "pdf", filename="verbale.pdf")
    message.add_attachment(parts[1], "image", "jpeg", filename="foto.jpg")
    return message.as_bytes(), parts


Expected = list[tuple[str, int]]  # each attachment's sha256 and size


def write_request(path: Path, mb: float) -> Expected:
    """`large_request` written to `path` by a child process (see the module's docstring)."""
    argv = [sys.executable, __file__, "--write", str(path), "--mb", str(mb)]
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    return [(sha, size) for sha, size in json.loads(done.stdout)]


def run(folder: Path, message: Path, want: Expected, workers: int | None) -> tuple[int, ...]:
    """One `run --once` on the message: peak RSS of the tree, of one process, PSS of the
    tree, in MB."""
    (folder / "drop").mkdir(parents=True)
    shutil.copyfile(message, folder / "drop" / "large.eml")
    setting = "" if workers is None else f"workers = {workers}"
    config = folder / "config.toml"
    config.write_text(CONFIG.format(workers=setting))
    argv = [sys.executable, "-m", "inbox_daemon.cli", "--config", str(config), "-q", "run"]
    peaks = timed([*argv, "--once"], tree=True)[1:]
    check_stored(folder, want)
    return peaks


def run_smtp(folder: Path, message: Path, want: Expected, workers: int | None) -> tuple[int, ...]:
    """`inbox-daemon run` with an SMTP ingress; a child process sends the message. Peak RSS
    of the tree, of one process, PSS of the tree, and the main process's VmHWM, in MB."""
    (folder / "drop").mkdir(parents=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    setting = "" if workers is None else f"workers = {workers}"
    config = folder / "config.toml"
    config.write_text(CONFIG.format(workers=setting) + SMTP_SOURCE.format(port=port))
    argv = [sys.executable, "-m", "inbox_daemon.cli", "--config", str(config), "-q", "run"]
    daemon = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = TreeRss(daemon.pid, every_s=0.05)
    peak.start()
    try:
        wait_for_greeting(port, daemon)
        send = [sys.executable, __file__, "--send", str(message), "--port", str(port)]
        subprocess.run(send, check=True)
        wait_processed(folder / "tickets.db", daemon)
        main_hwm = _hwm_kb(daemon.pid)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(120)
        peak.stop()
    check_stored(folder, want)
    return peak.kb // 1024, peak.one // 1024, peak.pss_kb // 1024, main_hwm // 1024


def wait_for_greeting(port: int, daemon: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            sys.exit(f"the daemon exited with {daemon.returncode} before answering")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if sock.recv(512).startswith(b"220"):
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"nothing answered on port {port} within {seconds:.0f} s")


def wait_processed(db: Path, daemon: subprocess.Popen[bytes], seconds: float = 600) -> None:
    """Until the one message is past `received` (parsed, its attachments stored)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            sys.exit(f"the daemon exited with {daemon.returncode}")
        with sqlite3.connect(db) as conn:
            done = conn.execute("select count(*) from message where status != 'received'")
            if done.fetchone()[0] >= 1:
                return
        time.sleep(0.2)
    sys.exit(f"the message was not processed within {seconds:.0f} s")


def _hwm_kb(pid: int) -> int:
    """The process's own peak resident memory (VmHWM): sampling could miss a short peak."""
    status = Path(f"/proc/{pid}/status").read_text()
    line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), "0 0")
    return int(line.split()[1])


def send_message(path: Path, port: int) -> None:
    """The `--send` child's part: one SMTP transaction, as an MTA would deliver it (lines
    ended by CRLF: smtplib sends bytes as they are)."""
    raw = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=600) as client:
        client.sendmail("mario.rossi@example.it", ["segnalazioni@example.it"], raw)


def check_stored(folder: Path, want: Expected) -> None:
    with sqlite3.connect(folder / "tickets.db") as conn:
        rows = conn.execute("select sha256, size from attachment order by `index`").fetchall()
    if rows != want:
        sys.exit(f"attachments not stored whole: {rows} != {want}")
    for sha, _ in rows:
        stored = folder / "store" / "attachments" / sha[:2] / sha
        with stored.open("rb") as handle:
            if hashlib.file_digest(handle, "sha256").hexdigest() != sha:
                sys.exit(f"attachment {sha} differs from what was sent")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=45, help="message size (default 45)")
    parser.add_argument("--workers", type=int, help="[processing] workers (default: per core)")
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--via", choices=("folder", "smtp"), default="folder",
                        help="how the message arrives (default: the drop folder)")  # fmt: skip
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # the child's part
    parser.add_argument("--send", type=Path, help=argparse.SUPPRESS)  # the child's part
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send:
        send_message(args.send, args.port)
        return
    if args.write:
        raw, parts = large_request(args.mb)
        args.write.write_bytes(raw)
        print(json.dumps([(hashlib.sha256(part).hexdigest(), len(part)) for part in parts]))
        return
    work = Path(tempfile.mkdtemp(prefix="inbox-bench-large-"))
    try:
        message = work / "large.eml"
        want = write_request(message, args.mb)
        size = message.stat().st_size
        how = run_smtp if args.via == "smtp" else run
        runs = [how(work / str(i), message, want, args.workers) for i in range(args.runs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    peaks, singles, pss, *hwm = zip(*runs, strict=True)
    workers = "per core" if args.workers is None else args.workers
    print(f"one message of {size / 2**20:.1f} MB via the {args.via}, attachments stored "
          "byte-exact")  # fmt: skip
    print(f"  workers: {workers}, median of {len(peaks)} run(s)")
    print(f"  daemon peak RSS, with its processes: {statistics.median(peaks):5.0f} MB "
          f"({min(peaks)}-{max(peaks)}; target <= {TARGET_MB} MB)")  # fmt: skip
    print(f"  the same as PSS (shared pages shared out): {statistics.median(pss):5.0f} MB")
    print(f"  largest single process:              {statistics.median(singles):5.0f} MB")
    if hwm:
        print(f"  main process's own peak (VmHWM):     {statistics.median(hwm[0]):5.0f} MB "
              f"({min(hwm[0])}-{max(hwm[0])})")  # fmt: skip


if __name__ == "__main__":
    main()
