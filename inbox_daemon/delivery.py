"""The outbox's own threads: delivery runs beside registration, never in its path.

Each relay gets a small pool of threads (`POOL_SIZE`), each with one session to it that is
kept open between jobs; the queue is shared out by job id, so the threads of a pool never
compete for a claim (other daemon instances still may: the claim decides). A thread runs a
pass when woken (a new ticket) or when its next job falls due, at least every `INTERVAL_S`.
After a pass in which its relay failed it rests (5 s, doubling to a minute) and ignores
wake-ups meanwhile, so a dead relay costs one timeout per rest, whatever the ticket rate.

`stop` is honoured between jobs and during waits at once; a delivery waiting on a relay gets
`STOP_GRACE_S` to end, then its connection is cut and the job queued again, due at once.
"""

from __future__ import annotations

import logging
import threading
import time

from inbox_daemon import outbox, webhooks
from inbox_daemon.context import Context
from inbox_daemon.relay import relay_key
from inbox_daemon.store.db import is_outage
from inbox_daemon.store.types import utcnow

log = logging.getLogger(__name__)
POOL_SIZE = 2  # connections per relay
INTERVAL_S = 15.0  # a pass at least this often: retries whose backoff has run out
REST_MIN_S, REST_MAX_S = 5.0, 60.0
MIN_WAIT_S = 0.5  # never a busy loop, even on a job due that this pass could not take
# Woken passes at most this often: registration wakes the outbox after each batch, and under
# a flood of tickets a pass (two queries) per batch was a tenth of the daemon's CPU, most of
# it finding nothing new; acknowledgements are mail: a quarter of a second later is the same.
WAKE_GAP_S = 0.25
STOP_GRACE_S = 2.0
CUT_JOIN_S = 2.0  # a cut connection wakes its thread at once; this is only a safety bound


class Delivery:
    """Start with `start`; `wake` after new jobs; `stop` before exit (bounded, see above)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._stop = threading.Event()
        self._deadline = 0.0
        self._workers: list[_Worker | _WebhookWorker] = [
            _Worker(ctx, outbox.Lane(relay_key(relay), index, POOL_SIZE), self._stop)
            for relay in outbox.relays(ctx)
            for index in range(POOL_SIZE)
        ]
        if any(rule.webhook for rule in ctx.config.routing):
            self._workers.append(_WebhookWorker(ctx, self._stop))

    def start(self) -> None:
        for worker in self._workers:
            worker.thread.start()

    def wake(self) -> None:
        for worker in self._workers:
            worker.wake.set()

    def request_stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """No new job from now on; jobs in flight have `grace_s` to end (see `stop`)."""
        if not self._stop.is_set():
            self._deadline = time.monotonic() + grace_s
            self._stop.set()
            self.wake()

    def stop(self) -> None:
        """Wait for the jobs in flight until the grace ends, then cut their connections."""
        self.request_stop()
        deadline = self._deadline
        for worker in self._workers:
            worker.join(deadline - time.monotonic())
        for worker in self._workers:
            if worker.thread.is_alive() and isinstance(worker, _Worker):
                worker.sessions.abort()
        for worker in self._workers:
            worker.join(CUT_JOIN_S)
            if worker.thread.is_alive():
                log.warning("outbox: %s did not stop in time", worker.thread.name)


class _Worker:
    """One thread, one share of one relay's queue, one session kept open to it."""

    def __init__(self, ctx: Context, lane: outbox.Lane, stop: threading.Event) -> None:
        self.ctx, self.lane, self.stop = ctx, lane, stop
        self.wake = threading.Event()
        self.sessions = outbox.Sessions()
        host, port = lane.key[0], lane.key[1]
        name = f"outbox:{host}:{port}#{lane.index}"
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def join(self, timeout: float) -> None:
        if self.thread.ident is not None:
            self.thread.join(max(timeout, 0.0))

    def _run(self) -> None:
        rest = 0.0
        try:
            while not self.stop.is_set():
                started = time.monotonic()
                self.wake.clear()  # a wake-up during the pass brings another pass
                failed, until_next = self._pass()
                rest = min(max(rest * 2, REST_MIN_S), REST_MAX_S) if failed else 0.0
                self._wait(rest, until_next)
                self.stop.wait(started + WAKE_GAP_S - time.monotonic())  # <= 0: no wait
        finally:
            self.sessions.close()

    def _pass(self) -> tuple[bool, float]:
        """One pass: whether the relay failed, and how long until this lane's next due job.

        Any other error (the database, say) is logged and rested on: a delivery thread that
        died would leave every acknowledgement queued, silently.
        """
        try:
            result = outbox.deliver_pass(self.ctx, self.sessions, lane=self.lane, stop=self.stop)
            when = outbox.next_due(self.ctx, self.lane)
        except Exception as exc:
            if not is_outage(exc):  # an outage is logged once, by the store
                log.exception("outbox: delivery pass failed; trying again shortly")
            return True, INTERVAL_S
        if when is None:
            return result.relay_failed, INTERVAL_S
        wait = (when - utcnow()).total_seconds()
        return result.relay_failed, min(max(wait, MIN_WAIT_S), INTERVAL_S)

    def _wait(self, rest: float, until_next: float) -> None:
        """Until woken, or the next job falls due, or `INTERVAL_S`; while resting after a
        failure, wake-ups wait too. A session idle for the whole wait is closed: the relay
        need not keep it for us."""
        if rest:
            self.stop.wait(rest)
        elif not self.wake.wait(until_next):
            self.sessions.close()


class _WebhookWorker:
    """One thread for the webhook jobs: a POST each, bounded by `webhooks.TIMEOUT_S`."""

    def __init__(self, ctx: Context, stop: threading.Event) -> None:
        self.ctx, self.stop = ctx, stop
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="outbox:webhooks", daemon=True)

    def join(self, timeout: float) -> None:
        if self.thread.ident is not None:
            self.thread.join(max(timeout, 0.0))

    def _run(self) -> None:
        while not self.stop.is_set():
            self.wake.clear()
            try:
                webhooks.deliver_due(self.ctx, self.stop)
                when = webhooks.next_due(self.ctx)
            except Exception as exc:  # the database, say: logged, and tried again shortly
                if not is_outage(exc):
                    log.exception("outbox: webhook pass failed; trying again shortly")
                when = None
            wait = INTERVAL_S if when is None else (when - utcnow()).total_seconds()
            self.wake.wait(min(max(wait, MIN_WAIT_S), INTERVAL_S))
