"""CPU time of process trees, read from /proc: what a daemon and the workers it forks spend,
whatever else the machine runs (the benchmarks compare CPU, which load does not change).

Descendants whose parent ends first are adopted (`adopt_orphans`), so their time still
reaches RUSAGE_CHILDREN when `reap_orphans` waits for them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import time

TICK = os.sysconf("SC_CLK_TCK")


def stat(pid: int) -> tuple[int, float, float]:
    """(parent, own CPU, reaped children's CPU) of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the name: state ppid ... utime(12) stime(13) cutime(14) cstime(15)
    own = (int(fields[11]) + int(fields[12])) / TICK
    return int(fields[1]), own, (int(fields[13]) + int(fields[14])) / TICK


def _processes() -> dict[int, tuple[int, float]]:
    """Every living process: its parent and its CPU, its reaped children's included."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent, own, reaped = stat(int(entry))
            except OSError:  # ended meanwhile
                continue
            found[int(entry)] = (parent, own + reaped)
    return found


def _tree(root: int, processes: dict[int, tuple[int, float]]) -> set[int]:
    """`root` and its living descendants, generation by generation."""
    inside, grown = {root}, True
    while grown:
        more = {pid for pid, (parent, _) in processes.items() if parent in inside} - inside
        inside |= more
        grown = bool(more)
    return inside


def tree_cpu(root: int) -> float:
    """CPU seconds of `root`, its living descendants and every child they have reaped."""
    processes = _processes()
    return sum(processes[pid][1] for pid in _tree(root, processes) if pid in processes)


def descendants(root: int) -> set[int]:
    """The living descendants of `root`."""
    return _tree(root, _processes()) - {root}


def adopt_orphans() -> None:
    """Become the reaper of our descendants whose parent ends first (the worker pool's
    forkserver and resource tracker outlive the daemon by a moment): their CPU time then
    reaches RUSAGE_CHILDREN when `reap_orphans` waits for them."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def reap_orphans(keep: set[int], timeout: float = 10.0) -> None:
    """Wait for our children other than `keep` (the servers) to end."""
    me, deadline = os.getpid(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = [
            pid for pid, (parent, _) in _processes().items() if parent == me and pid not in keep
        ]
        if not mine:
            return
        for pid in mine:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
