"""Where analysis runs: in the calling thread, or in a pool of worker processes.

The pure stages (`analysis.py`) need no database, so they can run in other processes while
the main process fetches and writes: the parser and the rules then use the cores the main
process cannot (one interpreter runs Python on one core at a time).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import multiprocessing
import os
import pickle
import re
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import rules
from inbox_daemon.analysis import Analyser, Analysis, Pending, failure
from inbox_daemon.blobs import BlobStore
from parsers.message import Attachment

T = TypeVar("T")
log = logging.getLogger(__name__)
WORKER_NICENESS = 10


class Analyse(Protocol):
    """Analyse batches of stored messages, in order; may work ahead on later batches."""

    def batches(
        self, batches: Iterator[tuple[T, list[Pending]]]
    ) -> Iterator[tuple[T, list[Analysis]]]: ...


@dataclass(frozen=True)
class InProcess:
    """Analysis in the calling thread: for one message, or where processes do not pay."""

    analyser: Analyser

    def batches(
        self, batches: Iterator[tuple[T, list[Pending]]]
    ) -> Iterator[tuple[T, list[Analysis]]]:
        for tag, pendings in batches:
            yield tag, self.analyser.many(pendings)


class WorkerPool:
    """Analysis in `workers` processes, working on the next batches while the caller writes
    the current one to the database.

    Workers are not forked from the daemon: a fork would copy its threads' locks and its
    database connections, and each child would count the whole parent in its memory. They are
    forked by a forkserver, a fresh single-threaded process that imports the parser and
    compiles the shipped rules once (`inbox_daemon.preload`), so that each worker starts ready
    (spawned, each one paid for both); where there is no forkserver, they are spawned. A worker
    that dies (killed, out of memory, a crash in C code) breaks the pool: its batch is then
    analysed again one message at a time in a fresh pool, so that only the message that kills
    a worker fails (and is quarantined after `max_attempts`, as any failing message is).
    """

    LOOKAHEAD = 2  # batches in flight beyond the one being written

    def __init__(self, analyser: Analyser, workers: int) -> None:
        self.analyser = analyser
        self.workers = workers
        self._starting = _in_background(self._start)
        self._unavailable: str | None = None  # why the pool could not start, as last logged

    @property
    def _pool(self) -> ProcessPoolExecutor:
        return self._starting.result()

    def _start(self) -> ProcessPoolExecutor:
        """A pool whose workers start now (they are spawned on demand otherwise): loading the
        parser and the rules then overlaps with the first fetch instead of following it."""
        pool = ProcessPoolExecutor(
            self.workers,
            mp_context=_context(),
            initializer=_install,
            initargs=_shipment(self.analyser),
        )
        for _ in range(self.workers):
            pool.submit(int)
        return pool

    def batches(
        self, batches: Iterator[tuple[T, list[Pending]]]
    ) -> Iterator[tuple[T, list[Analysis]]]:
        in_flight: deque[tuple[T, list[Pending], list[Future[list[Analysis]]]]] = deque()
        for tag, pendings in batches:
            in_flight.append((tag, pendings, self._submit(pendings)))
            if len(in_flight) > self.LOOKAHEAD:
                yield self._collect(*in_flight.popleft())
        while in_flight:
            yield self._collect(*in_flight.popleft())

    def _submit(self, pendings: list[Pending]) -> list[Future[list[Analysis]]]:
        """One share of the batch per worker: few round trips, and every worker busy."""
        size = -(-len(pendings) // self.workers)
        parts = [pendings[start : start + size] for start in range(0, len(pendings), size)]
        try:
            pool = self._pool
        except OSError as exc:  # no descriptors or memory for the workers (an SMTP flood, say)
            return [self._here(pendings, exc)]
        if self._unavailable is not None:
            log.info("workers: started again")
            self._unavailable = None
        try:
            return [pool.submit(_analyse, part) for part in parts]
        except BrokenProcessPool:  # broken while an earlier batch was analysed
            self._restart()
            return [self._pool.submit(_analyse, part) for part in parts]

    def _here(self, pendings: list[Pending], exc: OSError) -> Future[list[Analysis]]:
        """The batch analysed in this process, while the workers cannot start; they are tried
        again for the next batch. Slower, but no message waits for the machine to recover."""
        reason = f"{type(exc).__name__}: {exc}"
        if self._unavailable != reason:
            log.warning("workers: cannot start (%s); analysing in the daemon meanwhile", reason)
            self._unavailable = reason
        self._starting = _in_background(self._start)
        done: Future[list[Analysis]] = Future()
        done.set_result(self.analyser.many(pendings))
        return done

    def _collect(
        self, tag: T, pendings: list[Pending], futures: list[Future[list[Analysis]]]
    ) -> tuple[T, list[Analysis]]:
        try:
            return tag, [analysis for future in futures for analysis in future.result()]
        except Exception:  # a worker died, or a result could not come back: find which message
            return tag, [self._alone(pending) for pending in pendings]

    def _alone(self, pending: Pending) -> Analysis:
        """Analyse one message by itself: if the worker dies now, this message killed it."""
        try:
            [future] = self._submit([pending])
            return future.result()[0]
        except BrokenProcessPool:
            self._restart()
            died = "the process analysing this message died (out of memory?)"
            return Analysis(pending, error=died)
        except Exception as exc:  # e.g. a result that cannot be sent back
            return failure(exc, Analysis(pending))

    def _restart(self) -> None:
        with contextlib.suppress(OSError):  # a pool that never started has nothing to stop
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._starting = _in_background(self._start)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._pool.shutdown(wait=True, cancel_futures=True)


def _in_background(start: Callable[[], T]) -> Future[T]:
    """`start()` in a thread of its own. Starting the pool waits until the forkserver has
    loaded the parser and the rules and forked the workers: the caller fetches meanwhile."""
    started: Future[T] = Future()

    def run() -> None:
        try:
            started.set_result(start())
        except BaseException as exc:  # handed to whoever asks for the pool
            started.set_exception(exc)

    threading.Thread(target=run, name="workers-start", daemon=True).start()
    return started


_worker_analyser: Analyser | None = None  # set once in each worker process by `_install`
PRELOAD = "inbox_daemon.preload"


def _context() -> multiprocessing.context.BaseContext:
    """A forkserver that has loaded what the workers need, where the system has one."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD])  # read when the forkserver starts, once
    return context


def start_forkserver() -> None:
    """Start the forkserver now, so that it loads the parser and the rules on another core
    while this process is still starting (its imports, the store, the rules): the first
    batch then finds its workers ready instead of waiting for them. Starting it is cheap
    (a child process is spawned; this one does not wait for its imports)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        _context()  # its preload set
        forkserver.ensure_running()


def _shipment(analyser: Analyser) -> tuple[Analyser, bytes, str]:
    """What a worker is started with: the analyser without its rules, the rules pickled, and
    a digest of their value (`rules_digest`). A worker whose forkserver loaded the same rules
    takes those and never unpickles these: unpickling compiles every pattern again (0.15 s of
    CPU a worker, for nothing)."""
    ruleset = analyser.tools.ruleset
    bare = dataclasses.replace(analyser.tools, ruleset=None)
    return dataclasses.replace(analyser, tools=bare), pickle.dumps(ruleset), rules_digest(ruleset)


def rules_digest(ruleset: rules.RuleSet) -> str:
    """A digest of the rules and decisions by value: equal for equal rules, however loaded,
    compiled or not (what a rule builds on first use is not part of its value)."""
    value = _canonical((ruleset.rules, ruleset.decisions))
    return hashlib.sha256(pickle.dumps(value, protocol=5)).hexdigest()


def _canonical(value: Any) -> Any:
    """`value` as plain tuples, strings and numbers, in an order that does not depend on the
    process (a set's order does): dataclasses by their fields, patterns by source and flags."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (type(value).__qualname__, *(_canonical(getattr(value, f.name)) for f in fields))
    if isinstance(value, re.Pattern):
        return ("re", value.pattern, value.flags)
    if isinstance(value, Mapping):
        return ("map", *sorted((repr(k), _canonical(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return ("set", *sorted(repr(_canonical(item)) for item in value))
    if isinstance(value, tuple | list):
        return tuple(_canonical(item) for item in value)
    return value


def _ready(analyser: Analyser, pickled_rules: bytes, digest: str) -> Analyser:
    """The analyser with its rules compiled: the forkserver's, when they are the same rules
    (by `rules_digest`), else its own, unpickled and compiled now."""
    preloaded = sys.modules.get(PRELOAD)
    shipped = getattr(preloaded, "SHIPPED_RULES", None)
    if shipped is not None and rules_digest(shipped) == digest:
        ruleset = shipped
    else:
        ruleset = pickle.loads(pickled_rules).compile_all()
    return dataclasses.replace(analyser, tools=dataclasses.replace(analyser.tools, ruleset=ruleset))


def _install(analyser: Analyser, pickled_rules: bytes, digest: str) -> None:
    """Set up a worker process (`_shipment` says what it is given): its analyser, its signals,
    its logging."""
    global _worker_analyser
    _worker_analyser = _ready(analyser, pickled_rules, digest)
    # Lower priority than the daemon: its fetch thread wakes for every fsync and write, and the
    # source is acknowledged only once the spool has stored; workers have slack, it has none.
    with contextlib.suppress(OSError):  # a sandbox may forbid it: same priority, no harm
        os.nice(WORKER_NICENESS)
    # The daemon decides when workers stop (it closes the pool once the current batch is
    # written): a SIGTERM or Ctrl-C sent to the whole group must not kill them mid-batch.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # ...but a daemon that dies (SIGKILL) cannot close the pool: leave with it.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_after, args=(parent,), daemon=True).start()
    # A spawned process starts without the daemon's logging set-up: keep mail-parser's
    # warning per odd part quiet here too (the parser records them as defects).
    logging.getLogger("mailparser").setLevel(logging.ERROR)


def _exit_after(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()
    os._exit(1)


def _analyse(pendings: list[Pending]) -> list[Analysis]:
    assert _worker_analyser is not None, "worker started without its analyser"
    return stored_attachments(_worker_analyser.tools.blobs, _worker_analyser.many(pendings))


def stored_attachments(blobs: BlobStore, analyses: list[Analysis]) -> list[Analysis]:
    """The requests' attachments written to the store here, each analysis given back with
    their sha256 instead of their bytes: a 30 MB attachment is then not copied three times
    more (pickled, sent, unpickled) on its way to the daemon, which stores it again at once.
    Durable before this returns, as registration needs (it skips what has a sha256)."""
    requests = [i for i, a in enumerate(analyses) if a.verdict is not None and _attachments(a)]
    parts = [part for i in requests for part in _attachments(analyses[i])]
    if not parts:
        return analyses
    try:
        shas = iter(blobs.put_many("attachments", [part.payload for part in parts]))
    except OSError:  # the daemon stores them then, and meets the store's fault as it always has
        return analyses
    result = list(analyses)
    for i in requests:
        stored = tuple(
            dataclasses.replace(part, payload=b"", sha256=next(shas))
            for part in _attachments(analyses[i])
        )
        parsed = dataclasses.replace(analyses[i].parsed, attachments=stored)  # type: ignore[arg-type]
        result[i] = dataclasses.replace(analyses[i], parsed=parsed)
    return result


def _attachments(analysis: Analysis) -> tuple[Attachment, ...]:
    return analysis.parsed.attachments if analysis.parsed else ()
