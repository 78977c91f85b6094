"""What every source provides. The spool is the only destination.

A source hands over raw bytes with their origin and receipt time, and acknowledges a message
to its server (IMAP move/flag, file move, SMTP 250) only after `Spool.store` has returned.
"""

from __future__ import annotations

from typing import Protocol

from inbox_daemon.spool import Spool


class PolledSource(Protocol):
    name: str

    def poll(self, spool: Spool) -> int:
        """Store every waiting message and acknowledge each one; return how many were new."""
        ...

    def close(self) -> None: ...


class PushSource(Protocol):
    """A source that receives on its own (SMTP): started and stopped by the daemon."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...
