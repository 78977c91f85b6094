"""An asyncio event loop in a thread of its own: what a push source (SMTP, web) serves on.

The daemon's main thread registers tickets and must not wait on a network client, nor a
client on registration; each push source therefore runs its loop here, and the main thread
only starts it, calls into it and stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and wait for its result (from another thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def halt(self, grace_s: float = 5.0) -> None:
        """Cancel what still runs on the loop (a page waiting for its ticket, a poller), let
        it finish its `finally` blocks, then stop the loop, wait for its thread, close it: a
        loop closed with tasks pending destroys them unfinished, and asyncio says so in the
        log at every stop."""
        if self._thread.is_alive():
            cancelled = asyncio.run_coroutine_threadsafe(_cancel_pending(), self.loop)
            with contextlib.suppress(TimeoutError):
                cancelled.result(timeout=grace_s)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


async def _cancel_pending() -> None:
    """Cancel every other task of the running loop and wait until each has ended."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
