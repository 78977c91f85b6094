"""IMAP throughput: the daemon's full pipeline against getmail6 and mbsync, on one mailbox.

    .venv/bin/python bench/imap_throughput.py [--n 2000] [--runs 3] [--batch-size 50]
                                              [--profile FILE] [--daemon-only] [--ab DIR]
                                              [--breakdown]

Starts a throwaway Dovecot on loopback (tests/integration/dovecot.py), APPENDs N generated
Italian requests to one mailbox, then times, as child processes on that same mailbox:

  getmail6   retrieve only: every message into a maildir (delete = false, read_all = true)
  mbsync     isync's one-way pull into a maildir (fsync on): only moves the bytes, the
             practical ceiling of any IMAP client on this machine
  daemon     `inbox-daemon run --once` with `after = keep`: fetch, spool (fsync + commit),
             parse, classify (in worker processes), write the tickets, each batch committed
  spool      the daemon's IMAP source alone (fetch + spool, no pipeline), in this process,
             to tell fetching cost from processing cost

each `--runs` times, in turn, each run into a fresh folder, with the page cache's pending
writes flushed before each (so that no contender pays for the last one's writes). It prints
the median seconds and messages per second of each (and the range over the runs), the
daemon's rate against getmail6's and mbsync's (ratios of the medians) and the daemon's highest
peak RSS (sampled from /proc: the daemon and its worker processes, summed). Targets: daemon
>= 5x getmail6 and >= 0.5x mbsync, peak RSS <= 250 MB. `--profile FILE` runs the daemon under
cProfile (view with `python -m pstats FILE`; it profiles the main process's main thread only,
in that thread's CPU time: a wait for the workers or for a busy machine counts as nothing).
The daemon's CPU time (user + system, its worker processes and forkserver included) is printed
too: on a shared machine it says more than the wall clock. `--daemon-only` leaves getmail6,
mbsync and the spool-only run out; `--ab DIR` runs, in turn with this checkout's daemon, the
daemon of another checkout (say `git worktree add /tmp/old main`) on the same mailbox: an A/B.
`--breakdown` runs the daemon under bench/cpu_breakdown.py and prints, per message, its CPU
by process (sampled from /proc), by thread and phase of the main process, its garbage
collector's, and its SQL statements by thread and kind: figures that a busy machine barely
moves, unlike the wall clock.
Needs `dovecot-imapd`, `getmail6` and `isync` (scripts/setup.sh test installs them).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from integration.dovecot import PASSWORD, Dovecot, running_dovecot  # noqa: E402
from integration.mailgen import italian_requests  # noqa: E402

CONFIG = """\
[database]
url = "sqlite:///tickets.db"
[storage]
dir = "store"
[[sources]]
name = "posta"
kind = "imap"
host = "127.0.0.1"
port = {port}
tls = "none"
username = "{user}"
password_env = "BENCH_IMAP_PASSWORD"
after = "keep"
idle = false
batch_size = {batch_size}
"""

GETMAILRC = """\
[retriever]
type = SimpleIMAPRetriever
server = 127.0.0.1
port = {port}
username = {user}
password = {password}
mailboxes = ("INBOX",)
timeout = 10

[destination]
type = Maildir
path = {maildir}/

[options]
read_all = true
delete = false
verbose = 0
"""

MBSYNCRC = """\
IMAPAccount bench
Host 127.0.0.1
Port {port}
User {user}
Pass {password}
SSLType None
AuthMechs LOGIN

IMAPStore far
Account bench

MaildirStore near
Path {maildir}/
Inbox {maildir}/INBOX

Channel bench
Far :far:
Near :near:
Patterns INBOX
Create Near
Sync Pull
SyncState *
"""

GETMAIL_ATTEMPTS = 4
TARGETS = {"getmail": 5.0, "mbsync": 0.5}  # the daemon's rate against each, at least


def timed(
    argv: list[str], env: dict[str, str] | None = None, tree: bool = False, cwd: Path | None = None
) -> tuple[float, int, int, int]:
    """Run a child to completion: (seconds, peak RSS in MB; with `tree`, of the child and the
    processes it starts, summed: the daemon's parsing workers count; the largest peak of one
    of them; and the peak of their PSS, summed). Fails loudly if it fails. The CPU time of
    the child and of all its descendants is added to `CPU_SECONDS[-1]`.
    """
    with tempfile.TemporaryFile() as err:  # a pipe left unread would block a chatty child
        before = _children_cpu()
        start = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd)
        peak = TreeRss(child.pid)
        if tree:
            peak.start()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        if tree:
            peak.stop()
        _reap_orphans()
        CPU_SECONDS.append(_children_cpu() - before)
        if tree:
            roles = peak.cpu_by_role()
            roles["main process"] = usage.ru_utime + usage.ru_stime  # exact, from wait4
            ROLE_CPU.append(roles)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            message = err.read().decode(errors="replace")[-3000:]
            raise SystemExit(f"{argv[0]} failed ({child.returncode}):\n{message}")
    # ru_maxrss counts what the child had between fork and exec: this process's size
    peaks = (max(usage.ru_maxrss, peak.kb), peak.one or usage.ru_maxrss, peak.pss_kb)
    return seconds, *(kb // 1024 for kb in peaks)


CPU_SECONDS: list[float] = []  # user + system of each child run by `timed`, descendants included
ROLE_CPU: list[dict[str, float]] = []  # ... of each `tree` child, by process role


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _become_subreaper() -> None:
    """Processes orphaned by a child (the daemon's forkserver, once the daemon exits) are
    re-parented to this one, so that waiting for them counts their CPU time (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _reap_orphans(within_s: float = 5.0) -> None:
    """Wait for the descendants left behind (a forkserver exits once its parent has gone)."""
    until = time.monotonic() + within_s
    while time.monotonic() < until:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


class TreeRss(threading.Thread):
    """Samples the resident memory of a process and its descendants, summed (Linux /proc);
    wait4's ru_maxrss gives only the largest single process. Sampling reads every process's
    /proc entry: rarely enough to take little of the CPU being measured."""

    def __init__(self, pid: int, every_s: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s, self.kb, self.one, self.pss_kb = pid, every_s, 0, 0, 0
        self.cpu: dict[int, tuple[str, float]] = {}  # pid -> (role, CPU seconds last seen)
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.every_s):
            pids = _descendants(self.pid)
            sizes = [_rss_kb(pid) for pid in pids]
            self.kb, self.one = max(self.kb, sum(sizes)), max(self.one, *sizes)
            self.pss_kb = max(self.pss_kb, sum(_pss_kb(pid) for pid in pids))
            for pid in pids:
                seconds = _cpu_s(pid)
                if seconds is not None:
                    self.cpu[pid] = (_role(pid, self.pid), seconds)

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds of the descendants by role (the forkserver, the workers…), as last
        sampled: a process's last tenth of a second before it exits is not counted."""
        roles: dict[str, float] = {}
        for role, seconds in self.cpu.values():
            roles[role] = roles.get(role, 0.0) + seconds
        return roles

    def stop(self) -> None:
        self._done.set()
        self.join()


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    PARENTS.clear()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        PARENTS[int(entry.name)] = ppid
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


TICK_S = 1 / os.sysconf("SC_CLK_TCK")
PARENTS: dict[int, int] = {}  # pid -> parent pid, as `_descendants` last read them


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of one process (its own, not its children's)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) * TICK_S


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "main process"
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "other"
    if b"resource_tracker" in cmdline:
        return "resource_tracker"
    if b"forkserver" in cmdline and PARENTS.get(pid) in (root, os.getpid()):
        return "forkserver"  # the workers it forks share its command line
    return "workers"


def _pss_kb(pid: int) -> int:
    """Proportional set size: a page shared by n processes counts 1/n in each. Summed RSS
    counts it n times, as it does the forkserver's imports in every worker it forks."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    line = next((line for line in rollup.splitlines() if line.startswith("Pss:")), "0 0")
    return int(line.split()[1])


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), "0 0")
    return int(line.split()[1])


def run_getmail(server: Dovecot, user: str, work: Path) -> float | None:
    """getmail6 as its users run it; as root it refuses to deliver, so then as `nobody`.
    None when it failed every attempt (the report then says so and uses the other runs)."""
    getmail = shutil.which("getmail") or sys.exit("getmail6 missing: apt-get install getmail6")
    home = work / "getmail"
    maildir = home / "maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    rc = home / "getmailrc"
    rc.write_text(GETMAILRC.format(port=server.port, user=user, password=PASSWORD, maildir=maildir))
    argv = [getmail, "--rcfile", str(rc), "--getmaildir", str(home)]
    if os.geteuid() == 0:
        for folder in (work.parent, work):
            os.chmod(folder, 0o755)
        for path in [home, *home.rglob("*")]:
            os.chown(path, 65534, 65534)
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    # getmail6 loses a SIGCHLD now and then on a busy machine ("waiting child pid … timed
    # out": the child exits before getmail waits for it) and gives up after `timeout`: short,
    # so that a lost wake-up costs seconds, and tried again from an empty maildir.
    for _ in range(GETMAIL_ATTEMPTS):
        try:
            seconds, *_ = timed(argv)
        except SystemExit as failure:
            print(f"getmail6 failed: {failure}", file=sys.stderr)
            for old in (maildir / "new").iterdir():
                old.unlink()
            continue
        got = len(list((maildir / "new").iterdir()))
        return seconds if got else sys.exit("getmail retrieved nothing")
    return None


def run_mbsync(server: Dovecot, user: str, work: Path) -> float:
    """mbsync pulling the folder into an empty maildir, with its default durability (fsync)."""
    mbsync = shutil.which("mbsync") or sys.exit("mbsync missing: apt-get install isync")
    maildir = work / "maildir"
    maildir.mkdir(parents=True)
    rc = work / "mbsyncrc"
    rc.write_text(MBSYNCRC.format(port=server.port, user=user, password=PASSWORD, maildir=maildir))
    seconds, *_ = timed([mbsync, "--config", str(rc), "--quiet", "bench"])
    got = len(list((maildir / "INBOX").glob("*/*")))
    return seconds if got else sys.exit("mbsync retrieved nothing")


# cProfile on the main thread's CPU clock; the daemon's arguments follow "-m inbox_daemon.cli"
PROFILED = """import cProfile, runpy, sys, time
sys.argv = sys.argv[2:]
profile = cProfile.Profile(time.thread_time)
profile.enable()
try:
    runpy.run_module("inbox_daemon.cli", run_name="__main__", alter_sys=True)
finally:
    profile.disable()
    profile.dump_stats({out!r})
"""


def run_daemon(
    config: Path, profile: Path | None, code: Path = REPO, breakdown: Path | None = None
) -> tuple[float, int, int]:
    """`run --once` of the daemon in checkout `code` (its packages first on the path); with
    `breakdown`, under bench/cpu_breakdown.py, which writes its CPU by thread there."""
    # Measure the daemon as deployed: an installed package runs from compiled bytecode, so
    # compile it once here and let the child use it, whatever this shell's environment says.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["BENCH_IMAP_PASSWORD"] = PASSWORD
    env["PYTHONPATH"] = str(code)
    packages = [str(code / name) for name in ("inbox_daemon", "parsers", "rules", "ocr")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True)
    python = [sys.executable]
    if profile:
        python = [sys.executable, "-c", PROFILED.format(out=str(profile))]
    elif breakdown:
        python = [sys.executable, str(REPO / "bench" / "cpu_breakdown.py"), str(breakdown)]
    argv = [*python, "-m", "inbox_daemon.cli", "--config", str(config), "-q", "run", "--once"]
    seconds, rss, _, pss = timed(argv, env, tree=True, cwd=code)
    return seconds, rss, pss


def run_spool_only(config: Path) -> float:
    os.environ["BENCH_IMAP_PASSWORD"] = PASSWORD
    from inbox_daemon.config import ImapSource as ImapConfig
    from inbox_daemon.config import load_config
    from inbox_daemon.sources.imap import ImapSource
    from inbox_daemon.spool import BlobStore, Spool
    from inbox_daemon.store.db import open_store

    cfg = load_config(config)
    engine = open_store(cfg.database.url)
    source_cfg = cfg.source("posta")
    assert isinstance(source_cfg, ImapConfig)
    source = ImapSource(source_cfg)
    start = time.perf_counter()
    source.poll(Spool(engine, BlobStore(cfg.storage.dir)))
    source.close()
    return time.perf_counter() - start


def tickets(config: Path) -> int:
    with sqlite3.connect(config.parent / "tickets.db") as conn:
        return int(conn.execute("select count(*) from ticket").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="messages (default 2000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each contender (default 3)")
    parser.add_argument("--batch-size", type=int, default=50, help="the source's batch_size")
    parser.add_argument("--profile", type=Path, help="write the daemon's cProfile stats here")
    parser.add_argument("--daemon-only", action="store_true", help="no getmail6, mbsync, spool")
    parser.add_argument("--ab", type=Path, help="another checkout's daemon, run in turn with this")
    parser.add_argument(
        "--breakdown", action="store_true", help="the daemon's CPU by process, thread and phase"
    )
    args = parser.parse_args()

    _become_subreaper()
    work = Path(tempfile.mkdtemp(prefix="inbox-bench-"))
    names = ["daemon"] if args.daemon_only else ["getmail", "mbsync", "daemon", "spool"]
    if args.ab:
        names.insert(names.index("daemon"), "other")
    seconds: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {"daemon": [], "other": []}
    breakdowns: dict[str, list[dict[str, Any]]] = {"daemon": [], "other": []}
    peak_rss = peak_pss = 0
    try:
        with running_dovecot() as server:
            user = "bench"
            print(f"appending {args.n} messages…", file=sys.stderr)
            server.append(user, italian_requests(args.n))
            server.flags(user)  # one full pass, so that no contender reads a cold index
            for run in range(args.runs):
                print(f"run {run + 1} of {args.runs}…", file=sys.stderr)
                order = names if run % 2 == 0 else _swapped(names)  # A/B, then B/A
                for name in order:
                    folder = work / f"{name}-{run}"
                    os.sync()
                    if name == "getmail":
                        getmail = run_getmail(server, user, folder)
                        seconds["getmail"].extend([getmail] if getmail is not None else [])
                        continue
                    if name == "mbsync":
                        seconds["mbsync"].append(run_mbsync(server, user, folder))
                        continue
                    config = daemon_config(server, user, folder, args.batch_size)
                    if name == "spool":
                        seconds[name].append(run_spool_only(config))
                        continue
                    code = args.ab.resolve() if name == "other" else REPO
                    into = folder / "breakdown.json" if args.breakdown else None
                    elapsed, rss, pss = run_daemon(config, args.profile, code, into)
                    cpu[name].append(CPU_SECONDS[-1])
                    if into is not None:
                        found = json.loads(into.read_text())
                        breakdowns[name].append({**found, "processes": ROLE_CPU[-1]})
                    made = tickets(config)
                    if made != args.n:
                        sys.exit(f"the daemon made {made} tickets for {args.n} messages")
                    seconds[name].append(elapsed)
                    if name == "daemon":
                        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(args, seconds, cpu, peak_rss, peak_pss)
    for name in ("other", "daemon"):
        if breakdowns[name]:
            report_breakdown(name, args.n, cpu[name], breakdowns[name])


def _swapped(names: list[str]) -> list[str]:
    """The order with the two daemons swapped: neither always runs first."""
    if "other" not in names:
        return names
    a, b = names.index("other"), names.index("daemon")
    swapped = list(names)
    swapped[a], swapped[b] = swapped[b], swapped[a]
    return swapped


def daemon_config(server: Dovecot, user: str, folder: Path, batch_size: int) -> Path:
    folder.mkdir(parents=True)
    config = folder / "config.toml"
    config.write_text(CONFIG.format(port=server.port, user=user, batch_size=batch_size))
    return config


def report(
    args: argparse.Namespace,
    seconds: dict[str, list[float]],
    cpu: dict[str, list[float]],
    peak_rss: int,
    peak_pss: int,
) -> None:
    n = args.n
    labels = {
        "getmail": "getmail6 (retrieve only)",
        "mbsync": "mbsync (retrieve only, the ceiling)",
        "other": f"daemon of {args.ab} (--ab)",
        "daemon": "daemon run --once (full pipeline)",
        "spool": "daemon IMAP source only (fetch + spool)",
    }
    print(f"{n} messages, batch_size {args.batch_size}, median of {args.runs} run(s)")
    for name, runs in seconds.items():
        label = labels[name]
        if not runs:
            print(f"  {label:<42} failed in every run")
            continue
        middle = statistics.median(runs)
        spread = f"  ({min(runs):.2f}-{max(runs):.2f} s)" if len(runs) > 1 else ""
        print(f"  {label:<42} {middle:7.2f} s  {n / middle:8.1f} msg/s{spread}")
    for name in ("other", "daemon"):
        if cpu[name]:
            runs = cpu[name]
            spread = f"  ({min(runs):.2f}-{max(runs):.2f} s)"
            label = f"CPU user+sys of the {name}, workers too"
            print(f"  {label:<42} {statistics.median(runs):7.2f} s{spread}")
    daemon = statistics.median(seconds["daemon"])
    for name, label in (("getmail", "getmail6"), ("mbsync", "mbsync")):
        if name not in seconds:
            continue
        if len(seconds[name]) < args.runs:
            print(f"  ({label}: {args.runs - len(seconds[name])} run(s) failed, left out)")
        if not seconds[name]:
            continue
        ratio = statistics.median(seconds[name]) / daemon
        print(f"  daemon / {label} rate ratio: {ratio:.2f}x (target >= {TARGETS[name]:g}x)")
    print(f"  daemon peak RSS, with its worker processes: {peak_rss} MB (target <= 250 MB)")
    print(f"  the same as PSS (pages the processes share counted once): {peak_pss} MB")


def report_breakdown(name: str, n: int, cpu: list[float], runs: list[dict[str, Any]]) -> None:
    """Medians over the runs, in ms of CPU per message: by process, by thread of the main
    process, by phase of each thread (`bench/cpu_breakdown.py`); and SQL statements per run."""

    def line(label: str, values: list[float]) -> None:
        per = sorted(1000 * v / n for v in values)
        spread = f"  ({per[0]:.3f}-{per[-1]:.3f})" if len(per) > 1 else ""
        print(f"    {label:<40} {statistics.median(per):7.3f} ms/msg{spread}")

    def each(key: Callable[[dict[str, Any]], float]) -> list[float]:
        return [key(run) for run in runs]

    print(f"  CPU of the {name}, by process, thread and phase (median of {len(runs)}):")
    line("all processes", cpu)
    for role in sorted({r for run in runs for r in run["processes"]}):
        line(f"process: {role}", each(lambda run, r=role: run["processes"].get(r, 0.0)))
    line("main process until its exit began", each(lambda run: run["process"]))
    line("main thread: imports", each(lambda run: run["imported"]))
    line("main thread: start-up (before run_once)", each(lambda run: run["startup"] or 0.0))
    line("main process: garbage collector", each(lambda run: sum(run["gc"].values())))
    for generation in sorted({g for run in runs for g in run["gc"]}):
        line(f"  {generation}", each(lambda run, g=generation: run["gc"].get(g, 0.0)))
    before = each(lambda run: sum(run.get("gc_before_run", {}).values()))
    line("  of which before run_once", before)
    for thread in sorted({t for run in runs for t in run["threads"]}):
        line(f"thread: {thread}", each(lambda run, t=thread: run["threads"].get(t, 0.0)))
        labels = sorted({p for run in runs for p in run["phases"].get(thread, {})})
        for phase in labels:
            line(f"  {phase}", each(lambda run, t=thread, p=phase: run["phases"][t].get(p, 0.0)))
    counts: dict[str, list[int]] = {}
    for run in runs:
        for thread, kinds in run["statements"].items():
            for kind, count in kinds.items():
                counts.setdefault(f"{thread}: {kind}", []).append(count)
    totals = [sum(sum(k.values()) for k in run["statements"].values()) for run in runs]
    print(f"    SQL statements per run: {statistics.median(totals):.0f} (median)")
    for label, values in sorted(counts.items(), key=lambda item: -max(item[1])):
        print(f"      {label:<44} {statistics.median(values):7.0f}")


if __name__ == "__main__":
    main()
