"""The long-running daemon: sources feed the spool, the main thread drains it, the outbox sends.

Threads: APScheduler runs each polled source on its own interval; a source that can watch its
server (IMAP IDLE) also polls itself when told of new mail, from its watcher thread; a lock per
source keeps two polls of one source from running at once. Push sources (SMTP) run their own
server thread; the main thread processes stored messages whenever a source reports new ones,
and at least every few seconds. The outbox is delivered by its own threads (`delivery.py`),
which the main thread only wakes: a slow or silent relay never delays a ticket. `run --once`
polls in one thread while the main thread processes what is already stored.

Stopping (SIGTERM) is bounded, within the unit's `TimeoutStopSec`: push sources stop first (no
new mail accepted), then polled sources are closed (a drop folder's poll in progress ends
at its next file, a mailbox's poll is waited for); the outbox takes no new job and cuts
a delivery still waiting on a relay after a short grace (the job stays queued); the messages
already stored are registered for up to `STOP_DRAIN_S` (any left are registered at the next
start: they are stored); then it exits.

Processes: parsing and classifying (pure, CPU-bound) run in a small pool of worker processes
(`workers.WorkerPool`, `[processing] workers`); every database write stays in this process.

The SMTP ingress goes first: while it is pressed (several clients waiting at once for their
message to be stored, `SmtpIngress.pressed`), registration waits between batches, up to
`MAX_YIELD_S` each time, since the ingress's event loop shares this process's interpreter
with registration, and its store SQLite's write lock. It waits only while the next batch's
oldest message arrived less than `MAX_LAG_S` ago: a burst is ticketed just after it, and in
a flood that lasts, no request (an emergency among them) waits much longer than `MAX_LAG_S`
for its ticket and alert. A client sending one message after the other never presses the
ingress, and the web form never does (its visitor waits for the number, which is
registration).

A failing source is logged once per distinct fault, and again when it recovers: an operator
reads one line saying what to fix, not the same line every poll.

SIGHUP reloads the configuration between two batches (`reload.py` says what changes and how);
a file that does not load leaves everything as it was, with the reason logged. The monthly
report is one more scheduler job (`report/mailing.py`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import TypeVar

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import SQLAlchemyError

from inbox_daemon import outbox, pipeline, reload
from inbox_daemon.analysis import MACHINE_ERRNOS, Analysis, Pending
from inbox_daemon.context import Context
from inbox_daemon.delivery import Delivery
from inbox_daemon.errors import ConfigError, ExitCode, SourceError
from inbox_daemon.instances import Heartbeat, shared
from inbox_daemon.pole_commands import refresh_register
from inbox_daemon.report import mailing
from inbox_daemon.sources import build_sources
from inbox_daemon.sources.base import PolledSource, WatchedSource
from inbox_daemon.sources.folder import FolderSource
from inbox_daemon.store.db import is_outage, outage, wait_until_back
from inbox_daemon.store.types import utcnow
from inbox_daemon.systemd_notify import Watchdog, notify
from inbox_daemon.workers import Analyse, InProcess, WorkerPool

T = TypeVar("T")
log = logging.getLogger(__name__)
IDLE_WAKE_S = 5.0
FETCH_WAIT_S = 0.05  # run --once: how long to wait for the fetch thread to store more
STOP_DRAIN_S = 20.0  # systemd/inbox-daemon.service's TimeoutStopSec leaves a margin above it
MAX_YIELD_S = 1.0  # how long registration may wait for a pressed SMTP ingress, per batch
MAX_LAG_S = 10.0  # ... and only while the batch's oldest message arrived less than this ago
YIELD_POLL_S = 0.02


class Daemon:
    def __init__(self, ctx: Context) -> None:
        # on a shared PostgreSQL: a heartbeat row, one fetcher per mailbox folder, and the
        # messages and jobs this instance works on claimed under its id
        self.heartbeat = Heartbeat(ctx.engine, self._poll_soon) if shared(ctx.engine) else None
        if self.heartbeat:
            ctx = dataclasses.replace(ctx, instance=self.heartbeat.id)
        self.ctx = ctx
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.reloading = threading.Event()  # SIGHUP: reload between two batches
        self.started_at = utcnow()
        self._scheduler = BackgroundScheduler(timezone=ctx.tz)
        self._leases = self.heartbeat.leases if self.heartbeat else None
        self.polled, self.pushed = build_sources(ctx.config, ctx.spool, self.wake.set, self._leases)
        self._poll_locks = {source.name: threading.Lock() for source in self.polled}
        self._faults: dict[str, str] = {}  # source name -> the fault last logged
        self._delivery: Delivery | None = None  # run_forever's; run_once delivers at its end
        self._watchdog = Watchdog()  # systemd: alive while the main loop makes progress
        self._tickets, self._last_ticket = 0, ""  # since start, for the status line
        self._refused = ""  # the status line's note while the file on disk does not load
        swept = ctx.spool.blobs.sweep_temporary()
        if swept:
            log.info("store: removed %d file(s) half-written before a crash", swept)

    def run_once(self) -> int:
        """One pass: every source polled, everything stored processed, the outbox flushed.

        Fetching waits mostly on the network and the disk, so it runs in its own thread while
        this one processes what is already stored: a big mailbox is registered as it is read.
        """
        freeze_startup_heap()
        polled: list[bool] = []
        fetcher = threading.Thread(target=self._poll_all, args=(polled,), name="fetch")
        if self.heartbeat:
            self.heartbeat.start()
        with self._analysis() as analyse:
            fetcher.start()
            done = 0  # one pass: a message that fails is not tried again until the next run
            while fetcher.is_alive():
                done = self._drain(analyse, after=done)
                fetcher.join(FETCH_WAIT_S)
            self._drain(analyse, after=done)
        outbox.deliver_due(self.ctx)
        for source in self.polled:
            source.close()
        if self.heartbeat:
            self.heartbeat.stop()
        failed = len(polled) < len(self.polled) or not all(polled)
        return ExitCode.source_failed if failed else ExitCode.ok

    def run_forever(self) -> int:
        self._install_signal_handlers()
        scheduler = self._scheduler
        for source in self.polled:
            self._schedule_poll(source)
        self._delivery = delivery = Delivery(self.ctx)
        self._scheduler = scheduler
        if self.heartbeat:
            self.heartbeat.start()
        for source in self.pushed:
            source.start()
        mailing.schedule(scheduler, self.ctx, self._mail_reports)
        scheduler.start()
        delivery.start()
        for source in self.polled:
            self._watch(source)
        log.info("running: %d polled, %d push source(s)", len(self.polled), len(self.pushed))
        # What start-up made (modules, rules, templates, the register) lives as long as the
        # process: out of the collector's sight, its first full collection is not a pause of
        # 0.1-0.2 s under the first load (a web form's answers all wait on this interpreter).
        freeze_startup_heap()
        notify("READY=1")
        self._watchdog.alive("waiting for mail")
        with ExitStack() as workers:
            analyse = workers.enter_context(self._analysis())
            try:
                while not self.stopping.is_set():
                    if self.reloading.is_set() and self._reload():
                        workers.close()  # idle between two batches: nothing is in flight
                        analyse = workers.enter_context(self._analysis())  # the new rules
                    try:
                        self._drain(analyse)
                    except SQLAlchemyError as exc:
                        if not is_outage(exc):
                            raise
                        self._ride_out(exc)
                    self._watchdog.alive(self._status())
                    self.wake.wait(IDLE_WAKE_S)
                    self.wake.clear()
            finally:
                self._stop(scheduler, self._delivery, analyse)
        return ExitCode.ok

    def _schedule_poll(self, source: PolledSource) -> None:
        self._poll_locks.setdefault(source.name, threading.Lock())
        interval = getattr(getattr(source, "config", None), "poll_interval_s", 60.0)
        self._scheduler.add_job(
            self.poll, "interval", args=[source], seconds=interval, id=f"poll:{source.name}",
            max_instances=1, coalesce=True, next_run_time=datetime.now(self.ctx.tz),
        )  # fmt: skip

    def _watch(self, source: PolledSource) -> None:
        if isinstance(source, WatchedSource):
            source.watch(functools.partial(self.poll, source))

    def _mail_reports(self) -> None:
        """The scheduler's report job: the reports due are made and the outbox woken."""
        made = mailing.run_job(self._scheduler, self.ctx, self.started_at, self._mail_reports)
        if made and self._delivery is not None:
            self._delivery.wake()

    def _reload(self) -> bool:
        """SIGHUP, in the main loop between batches: True when the new configuration runs."""
        self.reloading.clear()
        notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
        try:
            plan = reload.prepare(self.ctx)
        except ConfigError as exc:
            log.error("reload refused, the running configuration stays: %s", exc)
            self._refused = "; the last reload was refused (see the log)"
            notify("READY=1")
            return False
        self._refused = ""
        self.ctx = plan.ctx
        self._replace_sources(plan)
        if plan.outbox_changed and self._delivery is not None:
            self._delivery.stop()  # a job cut here is queued again, due at once
            self._delivery = Delivery(self.ctx)
            self._delivery.start()
        mailing.schedule(self._scheduler, self.ctx, self._mail_reports)
        refresh_register(self.ctx)
        log.info("reloaded %s: %s", self.ctx.config.path, plan.describe())
        notify("READY=1")
        return True

    def _replace_sources(self, plan: reload.Plan) -> None:
        """Close the sources removed or changed, then start those added or changed."""
        going = set(plan.removed) | set(plan.changed)
        for source in [s for s in self.pushed if s.name in going]:
            source.stop()  # the messages under way are finished first
        for source in [s for s in self.polled if s.name in going]:
            self._retire(source)
        config = self.ctx.config
        coming = set(plan.added) | set(plan.changed)
        fresh = config.model_copy(update={"sources": [s for s in config.sources
                                                      if s.name in coming]})  # fmt: skip
        polled, pushed = build_sources(fresh, self.ctx.spool, self.wake.set, self._leases)
        for source in pushed:
            try:
                source.start()
            except SourceError as exc:  # the port is taken, say: the others still run
                log.error("source %s: not started: %s", source.name, exc)
                pushed.remove(source)
        self.pushed = [s for s in self.pushed if s.name not in going] + pushed
        self.polled = [s for s in self.polled if s.name not in going] + polled
        for source in polled:
            self._schedule_poll(source)
            self._watch(source)

    def _retire(self, source: PolledSource) -> None:
        """No more polls of `source`; closed once the poll in progress is over (a drop folder's
        ends at its next file), in a thread, so that the main loop goes on meanwhile."""
        self._scheduler.remove_job(f"poll:{source.name}")
        self._faults.pop(source.name, None)
        if isinstance(source, FolderSource):
            source.close()

        def close() -> None:
            with self._poll_locks[source.name]:
                source.close()

        threading.Thread(target=close, name=f"retire:{source.name}", daemon=True).start()

    def _stop(
        self, scheduler: BackgroundScheduler, delivery: Delivery | None, analyse: Analyse
    ) -> None:
        """The bounded stop (see the module's docstring)."""
        until = time.monotonic() + STOP_DRAIN_S
        notify("STOPPING=1")
        log.info("stopping: no new mail; finishing the messages already received")
        for source in self.pushed:
            source.stop()
        if delivery is not None:
            delivery.request_stop()
        # A drop folder's poll in progress ends at its next file when closed; an IMAP session
        # is not thread-safe, so a mailbox is closed once its poll is over.
        folders = [source for source in self.polled if isinstance(source, FolderSource)]
        for source in folders:
            source.close()
        scheduler.shutdown(wait=True)
        for source in self.polled:
            if source not in folders:
                source.close()
        if self.heartbeat:  # its folders are free for another instance at once
            self.heartbeat.stop()
        try:
            self._drain(analyse, until=until)
        except SQLAlchemyError as exc:  # they are stored: registered at the next start
            if not is_outage(exc):
                raise
        if delivery is not None:
            delivery.stop()
        log.info("stopped; unsent acknowledgements stay queued")

    def _ride_out(self, exc: SQLAlchemyError) -> None:
        """The database is away: wait for it (the watchdog fed meanwhile), then poll every
        source at once, for what waited on the servers, and wake the outbox."""
        outage(self.ctx.engine).lost(exc)  # logged once, by whichever thread met it first
        while not self.stopping.is_set():
            self._watchdog.alive("waiting for the database")
            if wait_until_back(self.ctx.engine, self.stopping, within_s=IDLE_WAKE_S):
                break
        if self.stopping.is_set():
            return
        for source in self.polled:
            self._poll_soon(source.name)
        if self._delivery is not None:
            self._delivery.wake()

    def _poll_soon(self, name: str) -> None:
        """Poll source `name` now (its folder just taken over, the database back)."""
        if not self.stopping.is_set():
            with contextlib.suppress(JobLookupError):  # a stop under way removed the job
                self._scheduler.modify_job(f"poll:{name}", next_run_time=datetime.now(self.ctx.tz))

    def _poll_all(self, results: list[bool]) -> None:
        results.extend(self.poll(source) for source in self.polled)

    def poll(self, source: PolledSource) -> bool:
        """Poll one source; False when it failed (logged if the fault is new)."""
        with self._poll_locks[source.name]:
            try:
                new = source.poll(self.ctx.spool)
            except Exception as exc:  # one failing source never stops the others
                self._report(source.name, exc)
                self.wake.set()  # what it stored before failing still gets processed
                return False
            if self._faults.pop(source.name, None) is not None:
                log.info("source %s: working again", source.name)
        if new:
            log.info("source %s: %d new message(s)", source.name, new)
            self.wake.set()
        return True

    def _report(self, name: str, exc: Exception) -> None:
        if is_outage(exc):
            return  # the store logs a database outage once, whoever meets it (`db.Outage`)
        # its text says what to do, or the machine is short of something: no traceback
        expected = isinstance(exc, SourceError) or (
            isinstance(exc, OSError) and exc.errno in MACHINE_ERRNOS
        )
        fault = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        if self._faults.get(name) != fault:
            self._faults[name] = fault
            log.error("source %s: %s", name, fault, exc_info=not expected)

    @contextmanager
    def _analysis(self) -> Iterator[Analyse]:
        """Where messages are parsed and classified: worker processes when the machine has
        cores for them (`[processing] workers`), else this thread."""
        analyser = pipeline.analyser(self.ctx)
        workers = self.ctx.config.processing.worker_count
        if not workers:
            yield Yielding(InProcess(analyser), self._yield_to_push_sources)
            return
        pool = WorkerPool(analyser, workers)
        try:
            yield Yielding(pool, self._yield_to_push_sources)
        finally:
            pool.close()

    def _yield_to_push_sources(self, oldest: datetime | None) -> None:
        """Before the next batch, whose oldest message arrived at `oldest`: wait while a push
        source is pressed, up to `MAX_YIELD_S`, and not past `MAX_LAG_S` after `oldest`."""
        deadline = time.monotonic() + min(MAX_YIELD_S, lag_left(oldest, utcnow()))
        while any(is_pressed(source) for source in self.pushed) and time.monotonic() < deadline:
            if self.stopping.wait(YIELD_POLL_S):
                return

    def _drain(self, analyse: Analyse, after: int = 0, until: float | None = None) -> int:
        """Process what is stored (above message id `after`); return the last id processed.

        It ends early on a stop request, or, once stopping, at the monotonic time `until`."""
        last = after
        for outcome in pipeline.process_pending(self.ctx, analyse=analyse, after=after):
            by = "" if outcome.fresh else " (by another instance)"
            log.info(
                "message %s: %s %s%s", outcome.message_pk, outcome.outcome, outcome.ticket or "", by
            )
            last = max(last, outcome.message_pk)
            if outcome.fresh and outcome.ticket is not None:
                self._tickets += 1
                self._last_ticket = outcome.ticket
                if self._delivery is not None:
                    self._delivery.wake()  # acknowledge now, not at the next outbox pass
            self._watchdog.alive("registering")  # a long backlog is progress, not a hang
            if self.stopping.is_set() if until is None else time.monotonic() > until:
                break
        return last

    def _status(self) -> str:
        if not self._tickets:
            return "waiting for mail" + self._refused
        return (f"waiting for mail; {self._tickets} ticket(s) since start, last "
                f"{self._last_ticket}{self._refused}")  # fmt: skip

    def _install_signal_handlers(self) -> None:
        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %s received", signal.Signals(signum).name)
            self.stopping.set()
            self.wake.set()

        def hangup(_signum: int, _frame: FrameType | None) -> None:
            log.info("signal SIGHUP received: reloading the configuration")
            self.reloading.set()
            self.wake.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, hangup)


YOUNG_GC_THRESHOLD = 10_000  # container objects allocated, net, between young collections


def freeze_startup_heap() -> None:
    """Leave what start-up built (modules, configuration, rules, mapped tables: most of the
    heap) out of the garbage collector's passes: each full pass would otherwise walk all of
    it again (some 120,000 objects, 0.07 s of CPU a pass), and so would the interpreter's
    exit, for objects that live as long as the process. Reference counting still frees them.

    `run` starts with collections off (`cli`): start-up's cyclic garbage is collected here,
    in one pass, instead of by the dozens of passes made while that heap grew; collections
    are then on again. Young ones are rarer than by default (`YOUNG_GC_THRESHOLD`
    allocations net, not 700): a batch's ORM objects and rows mostly die by reference
    counting before a collection would walk them. Cyclic garbage waits a little longer to
    be freed, bounded by the threshold."""
    if not gc.isenabled():
        gc.collect()
        gc.enable()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])


def is_pressed(source: object) -> bool:
    """Whether `source` asks registration to wait (`SmtpIngress.pressed`)."""
    # The SMTP ingress only: a web form's visitor waits for the number, that is registration.
    return bool(getattr(source, "pressed", False))


@dataclass(frozen=True)
class Yielding:
    """An `Analyse` that calls `pause(oldest)` before handing on each batch after the first
    (read, not yet analysed nor registered), `oldest` being when that batch's oldest message
    arrived: the hook through which registration lets the ingress go first. No pause once
    the last batch is read."""

    analyse: Analyse
    pause: Callable[[datetime | None], None]

    def batches(
        self, batches: Iterator[tuple[T, list[Pending]]]
    ) -> Iterator[tuple[T, list[Analysis]]]:
        return self.analyse.batches(self._paced(batches))

    def _paced(
        self, batches: Iterator[tuple[T, list[Pending]]]
    ) -> Iterator[tuple[T, list[Pending]]]:
        for position, batch in enumerate(batches):
            if position:
                self.pause(min((p.received_at for p in batch[1] if p.received_at), default=None))
            yield batch


def lag_left(oldest: datetime | None, now: datetime) -> float:
    """Seconds registration may still wait for a batch whose oldest message arrived at
    `oldest` (none when the time is unknown: a message without one is not held back)."""
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # stored as UTC
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, MAX_LAG_S - (now - oldest).total_seconds())
