"""The daemon, timed phase by phase, for `bench/web_form.py --phases`.

    python bench/web_phases.py TRACE.json --config FILE -q run

Runs the daemon as `inbox-daemon` would, with timing wrappers put around the functions each
web report passes through (nothing of the daemon's code is changed), and writes what they
saw to TRACE.json when the daemon exits. Every time is `time.perf_counter()`, the machine's
monotonic clock, which the bench's clients read too: one time line for both processes.

  web        per report: the POST's handler entered and left (X-Bench-Seq names the client's
             report), the spool's store called and returned, the answer page's handler
             entered, its ticket heard of, its page rendered
  spool      each batch of files written and synced, each batch of rows committed
  batches    registration: each batch read (its message ids), analysed and placed,
             registered and committed; `analyses`: each batch sent to the worker processes,
             and when each share of it came back
  heard      each commit of tickets heard of on the web server's loop, and each look-up
  gc         each collection: when, how long, which generation, on which thread
  lag        the web server's event loop: how late a 5 ms timer fires, sampled
  threads    on each SIGUSR2: the CPU (user+sys) each thread of the process has used, by
             name (the bench sends one before and one after the load)

A bench tool, not part of the daemon: the wrappers cost a few microseconds a call.
"""

from __future__ import annotations

import asyncio
import atexit
import cProfile
import functools
import gc
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

now = time.perf_counter
PROFILE: list[cProfile.Profile] = []
TRACE: dict[str, Any] = {
    "web": {}, "spool": [], "batches": [], "heard": [], "lookups": [], "gc": [], "lag": [],
    "threads": [], "outbox": [], "analyses": [],
}  # fmt: skip


def _install() -> None:
    from aiohttp import web

    from inbox_daemon import delivery, pipeline, workers
    from inbox_daemon.sources.smtp_commit import GroupCommit
    from inbox_daemon.spool import Spool
    from inbox_daemon.web import app, waiting

    reports: dict[str, dict[str, Any]] = TRACE["web"]
    by_task: dict[int, dict[str, Any]] = {}

    submit, answer = app.submit, app.answer

    async def timed_submit(request: web.Request) -> web.StreamResponse:
        entry = {"post_in": now()}
        by_task[id(asyncio.current_task())] = entry
        try:
            return await submit(request)
        except web.HTTPSeeOther as exc:
            entry["post_out"] = now()
            pk = app._site(request).signer.read_receipt(exc.location.rsplit("/", 1)[1])
            entry["seq"] = request.headers.get("X-Bench-Seq")
            reports.setdefault(str(pk), {}).update(entry)
            raise
        finally:
            by_task.pop(id(asyncio.current_task()), None)

    async def timed_answer(request: web.Request) -> web.StreamResponse:
        started = now()
        pk = app._site(request).signer.read_receipt(request.match_info["token"])
        response = await answer(request)
        reports.setdefault(str(pk), {}).update({"answer_in": started, "answer_out": now()})
        return response

    app.submit, app.answer = timed_submit, timed_answer  # make_app reads them when it runs

    store = GroupCommit.store

    async def timed_store(self: GroupCommit, incoming: Any) -> Any:
        entry = by_task.get(id(asyncio.current_task()), {})
        entry["store_in"] = now()
        result = await store(self, incoming)
        entry["store_out"] = now()
        return result

    GroupCommit.store = timed_store  # type: ignore[method-assign]

    write_files, record = Spool.write_files, Spool.record

    def timed_write(self: Spool, incomings: Any) -> Any:
        started = now()
        result = write_files(self, incomings)
        TRACE["spool"].append(("files", started, now(), len(incomings)))
        return result

    def timed_record(self: Spool, incomings: Any, shas: Any, *args: Any, **kw: Any) -> Any:
        started = now()
        result = record(self, incomings, shas, *args, **kw)
        TRACE["spool"].append(("rows", started, now(), len(incomings)))
        return result

    Spool.write_files, Spool.record = timed_write, timed_record  # type: ignore[method-assign]

    pending_batches, register_batch = pipeline._pending_batches, pipeline.register_batch
    read_at: dict[int, float] = {}

    def timed_batches(ctx: Any, last: int = 0) -> Any:
        for messages, pendings in pending_batches(ctx, last):
            at = now()
            for message in messages:
                read_at[message.id] = at
            yield messages, pendings

    def timed_register(ctx: Any, messages: Any, analyses: Any) -> Any:
        started = now()
        outcomes = register_batch(ctx, messages, analyses)
        ids = [m.id for m in messages]
        TRACE["batches"].append({
            "read": min(read_at.pop(i, started) for i in ids), "register": started,
            "committed": now(), "ids": ids,
        })  # fmt: skip
        return outcomes

    pipeline._pending_batches, pipeline.register_batch = timed_batches, timed_register

    submit_shares = workers.WorkerPool._submit

    def timed_submit_shares(self: Any, pendings: Any) -> Any:
        sent = now()
        futures = submit_shares(self, pendings)
        done: list[float] = []
        TRACE["analyses"].append({"sent": sent, "done": done, "n": len(pendings)})
        for future in futures:
            future.add_done_callback(lambda _: done.append(now()))
        return futures

    workers.WorkerPool._submit = timed_submit_shares  # type: ignore[method-assign]

    heard, tickets_of, watch = waiting.Waiters._heard, waiting.tickets_of, waiting.Waiters.watch

    def timed_heard(self: Any, *args: Any) -> None:  # (message ids) or (told, to look up)
        TRACE["heard"].append((now(), sorted(pk for pks in args for pk in pks)))
        heard(self, *args)

    def timed_tickets_of(engine: Any, pks: Any) -> Any:
        started = now()
        found = tickets_of(engine, pks)
        TRACE["lookups"].append((started, now(), len(pks), sorted(found)))
        return found

    def timed_watch(self: Any, loop: asyncio.AbstractEventLoop) -> None:
        watch(self, loop)
        TRACE["heap"] = {"objects": len(gc.get_objects()), "counts": gc.get_count(),
                         "frozen": gc.get_freeze_count()}  # fmt: skip
        if os.environ.get("WEB_PHASES_PROFILE"):  # cProfile of the web server's thread alone
            PROFILE.append(cProfile.Profile())
            PROFILE[0].enable()
        loop.call_soon_threadsafe(lambda: loop.create_task(_lag(loop)))

    waiting.Waiters._heard = timed_heard  # type: ignore[method-assign]
    waiting.tickets_of = timed_tickets_of
    waiting.Waiters.watch = timed_watch  # type: ignore[method-assign]

    deliver_pass = delivery.outbox.deliver_pass

    @functools.wraps(deliver_pass)
    def timed_pass(*args: Any, **kw: Any) -> Any:
        started = now()
        result = deliver_pass(*args, **kw)
        TRACE["outbox"].append((started, now()))
        return result

    delivery.outbox.deliver_pass = timed_pass

    gc_started: dict[int, float] = {}

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        me = threading.get_ident()
        if phase == "start":
            gc_started[me] = now()
        elif me in gc_started:
            started = gc_started.pop(me)
            name = threading.current_thread().name
            TRACE["gc"].append((started, now(), info["generation"], name))

    gc.callbacks.append(on_gc)
    signal.signal(signal.SIGUSR2, lambda *_: _threads())


async def _lag(loop: asyncio.AbstractEventLoop, every_s: float = 0.005) -> None:
    while True:
        due = now() + every_s
        await asyncio.sleep(every_s)
        TRACE["lag"].append((due, now() - due))


def _threads() -> None:
    """The CPU used so far by each thread of this process, by name."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(task.name), f"native-{task.name}")
        name = name.rstrip("0123456789_-") or name  # a pool's threads together
        used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    TRACE["threads"].append((now(), used))


def _write(path: str) -> None:
    Path(path).write_text(json.dumps(TRACE))
    if PROFILE:
        PROFILE[0].dump_stats(os.environ["WEB_PHASES_PROFILE"])


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # as `python -m inbox_daemon.cli` would: the daemon of
    # the folder it runs in (an A/B run times another worktree's daemon with this shim)
    trace_path, argv = sys.argv[1], sys.argv[2:]
    _install()
    atexit.register(_write, trace_path)
    from inbox_daemon.cli import main

    sys.exit(main(argv))
