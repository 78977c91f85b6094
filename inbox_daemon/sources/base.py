"""What every source provides. The spool is the only destination.

A source hands over raw bytes with their origin and receipt time, and acknowledges a message
to its server (IMAP move/flag, file move, SMTP 250) only after `Spool.store` (or
`store_many`, for a batch) has returned. Storing is the promise that makes a ticket: an
acknowledgement the server refuses is retried later, never a reason to stop reading. What a
source must remember between polls (IMAP's folder state) it keeps through the spool
(`Spool.folder_states`): no source holds a database engine of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from inbox_daemon.spool import Spool


class PolledSource(Protocol):
    name: str

    def poll(self, spool: Spool) -> int:
        """Store every waiting message and acknowledge each one; return how many were new."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class WatchedSource(PolledSource, Protocol):
    """A polled source that can also hear of new mail at once (IMAP IDLE)."""

    def watch(self, trigger: Callable[[], None]) -> None:
        """Start watching; call `trigger` (which polls this source) when mail may be waiting.
        `close()` stops watching."""
        ...


class PushSource(Protocol):
    """A source that receives on its own (SMTP): started and stopped by the daemon."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...
