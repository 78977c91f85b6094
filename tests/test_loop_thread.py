"""A push source's loop stops with nothing left half-run: a task still waiting when the loop
is halted (a page waiting for its ticket) is cancelled and finishes its `finally`, so asyncio
does not destroy it pending (and say so in the log) at every stop of the daemon."""

from __future__ import annotations

import asyncio
import gc

from inbox_daemon.sources.loop_thread import LoopThread


def test_halt_cancels_pending_tasks_and_lets_them_finish(caplog):
    runs = LoopThread("test-halt")
    runs.start()
    cleaned: list[str] = []

    async def waiting_page() -> None:
        try:
            await asyncio.Event().wait()  # never set: it waits until cancelled
        finally:
            cleaned.append("finally")

    runs.call(_start(waiting_page))
    with caplog.at_level("ERROR", logger="asyncio"):
        runs.halt()
        gc.collect()  # a destroyed pending task is reported when it is collected
    assert cleaned == ["finally"]
    assert "Task was destroyed but it is pending" not in caplog.text
    assert runs.loop.is_closed()


async def _start(coroutine_function) -> None:
    task = asyncio.create_task(coroutine_function())
    _start.keep = task  # a strong reference, as a server keeps its handlers' tasks
    await asyncio.sleep(0)  # it has begun waiting
