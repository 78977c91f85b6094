"""Telling systemd (`Type=notify`) how the daemon is: ready, stopping, what it is doing, and
alive — the watchdog.

`WatchdogSec=` in the unit makes systemd restart a daemon that stops pinging. The pings come
from the main loop only, after each pass and each registered batch, so that a loop stuck in a
pass (a hung database call, a deadlock) stops them and is restarted, while a long backlog that
keeps registering keeps pinging. Outside systemd (no `NOTIFY_SOCKET`) everything here is a
no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)
MIN_GAP_S = 1.0  # pings and status lines at most this often
_failed = False  # a notification could not be sent: said once


def notify(state: str) -> None:
    """One datagram to systemd's notify socket; a no-op outside systemd.

    Never blocks and never raises: the main loop sends these, and a notification that cannot
    go (a socket nobody reads whose queue is full, a socket gone) must not stop it; a loop
    that stops for good is what the watchdog is there to see. The first failure is logged.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.connect(address)
            sock.send(state.encode())
    except OSError as exc:
        global _failed
        if not _failed:
            _failed = True
            log.warning("systemd notify socket %s: %s (notifications dropped)", address, exc)


class Watchdog:
    """Pings while the loop makes progress, with the status of what it is doing."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._last = 0.0
        self._status = ""

    def alive(self, status: str | None = None) -> None:
        """Progress was made; `status` says what the daemon is doing (`systemctl status`)."""
        if not self.enabled:
            return
        now = time.monotonic()
        changed = status is not None and status != self._status
        if now - self._last < MIN_GAP_S and not changed:
            return
        self._last = now
        lines = ["WATCHDOG=1"]
        if changed:
            self._status = status or ""
            lines.append(f"STATUS={self._status}")
        notify("\n".join(lines))
