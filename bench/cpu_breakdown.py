"""Run `inbox-daemon` with its CPU time broken down by thread and by phase, and its SQL counted.

    python bench/cpu_breakdown.py OUT.json [-m inbox_daemon.cli] --config FILE run --once

The arguments after OUT.json are the daemon's (`inbox_daemon.cli`). On a shared machine the
wall clock says little; what a thread spends on its own CPU does not depend on the load. At
exit OUT.json holds:

  threads     CPU seconds (user + system, `time.thread_time`) of every thread of the main
              process, by name (threads of one name summed): "MainThread", "fetch", …
  phases      CPU seconds spent inside some functions of the daemon, by thread, summed over
              calls (nested phases each count their own time: registration includes its SQL)
  imported    the main thread's CPU seconds once the CLI's modules are imported
  startup     the main thread's CPU seconds before `run_once` began (imports, configuration,
              the store, the rules)
  process     the main process's CPU seconds until then, every thread's (`os.times`): what
              `threads` misses is in threads not started by `threading`; what wait4 adds
              to it, the interpreter's exit
  gc          CPU seconds of the cyclic garbage collector, by generation, every thread's
  statements  SQL statements executed, by thread and by kind ("INSERT message", "BEGIN" …)

`bench/imap_throughput.py --breakdown` runs the daemon through this and prints the medians.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import re
import runpy
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUT = sys.argv[1]
ARGS = sys.argv[2:]
if ARGS[:2] == ["-m", "inbox_daemon.cli"]:  # as `imap_throughput.py` gives them
    ARGS = ARGS[2:]
sys.argv = ["inbox_daemon.cli", *ARGS]

threads: Counter[str] = Counter()
phases: dict[str, Counter[str]] = defaultdict(Counter)
statements: dict[str, Counter[str]] = defaultdict(Counter)
startup: list[float] = []
_lock = threading.Lock()
_bootstrap = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]


def _timed_bootstrap(self: threading.Thread) -> None:
    """Every thread's life (`run` may be overridden: an executor's manager thread is)."""
    try:
        _bootstrap(self)
    finally:
        with _lock:
            threads[_name(self.name)] += time.thread_time()


def _name(name: str) -> str:
    """Thread names without their serial numbers: "Dummy-3" is "Dummy"."""
    return re.sub(r"[-_]\d+(_\d+)?$", "", re.sub(r"Thread-\d+ \((\w+)\)", r"\1", name))


threading.Thread._bootstrap_inner = _timed_bootstrap  # type: ignore[attr-defined]
gc_seconds: Counter[str] = Counter()  # the cyclic garbage collector's CPU, by generation
_gc_started: dict[str, float] = {}
gc_before_run: Counter[str] = Counter()  # ... until `run_once` began


def _gc_timer(phase: str, info: dict[str, int]) -> None:
    key = f"generation {info['generation']}"
    if phase == "start":
        _gc_started[key] = time.thread_time()
    else:
        gc_seconds[key] += time.thread_time() - _gc_started.pop(key, time.thread_time())


gc.callbacks.append(_gc_timer)

# imported as `inbox_daemon.cli` would, before any thread starts; with the collector paused
# as that checkout's `main` pauses it for `run` (until the daemon freezes its start-up heap)
from inbox_daemon import cli  # noqa: E402

_paused = getattr(cli, "collections_paused", None)  # an older checkout (`--ab`) has none
if _paused is not None:
    _pause = _paused(cli.build_parser().parse_args(ARGS).command == "run")  # kept: its end
    _pause.__enter__()  # would turn the collector on again

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

import inbox_daemon.commands  # noqa: E402, F401  the daemon's modules, loaded

imported = time.thread_time()  # the main thread's CPU once the CLI's modules are loaded


@event.listens_for(Engine, "before_cursor_execute")
def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    words = statement.split()
    kind = " ".join(words[:1]).upper()
    for keyword in ("INTO", "FROM", "UPDATE"):
        if keyword in (w.upper() for w in words[:8]):
            upper = [w.upper() for w in words]
            kind += " " + words[upper.index(keyword) + 1].strip('"')
            break
    statements[_name(threading.current_thread().name)][kind] += 1


def _phase(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent = time.thread_time() - start
            phases[_name(threading.current_thread().name)][label] += spent

    return timed


def _gen_phase(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A generator's own work, each step timed (not what its consumer does between steps)."""

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        inner = function(*args, **kwargs)
        while True:
            start = time.thread_time()
            try:
                item = next(inner)
            except StopIteration:
                return
            finally:
                phases[_name(threading.current_thread().name)][label] += time.thread_time() - start
            yield item

    return timed


def _replace(owner: Any, attr: str, label: str, wrap: Callable[..., Any] = _phase) -> None:
    """`owner.attr` timed, wherever a module holds it (`from m import f` copies the name)."""
    original = getattr(owner, attr, None)
    if original is None:  # another checkout's daemon (`--ab`) may not have it
        return
    timed = wrap(label, original)
    setattr(owner, attr, timed)
    for module in list(sys.modules.values()):
        for name, value in list(getattr(module, "__dict__", {}).items()):
            if value is original and module is not owner:
                setattr(module, name, timed)


def _patch() -> None:
    from inbox_daemon import daemon, pipeline, registration, spool
    from inbox_daemon.blobs import BlobStore
    from inbox_daemon.folder_states import FolderStates
    from inbox_daemon.sources import imap, imap_after, imap_session

    original_run_once = daemon.Daemon.run_once

    def run_once(self: Any) -> int:
        startup.append(time.thread_time())
        gc_before_run.update(gc_seconds)
        return original_run_once(self)

    daemon.Daemon.run_once = run_once  # type: ignore[method-assign]
    from inbox_daemon import commands, config, context, pole_commands
    from inbox_daemon.store import db

    _replace(config, "load_config", "load_config")
    _replace(context, "build_context", "build_context")
    _replace(db, "open_store", "open_store")
    _replace(db, "migrate", "migrate")
    _replace(context, "load_rules", "load_rules")
    _replace(pole_commands, "refresh_register", "refresh_register")
    _replace(commands, "start_forkserver", "start_forkserver")
    _replace(daemon.Daemon, "__init__", "Daemon.__init__")
    _replace(registration, "register_batch", "register_batch")
    _replace(registration, "_store_attachments", "store_attachments")
    batch = getattr(registration, "Batch", None)
    if batch is not None:
        _replace(batch, "write_tickets", "write_tickets")
        _replace(batch, "flush", "flush")
    _replace(registration, "decide", "decide")
    _replace(pipeline, "place", "place")
    _replace(pipeline, "_pending_batches", "read_batches", _gen_phase)
    _replace(spool.Spool, "write_files", "spool_files")
    _replace(spool.Spool, "record", "spool_rows")
    _replace(BlobStore, "put_many", "blob_put_many")
    _replace(imap_session.ImapSession, "fetch", "imap_fetch")
    _replace(imap_after.PostAction, "apply", "imap_after")
    _replace(FolderStates, "save_progress", "save_progress")
    _replace(FolderStates, "stored_uids", "stored_uids")
    _replace(imap.ImapSource, "poll", "imap_poll")


def _live_thread_cpu(thread: threading.Thread) -> float:
    """CPU seconds of a thread still running (an executor's, a daemon thread), from /proc."""
    try:
        stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _dump() -> None:
    threads["MainThread"] += time.thread_time()
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            threads[_name(thread.name)] += _live_thread_cpu(thread)
    with open(OUT, "w") as out:
        json.dump(
            {
                "threads": threads,
                "phases": phases,
                "startup": startup[0] if startup else None,
                "imported": imported,
                "process": sum(os.times()[:2]),  # every thread's, ended ones too, until now
                "statements": statements,
                "gc": gc_seconds,
                "gc_before_run": gc_before_run,
            },
            out,
            indent=1,
        )


_patch()
try:
    runpy.run_module("inbox_daemon.cli", run_name="__main__", alter_sys=True)
finally:
    _dump()
