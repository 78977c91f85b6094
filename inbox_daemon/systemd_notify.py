"""Telling systemd (`Type=notify`) how the daemon is: ready, stopping, what it is doing, and
alive — the watchdog.

`WatchdogSec=` in the unit makes systemd restart a daemon that stops pinging. The pings come
from the main loop only, after each pass and each registered batch, so that a loop stuck in a
pass (a hung database call, a deadlock) stops them and is restarted, while a long backlog that
keeps registering keeps pinging. Outside systemd (no `NOTIFY_SOCKET`) everything here is a
no-op.
"""

from __future__ import annotations

import os
import socket
import time

MIN_GAP_S = 1.0  # pings and status lines at most this often


def notify(state: str) -> None:
    """One datagram to systemd's notify socket; a no-op outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(state.encode())


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
