"""SMTP ingress: a fax gateway or an MTA delivers straight to the daemon (aiosmtpd).

The sender is told `250` only after `Spool.store` has returned, so the bytes and their
`message` row are durable before it forgets the message; if storing fails it gets
`451 4.3.0` and retries later. Acceptance is narrow on purpose: only the configured
recipients (never an open relay: `550 5.7.1` at RCPT), only from `client_networks` (`554` at
connect, `550` for HELO/EHLO/MAIL should a client get that far), at most `max_message_mb`
(announced as SIZE, `552` beyond it), STARTTLS and AUTH when configured.

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
import ipaddress
import logging
import re
import socket
import ssl
import warnings
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from inbox_daemon.config import SmtpSource
from inbox_daemon.errors import ConfigError, SourceError
from inbox_daemon.spool import Incoming, Origin, Spool
from inbox_daemon.store.types import utcnow

log = logging.getLogger(__name__)
CHANNEL_STRENGTH = {"email": 0, "pec": 1, "fax": 2}
REFUSED_CLIENT = "554 5.7.1 Your address is not allowed to send mail here"
REFUSED_COMMAND = "550 5.7.1 Your address is not allowed to send mail here"


class SmtpIngress:
    """The PushSource: an aiosmtpd server in its own thread, started and stopped by the daemon."""

    def __init__(self, config: SmtpSource, spool: Spool, on_new: Callable[[], None]) -> None:
        self.name = config.name
        self.config = config
        host, port = config.host_port
        hostname = config.hostname or socket.gethostname()
        self.handler = IngressHandler(config, spool, on_new, hostname)
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            # aiosmtpd logs every command at INFO; its story is kept for --verbose.
            logging.getLogger("mail.log").setLevel(logging.WARNING)
        if config.require_auth and config.listens_on_loopback:
            # aiosmtpd warns about AUTH without TLS; on loopback that is the intended setup.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
        self._controller = _Controller(
            self.handler,
            hostname=host,
            port=port,
            server_hostname=hostname,
            data_size_limit=config.max_message_mb * 1024 * 1024,
            tls_context=_tls_context(config),
            require_starttls=config.require_starttls,
            auth_required=config.require_auth,
            auth_require_tls=not config.listens_on_loopback,
            authenticator=self.handler.authenticate if config.username else None,
        )

    @property
    def port(self) -> int:
        """The bound port: the configured one, or the one the system chose for port 0."""
        return self._controller.port

    def start(self) -> None:
        try:
            self._controller.start()
        except OSError as exc:  # the address is in use, or not ours
            message = f"smtp {self.name}: cannot listen on {self.config.listen}: {exc}"
            raise SourceError(message) from None
        log.info("smtp %s: listening on %s:%d", self.name, self._controller.hostname, self.port)

    def stop(self) -> None:
        self._controller.stop()


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
        self, config: SmtpSource, spool: Spool, on_new: Callable[[], None], hostname: str
    ) -> None:
        self.config = config
        self.spool = spool
        self.on_new = on_new
        self.hostname = hostname
        self.networks = [ipaddress.ip_network(n, strict=False) for n in config.client_networks]

    def client_allowed(self, peer: Any) -> bool:
        try:
            address = ipaddress.ip_address(str(peer[0]).partition("%")[0])
        except (TypeError, ValueError, IndexError):
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        if not self.client_allowed(session.peer):
            return REFUSED_COMMAND
        session.host_name = hostname
        return f"250 {self.hostname}"

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
            return f"550 5.7.1 <{_printable(address)}>: relay access denied"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        received_at = utcnow()
        incoming = Incoming(
            raw=self.trace_headers(session, envelope, received_at) + envelope.original_content,
            origin=Origin(source=self.config.name, detail=_session_detail(session, envelope)),
            received_at=received_at,
            channel=self.channel_for(envelope.rcpt_tos),
        )
        loop = asyncio.get_running_loop()
        try:
            # Blocking (fsync + SQLite): off the event loop, so other sessions keep going.
            spooled = await loop.run_in_executor(None, self.spool.store, incoming)
        except Exception:  # any failure to store must become "try again", never a lost 250
            log.exception("smtp %s: cannot store a message from %r", self.config.name, session.peer)
            return "451 4.3.0 Temporary storage failure, please retry later"
        log.info("smtp %s: stored message %s (%s) from <%s> for %s", self.config.name,
                 spooled.message_pk, incoming.channel, _printable(envelope.mail_from or ""),
                 ", ".join(_printable(r) for r in envelope.rcpt_tos))  # fmt: skip
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
        for_clause = f"\r\n\tfor <{_printable(recipients[0])}>" if len(recipients) == 1 else ""
        lines = (
            f"Return-Path: <{_printable(reverse_path or '')}>\r\n"
            f"Received: from {_printable(session.host_name or 'unknown')} "
            f"([{_printable(str(session.peer[0]))}])\r\n"
            f"\tby {_printable(self.hostname)} (inbox-daemon) with {protocol}{for_clause};\r\n"
            f"\t{format_datetime(at)}\r\n"
        )
        return lines.encode("utf-8", errors="surrogateescape")


def _session_detail(session: Session, envelope: Envelope) -> str:
    """For people reading `messages show`: peer, HELO, envelope sender and recipients."""
    peer = f"{session.peer[0]}:{session.peer[1]}" if session.peer else "?"
    rcpts = ", ".join(f"<{_printable(r)}>" for r in envelope.rcpt_tos)
    detail = (
        f"smtp session: peer {peer}, helo {_printable(session.host_name or '')}, "
        f"mail from <{_printable(envelope.mail_from or '').strip('<>')}>, rcpt {rcpts}"
    )
    return detail[:1000]


def _printable(text: str) -> str:
    """Client-supplied text in a header or log: no control characters, bounded length."""
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)[:255]


class _Server(SMTP):
    """aiosmtpd's SMTP, refusing clients outside `client_networks` before the greeting.

    aiosmtpd has no public hook before the greeting, hence the private `_handle_client`
    (and `_trigger_server` below): pyproject.toml pins aiosmtpd below 1.5 until a newer
    release is tested (tests/smtp cover both)."""

    async def _handle_client(self) -> None:
        handler = self.event_handler
        if self.session is not None and not handler.client_allowed(self.session.peer):
            log.info("smtp: refused connection from %r", self.session.peer)
            await self.push(REFUSED_CLIENT)
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()


class _Controller(Controller):
    """A Controller that builds `_Server` and can bind port 0 (tests use an ephemeral port)."""

    def factory(self) -> SMTP:
        return _Server(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # aiosmtpd connects to itself to finish start-up; with port 0 it must learn the port.
        if self.server is not None and self.server.sockets:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()
