"""SMTP ingress: a fax gateway or an MTA delivers straight to the daemon (aiosmtpd).

The sender is told `250` only after its message's file is synced and its `message` row
committed (sessions ending together share the sync and the commit, `smtp_commit.py`), so
the bytes and their row are durable before it forgets the message; if storing fails it
gets `451 4.3.0` and retries later. Sessions are bounded (`smtp_gate.py`):
`max_connections`, per client address, idle and data timeouts, `421` beyond them and while
the daemon stops.

Acceptance is narrow on purpose: only the configured recipients (never an open relay: `550
5.7.1` at RCPT), only from `client_networks` (`554` at connect, `550` for HELO/EHLO/MAIL
should a client get that far), at most `max_message_mb` (announced as SIZE, `552` beyond
it), STARTTLS and AUTH when configured.

Two decisions an operator should know:

- One message is stored once, whatever its recipients. Its channel is the strongest of its
  accepted recipients' channels, fax > pec > email: a copy addressed to the fax gateway means
  the content is a fax, whose pages need OCR; two tickets for one request would be wrong.
- `Return-Path:` and `Received:` are prepended, as RFC 5321 4.4 requires of a delivering
  server: the empty Return-Path of a bounce lets the parser recognise it, and the Received
  date keeps the reception time inside the bytes (re-ingested from a file, it gives the same
  `received_at`). So an MTA's retry of a message is new bytes; the pipeline's Message-ID
  check makes it a `duplicate`, never a second ticket.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import socket
import ssl
import warnings
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from inbox_daemon.config import SmtpSource
from inbox_daemon.errors import ConfigError, SourceError
from inbox_daemon.header_text import one_line
from inbox_daemon.sources.joined import JoinedReader
from inbox_daemon.sources.loop_thread import LoopThread
from inbox_daemon.sources.smtp_commit import GroupCommit
from inbox_daemon.sources.smtp_gate import Gate, Limits, public_names, session_factory
from inbox_daemon.spool import Incoming, Origin, Spool
from inbox_daemon.store.db import is_outage, outage
from inbox_daemon.store.types import utcnow

log = logging.getLogger(__name__)
CHANNEL_STRENGTH = {"email": 0, "pec": 1, "fax": 2}
BACKLOG = 100  # queued by the kernel; also how many asyncio accepts at once, before the gate
# can refuse any: descriptors needed = max_connections + BACKLOG + the daemon's own (~100)
STOP_GRACE_S = 5.0  # at stop, how long messages under way may take to finish
REFUSED_COMMAND = "550 5.7.1 Your address is not allowed to send mail here"
DB_AWAY = "451 4.3.0 Database unavailable, please retry later"
DB_RECHECK_S = 1.0  # while the database is away, ask it again at most this often
JOINED_BYTES = 1 << 20  # a message this large is stored behind its trace headers unjoined
Hook = TypeVar("Hook", bound=Callable[..., Any])


def _signature_kept(hook: Hook) -> Hook:
    """aiosmtpd asks `inspect.signature` of the EHLO hook for every connection (to tell its
    old 4-argument form from the 5-argument one): about 50 µs a connection, a twentieth of
    what a whole message costs. A function's `__signature__` is what `inspect.signature`
    gives back without working it out (inspect's documented protocol), so it is worked out
    once, here."""
    hook.__signature__ = inspect.signature(hook)  # type: ignore[attr-defined]
    return hook


class SmtpIngress:
    """The PushSource: an aiosmtpd server on an event loop of its own, in its own thread."""

    def __init__(self, config: SmtpSource, spool: Spool, on_new: Callable[[], None]) -> None:
        self.name = config.name
        self.config = config
        hostname = config.hostname or socket.gethostname()
        self.commit = GroupCommit(spool)
        self.gate = Gate(hostname, _limits(config), config.client_networks)
        self.handler = IngressHandler(config, self.commit, self.gate, on_new, hostname)
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            # aiosmtpd logs every command at INFO; its story is kept for --verbose.
            logging.getLogger("mail.log").setLevel(logging.WARNING)
        if config.require_auth and config.listens_on_loopback:
            # aiosmtpd warns about AUTH without TLS; on loopback that is the intended setup.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
        self._runs = LoopThread(f"smtp-{self.name}")
        self._loop = self._runs.loop
        self._server: asyncio.Server | None = None
        self._port = config.host_port[1]
        self._sweeper: asyncio.Task[None] | None = None
        self._smtp_kwargs: dict[str, Any] = dict(
            hostname=hostname,
            ident="ESMTP inbox-daemon",  # the service, not aiosmtpd's name and version
            data_size_limit=config.max_message_mb * 1024 * 1024,
            tls_context=_tls_context(config),
            require_starttls=config.require_starttls,
            auth_required=config.require_auth,
            auth_require_tls=not config.listens_on_loopback,
            authenticator=self.handler.authenticate if config.username else None,
            loop=self._loop,
        )

    @property
    def pressed(self) -> bool:
        """Several clients waited at once for their message to be stored, just now: the
        daemon's registration then waits (`daemon.py`). Any thread may ask."""
        return self.commit.pressed

    @property
    def port(self) -> int:
        """The bound port: the configured one, or the one the system chose for port 0."""
        return self._port

    def start(self) -> None:
        self._loop.set_exception_handler(self.gate.exception_handler)
        self._runs.start()
        try:
            self._server = self._runs.call(self._listen())
            self._port = int(self._server.sockets[0].getsockname()[1])
        except OSError as exc:  # the address is in use, or not ours
            self._halt()
            message = f"smtp {self.name}: cannot listen on {self.config.listen}: {exc}"
            raise SourceError(message) from None
        log.info("smtp %s: listening on %s port %d", self.name, self.config.host_port[0], self.port)

    def stop(self) -> None:
        """Answer 421 to new sessions and new transactions, let the messages under way finish
        (at most `STOP_GRACE_S`), then close every session and the listening socket."""
        if self._server is None:
            return
        self._runs.call(self._stop())
        self._halt()
        self._server = None
        self.gate.repeats.flush()
        log.info("smtp %s: stopped", self.name)

    async def _listen(self) -> asyncio.Server:
        host, port = self.config.host_port
        factory = session_factory(self.gate, self.handler, **self._smtp_kwargs)
        server = await self._loop.create_server(factory, host or None, port, backlog=BACKLOG)
        self._sweeper = asyncio.create_task(self.gate.sweep())
        return server

    async def _stop(self) -> None:
        self.gate.stopping = True
        deadline = self._loop.time() + STOP_GRACE_S
        while (self.gate.busy() or not self.commit.idle) and self._loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert self._server is not None
        self._server.close()
        for session in list(self.gate.sessions):
            session.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        await asyncio.sleep(0)  # let the closing sessions run their connection_lost

    def _halt(self) -> None:
        self._runs.halt()
        self.commit.close()


def _limits(config: SmtpSource) -> Limits:
    return Limits(
        max_connections=config.max_connections,
        per_client=config.max_connections_per_client,
        idle_timeout_s=config.idle_timeout_s,
        data_timeout_s=config.data_timeout_s,
    )


def _tls_context(config: SmtpSource) -> ssl.SSLContext | None:
    if not config.tls_cert or not config.tls_key:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError([f"sources.{config.name}.tls_cert: cannot load: {exc}"]) from None
    return context


class IngressHandler:
    """aiosmtpd hooks: who may talk, to whom, and storing before answering 250."""

    def __init__(
        self,
        config: SmtpSource,
        commit: GroupCommit,
        gate: Gate,
        on_new: Callable[[], None],
        hostname: str,
    ) -> None:
        self.config = config
        self.commit = commit
        self.gate = gate  # asked whether a client may talk and whether the ingress is stopping
        self.on_new = on_new
        self.hostname = hostname
        self.outage = outage(commit.spool.engine)  # one per database: looked up once

    def __dir__(self) -> list[str]:
        """Public names only: aiosmtpd lists the handler's for its hooks at each connection
        (as it does the session's: `Session.__dir__`)."""
        return public_names(self)

    def client_allowed(self, peer: Any) -> bool:
        # The gate refuses such clients at connect; this holds should one get past it.
        return self.gate.client_allowed(peer)

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        if not self.client_allowed(session.peer):
            return REFUSED_COMMAND
        session.host_name = hostname
        return f"250 {self.hostname}"

    @_signature_kept
    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        if not self.client_allowed(session.peer):
            return [REFUSED_COMMAND]
        session.host_name = hostname
        if not self.config.username:  # no credentials configured: do not offer AUTH
            responses = [r for r in responses if not r.startswith("250-AUTH")]
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not self.client_allowed(session.peer):
            return REFUSED_COMMAND
        if self.gate.stopping:
            if server.transport is not None:  # RFC 5321 3.8: 421, then close
                server.loop.call_soon(server.transport.close)
            return f"421 4.3.2 {self.hostname} Service shutting down, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not self.config.accepts(address):
            log.info(
                "smtp %s: refused recipient %r from %r", self.config.name, address, session.peer
            )
            return f"550 5.7.1 <{_one_line(address)}>: relay access denied"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        received_at = utcnow()
        trace, body = self.trace_headers(session, envelope, received_at), envelope.original_content
        assert body is not None  # set before this hook is called
        # A large message is not copied once more to put the trace headers before it: the
        # blob store reads the two from a reader, a chunk at a time (`JoinedReader`).
        joined = len(body) >= JOINED_BYTES
        incoming = Incoming(
            raw=b"" if joined else trace + body,
            origin=Origin(source=self.config.name, detail=_session_detail(session, envelope)),
            received_at=received_at,
            channel=self.channel_for(envelope.rcpt_tos),
            file=JoinedReader(trace, body).binary() if joined else None,
        )
        if self.outage.failed_within(DB_RECHECK_S):
            return DB_AWAY  # the outage is logged once, by the store (`db.Outage`)
        try:
            # Shared with the sessions ending at the same time: one sync, one commit.
            spooled = await self.commit.store(incoming)
        except Exception as exc:  # any failure to store must become "try again", never a 250
            if is_outage(exc):
                return DB_AWAY
            log.exception("smtp %s: cannot store a message from %r", self.config.name, session.peer)
            return "451 4.3.0 Temporary storage failure, please retry later"
        if log.isEnabledFor(logging.INFO):  # not even its arguments built per message at -q
            log.info("smtp %s: stored message %s (%s) from <%s> for %s", self.config.name,
                     spooled.message_pk, incoming.channel, _one_line(envelope.mail_from or ""),
                     ", ".join(_one_line(r) for r in envelope.rcpt_tos))  # fmt: skip
        if spooled.new:
            self.on_new()
        return f"250 2.0.0 OK: stored as message {spooled.message_pk}"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """AUTH PLAIN / LOGIN against the configured username and password."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login_ok = hmac.compare_digest(auth_data.login, (self.config.username or "").encode())
        password_ok = hmac.compare_digest(auth_data.password, (self.config.password or "").encode())
        return AuthResult(success=login_ok and password_ok, handled=False)

    def channel_for(self, recipients: list[str]) -> str:
        """The strongest channel among the recipients (fax > pec > email); see the module doc."""
        channels = [self.config.channels.get(r.lower(), self.config.channel) for r in recipients]
        return max(channels, key=lambda c: CHANNEL_STRENGTH[c], default=self.config.channel)

    def trace_headers(self, session: Session, envelope: Envelope, at: datetime) -> bytes:
        """Return-Path and Received, as a delivering MTA prepends them (RFC 5321 4.4)."""
        reverse_path = "" if envelope.mail_from == "<>" else envelope.mail_from
        protocol = "ESMTP" if session.extended_smtp else "SMTP"
        protocol += "S" if session.ssl else ""
        protocol += "A" if session.authenticated else ""
        recipients = envelope.rcpt_tos
        for_clause = f"\r\n\tfor <{_one_line(recipients[0])}>" if len(recipients) == 1 else ""
        lines = (
            f"Return-Path: <{_one_line(reverse_path or '')}>\r\n"
            f"Received: from {_one_line(session.host_name or 'unknown')} "
            f"([{_one_line(str(session.peer[0]))}])\r\n"
            f"\tby {_one_line(self.hostname)} (inbox-daemon) with {protocol}{for_clause};\r\n"
            f"\t{_rfc5322_date(at)}\r\n"
        )
        return lines.encode("utf-8", errors="surrogateescape")


def _session_detail(session: Session, envelope: Envelope) -> str:
    """For people reading `messages show`: peer, HELO, envelope sender and recipients."""
    peer = f"{session.peer[0]}:{session.peer[1]}" if session.peer else "?"
    rcpts = ", ".join(f"<{_one_line(r)}>" for r in envelope.rcpt_tos)
    detail = (
        f"smtp session: peer {peer}, helo {_one_line(session.host_name or '')}, "
        f"mail from <{_one_line(envelope.mail_from or '').strip('<>')}>, rcpt {rcpts}"
    )
    return detail[:1000]


def _one_line(text: str) -> str:
    """Client-supplied text in a header or log: one line, bounded (`header_text`). Text that
    is one line already (printable, so no control or line separator; no run of spaces; not
    padded) is returned as it is, without `one_line`'s two regex passes: what clients send."""
    if len(text) <= 255 and text.isprintable() and "  " not in text and text.strip() == text:
        return text
    return one_line(text, limit=255)


def _rfc5322_date(at: datetime) -> str:
    """`format_datetime(at)`, which has no finer unit than the second: the sessions ending
    in one second share it."""
    return _date_of_second(at.replace(microsecond=0))


@lru_cache(maxsize=4)
def _date_of_second(at: datetime) -> str:
    return format_datetime(at)
