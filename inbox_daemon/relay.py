"""One SMTP session to a relay, kept open and reused for several outbox jobs.

Every step is bounded: the TCP connect by `connect_timeout_s`, each command and its reply by
`timeout_s`, so a relay that accepts and never answers costs one timeout, never a hang.
Before each step `keep` is called (the outbox renews the job's lease there), so a lease
only has to outlast one step, not a whole session.

The session is driven through smtplib's public commands (`mail`, `rcpt`, `data`) instead of
`send_message`, for two reasons: `data` returns at the relay's 250, where the outbox writes
`sent` at once, before anything else can fail (a QUIT refused or cut is no reason to send
again); and one connection can carry the next job.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

from inbox_daemon.config import SmtpRelay

log = logging.getLogger(__name__)
# Errors that mean "the connection is gone": a reused session may have been closed by the
# relay while idle (Postfix drops them after 300 s); nothing was sent, so open a new one.
GONE = (smtplib.SMTPServerDisconnected, ConnectionError)


def relay_key(relay: SmtpRelay) -> tuple[str, int, str, str | None, str | None]:
    """What makes two relays the same session: jobs for equal keys share connections."""
    return relay.host, relay.port, relay.tls, relay.username, relay.from_


class RelaySession:
    """A reusable connection to one relay; `submit` one message at a time, from one thread."""

    def __init__(self, relay: SmtpRelay) -> None:
        self.relay = relay
        self._client: smtplib.SMTP | None = None
        self._aborted = threading.Event()

    def submit(self, message: EmailMessage, keep: Callable[[], None]) -> None:
        """Hand `message` to the relay; returns at its 250 to DATA, raises otherwise.

        The envelope sender is empty (RFC 3834: bounces of an automatic reply must not come
        back), unless the relay sends as its own mailbox (`from`, PEC).
        """
        recipient = str(message["To"])
        try:
            client = self._begin(keep)
            keep()
            code, reply = client.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
            keep()
            client.data(message.as_bytes(policy=SMTP_POLICY))  # SMTPDataError unless 250
        except smtplib.SMTPResponseException as exc:
            self._reset(exc.smtp_code)
            raise
        except OSError:  # a timeout or a cut: the session's state is unknown, drop it
            self.drop()
            raise

    @property
    def name(self) -> str:
        return f"{self.relay.host}:{self.relay.port}"

    def _begin(self, keep: Callable[[], None]) -> smtplib.SMTP:
        """MAIL FROM on the open session, else on a new one when the relay had closed it.

        Only this first command is ever repeated: nothing of the message was sent yet.
        """
        reused = self._client is not None
        client = self._open(keep)
        keep()
        try:
            code, reply = client.mail(self.relay.from_ or "")
        except GONE:
            code, reply = 421, b"connection closed"
        if code == 421 and reused and not self._aborted.is_set():
            log.debug("relay %s: idle session closed by the relay; reconnecting", self.name)
            self.drop()
            client = self._open(keep)
            keep()
            code, reply = client.mail(self.relay.from_ or "")
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, self.relay.from_ or "<>")
        return client

    def _open(self, keep: Callable[[], None]) -> smtplib.SMTP:
        if self._client is not None:
            return self._client
        if self._aborted.is_set():
            raise smtplib.SMTPServerDisconnected("delivery is stopping")
        keep()
        relay = self.relay
        context = ssl.create_default_context()
        # The connect gets its own, shorter bound; every later read and write the command one.
        # The client is kept before connecting, so that `abort` can cut a silent greeting.
        if relay.tls == "implicit":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                timeout=relay.connect_timeout_s, context=context
            )
        else:
            client = smtplib.SMTP(timeout=relay.connect_timeout_s)
        self._client = client
        try:
            code, reply = client.connect(relay.host, relay.port)
            if code != 220:  # smtplib checks the greeting only when it connects by itself
                raise smtplib.SMTPConnectError(code, reply)
            client.sock.settimeout(relay.timeout_s)
            keep()
            client.ehlo_or_helo_if_needed()
            if relay.tls == "starttls":
                client.starttls(context=context)
                client.sock.settimeout(relay.timeout_s)
            if relay.username:
                keep()
                client.login(relay.username, relay.password or "")
        except BaseException:
            self.drop()
            raise
        return client

    def _reset(self, code: int) -> None:
        """After a refusal the session is reusable once RSET is accepted; 421 ends it."""
        if code == 421 or self._client is None:
            self.drop()
            return
        try:
            self._client.rset()
        except (OSError, smtplib.SMTPException):
            self.drop()

    def close(self) -> None:
        """End a healthy, idle session politely (QUIT); a relay that is gone is dropped."""
        client = self._client
        if client is not None and client.sock is not None and not self._aborted.is_set():
            with contextlib.suppress(OSError):  # smtplib's errors are OSErrors too
                client.sock.settimeout(min(self.relay.timeout_s, 2.0))
                client.quit()
        self.drop()

    def drop(self) -> None:
        """Close the connection without a word: after a timeout or a cut, QUIT would only
        wait on the relay once more."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def abort(self) -> None:
        """From another thread: cut a session that is waiting on the relay (stop request).

        shutdown(2) wakes a thread blocked in recv at once, where close() alone would not.
        """
        self._aborted.set()
        client = self._client
        sock = client.sock if client is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)
