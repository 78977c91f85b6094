"""IMAP IDLE (RFC 2177): new mail becomes a ticket within seconds, not at the next poll.

One thread and one connection per watched folder. The thread only notices: on EXISTS it calls
`trigger`, which runs an ordinary poll, so fetching, storing and fault reporting stay in one
place. IDLE is re-issued every RENEW_S, under the 30 minutes after which servers may drop an
idle client. A lost connection is retried with capped exponential backoff; its faults are
logged at debug level only, because the poll reports them (once).
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import threading
import time
from collections.abc import Callable

from imapclient.exceptions import IMAPClientError

from inbox_daemon.backoff import Backoff
from inbox_daemon.config import ImapSource as ImapConfig
from inbox_daemon.errors import SourceError
from inbox_daemon.sources.imap_names import resolve
from inbox_daemon.sources.imap_session import ImapSession

log = logging.getLogger(__name__)
RENEW_S = 25 * 60.0
CHECK_S = 30.0  # how long one idle_check blocks; stop() shuts the socket to end it at once


class IdleWatcher(threading.Thread):
    def __init__(self, cfg: ImapConfig, folder: str, trigger: Callable[[], None]) -> None:
        super().__init__(name=f"idle:{cfg.name}:{folder}", daemon=True)
        self.cfg = cfg
        self.folder = folder
        self.trigger = trigger
        self._stopping = threading.Event()
        self._imap: ImapSession | None = None

    def run(self) -> None:
        backoff = Backoff(base_s=1.0, cap_s=300.0)
        while not self._stopping.is_set():
            try:
                self._imap = ImapSession(self.cfg)
                if not self._imap.has("IDLE"):
                    log.info("source %s: server has no IDLE; polling only", self.cfg.name)
                    return
                name = resolve(self.folder, self._imap.namespaces)  # as the poll reads it
                info = self._imap.client.select_folder(name, readonly=True)
                backoff.reset()
                # What arrived before this SELECT sends no EXISTS: poll for it (at start, or
                # after an outage).
                self.trigger()
                self._idle(self._imap, int(info[b"EXISTS"]))
            except (SourceError, IMAPClientError, imaplib.IMAP4.abort, OSError) as exc:
                log.debug("source %s: IDLE on %r: %s", self.cfg.name, self.folder, exc)
            finally:
                self._close()
            self._stopping.wait(backoff.next_delay())

    def _idle(self, imap: ImapSession, exists: int) -> None:
        """IDLE until the folder grows (our own moves shrink it: no reason to poll)."""
        client = imap.client
        while not self._stopping.is_set():
            client.idle()
            renew_at = time.monotonic() + RENEW_S
            grew = False
            while not grew and not self._stopping.is_set() and time.monotonic() < renew_at:
                started = time.monotonic()
                responses = client.idle_check(timeout=CHECK_S)
                if _closed(responses, time.monotonic() - started):
                    raise ConnectionError("the server closed the IDLE connection")
                exists, grew = _track(responses, exists)
            exists, grew_late = _track(client.idle_done()[1], exists)
            if (grew or grew_late) and not self._stopping.is_set():
                self.trigger()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        imap = self._imap
        if imap is not None:
            with contextlib.suppress(OSError):
                imap.client.socket().shutdown(2)  # wakes idle_check now
        self.join(timeout)

    def _close(self) -> None:
        imap, self._imap = self._imap, None
        if imap is not None and not self._stopping.is_set():
            imap.close()
        elif imap is not None:
            with contextlib.suppress(OSError):
                imap.client.socket().close()


def _closed(responses: list[object], waited: float) -> bool:
    """imapclient's idle_check swallows end-of-file and returns no responses: nothing back
    well before the timeout means the connection is gone (so does a BYE)."""
    if any(isinstance(r, tuple) and r and r[0] == b"BYE" for r in responses):
        return True
    return not responses and waited < CHECK_S * 0.9


def _track(responses: list[object], exists: int) -> tuple[int, bool]:
    """The folder's new message count from untagged responses, and whether it grew."""
    grew = False
    for response in responses:
        if not (isinstance(response, tuple) and len(response) >= 2):
            continue
        number, kind = response[0], response[1]
        if kind == b"EXISTS" and isinstance(number, int):
            grew, exists = grew or number > exists, number
        elif kind == b"EXPUNGE":
            exists -= 1
    return exists, grew
