"""CPU per message of the SMTP ingress alone, beside a bare aiosmtpd Sink in the same harness.

    .venv/bin/python bench/smtp_ingress_cpu.py [--n 2000] [--sessions 10] [--size 2000]

`smtp_ingress.py` runs the whole daemon, whose registration and workers run beside the
ingress and take more or less of the CPU as the machine's load stretches the run: its CPU per
message moves with the load. This one runs, in its own process, only the ingress (the
`SmtpIngress` with its spool: SQLite and the blob store in a temporary folder, each message
durable before its 250) and then, in a second child process, aiosmtpd's `Sink` behind a
`Controller`, and has Postfix's `smtp-source` send each the same messages (a new connection
per message). It prints, for each, the process's CPU time (user + system) per message over
the sending, and that of the event loop's thread alone. To compare two checkouts, run it with
`PYTHONPATH=` the other one (the Sink is the same in both). A report: it never fails on the
figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smtp_ingress import free_port, postfix_tools

CONFIG = """\
[database]
url = "sqlite:///{folder}/tickets.db"
[storage]
dir = "{folder}/store"
[[sources]]
name = "ingress"
kind = "smtp"
listen = "127.0.0.1:{port}"
hostname = "bench.example.it"
recipients = ["segnalazioni@example.it"]
"""


def thread_cpu_s(native_id: int) -> float:
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def serve(kind: str, args: argparse.Namespace) -> dict[str, float]:
    """The child's part: start the server, have smtp-source send, measure."""
    port = free_port()
    if kind == "ingress":
        from inbox_daemon.config import SmtpSource, config_from_dict
        from inbox_daemon.sources.smtp import SmtpIngress
        from inbox_daemon.spool import BlobStore, Spool
        from inbox_daemon.store.db import open_store

        folder = Path(tempfile.mkdtemp(prefix="bench-ingress-"))
        text = CONFIG.format(folder=folder, port=port)
        config = config_from_dict(tomllib.loads(text), base_dir=folder)
        source = config.sources[0]
        assert isinstance(source, SmtpSource)
        spool = Spool(open_store(config.database.url), BlobStore(folder / "store"))
        server = SmtpIngress(source, spool, lambda: None)
        stages = timed_stages(server)
        server.start()
        stop = server.stop
    else:
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Sink

        stages = {}
        controller = Controller(Sink(), hostname="127.0.0.1", port=port)
        controller.start()
        stop = controller.stop
    name = "smtp-ingress" if kind == "ingress" else ""  # the Controller's thread is the other one
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    loop_thread = next(t for t in others if not name or t.name == name)
    assert loop_thread.native_id is not None
    tools = postfix_tools()
    command = [str(tools.sbin / "smtp-source"), "-s", str(args.sessions), "-m", str(args.n),
               "-l", str(args.size), "-f", "cittadino@example.org",
               "-t", "segnalazioni@example.it", f"127.0.0.1:{port}"]  # fmt: skip
    time.sleep(0.5)
    cpu, loop_cpu, start = process_cpu_s(), thread_cpu_s(loop_thread.native_id), time.perf_counter()
    subprocess.run(command, env=tools.env(), check=True, capture_output=True)
    seconds = time.perf_counter() - start
    times = os.times()
    cpu, loop_cpu = process_cpu_s() - cpu, thread_cpu_s(loop_thread.native_id) - loop_cpu
    by_thread: dict[str, float] = {}  # the others, by name (a pool's threads together)
    for thread in threading.enumerate():
        if thread is not loop_thread and thread.native_id is not None:
            name = thread.name.rstrip("0123456789").rstrip("_-")
            by_thread[name] = by_thread.get(name, 0.0) + thread_cpu_s(thread.native_id)
    stop()
    per_message = {name: s / args.n * 1000 for name, s in by_thread.items() if s}
    return {"seconds": seconds, "cpu_ms": cpu / args.n * 1000, "loop_ms": loop_cpu / args.n * 1000,
            "system_ms": times.system / args.n * 1000, "threads": per_message,
            "stages": {name: summary(times) for name, times in stages.items()}}  # fmt: skip


def timed_stages(server: Any) -> dict[str, list[tuple[float, int]]]:
    """Wall time and size of each batch of the store's two stages (file sync, row commit), and
    each message's wait for its 250 (`GroupCommit.store`), by wrapping them."""
    stages: dict[str, list[tuple[float, int]]] = {"files": [], "rows": [], "store": []}
    commit = server.commit
    spool = commit.spool

    def wrap(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(incomings: Any, *rest: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(incomings, *rest, **kwargs)
            finally:
                stages[name].append((time.perf_counter() - start, len(incomings)))

        return timed

    spool.write_files = wrap("files", spool.write_files)
    spool.record = wrap("rows", spool.record)
    store = commit.store

    async def timed_store(incoming: Any) -> Any:
        start = time.perf_counter()
        try:
            return await store(incoming)
        finally:
            stages["store"].append((time.perf_counter() - start, 1))

    commit.store = timed_store
    return stages


def summary(times: list[tuple[float, int]]) -> dict[str, float]:
    if not times:
        return {}
    seconds = sorted(t for t, _ in times)
    return {"count": len(times), "p50_ms": seconds[len(seconds) // 2] * 1000,
            "mean_ms": sum(seconds) / len(seconds) * 1000,
            "per_batch": sum(n for _, n in times) / len(times)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="messages per server")
    parser.add_argument("--sessions", type=int, default=10, help="parallel client sessions")
    parser.add_argument("--size", type=int, default=2000, help="message size in bytes")
    parser.add_argument("--serve", choices=("ingress", "sink"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        print(json.dumps(serve(args.serve, args)))
        return
    print(f"{args.n} messages, {args.sessions} sessions, a new connection per message; "
          "CPU per message while smtp-source sent")  # fmt: skip
    results = {}
    for kind in ("ingress", "sink"):
        argv = [sys.executable, __file__, "--serve", kind, "--n", str(args.n),
                "--sessions", str(args.sessions), "--size", str(args.size)]  # fmt: skip
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
        results[kind] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[kind]
        print(f"  {kind:8} {args.n / r['seconds']:7.1f} msg/s  process cpu {r['cpu_ms']:.3f} ms"
              f"  event loop's thread {r['loop_ms']:.3f} ms")  # fmt: skip
        others = ", ".join(f"{name} {ms:.3f}" for name, ms in sorted(r["threads"].items()))
        print(f"           over the process's life (ms/msg): system {r['system_ms']:.3f}; "
              f"other threads {others or '-'}")  # fmt: skip
        for name, its in r["stages"].items():
            if its:
                print(f"           {name:5}: {its['count']:5d} x {its['per_batch']:4.1f} messages, "
                      f"p50 {its['p50_ms']:5.1f} ms, mean {its['mean_ms']:5.1f} ms")  # fmt: skip
    ratio = results["ingress"]["cpu_ms"] / results["sink"]["cpu_ms"]
    loop_ratio = results["ingress"]["loop_ms"] / results["sink"]["loop_ms"]
    print(f"  ingress / Sink cpu: process {ratio:.2f}x, event loop's thread {loop_ratio:.2f}x")


if __name__ == "__main__":
    main()
