"""One IMAP connection, and every way it can fail said in one line an operator can act on.

Failures become `SourceError` whose text names the server or account and what to check; the
daemon logs each distinct text once. `ConnectionLost` marks the failures after which the
connection is unusable (the caller reconnects, with backoff); any other `SourceError` concerns
one folder or one command, and the connection stays open for the rest.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, IMAPClientError, LoginError
from imapclient.imapclient import SocketTimeout

from inbox_daemon.config import ImapSource as ImapConfig
from inbox_daemon.errors import SourceError
from inbox_daemon.sources.imap_names import Namespaces

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 30.0
READ_TIMEOUT_S = 300.0  # one recv() of a large message from a slow server
SYSTEM_FLAG_SEARCH = {  # flag -> the SEARCH key for messages without it
    "\\seen": "UNSEEN",
    "\\flagged": "UNFLAGGED",
    "\\answered": "UNANSWERED",
    "\\draft": "UNDRAFT",
    "\\deleted": "UNDELETED",
}


class ConnectionLost(SourceError):
    """The connection cannot be used any more: reconnect (with backoff) before the next try."""


class Refused(SourceError):
    """The server refused to move or flag stored messages (the connection stays usable)."""


@dataclass(frozen=True)
class Selected:
    uidvalidity: int
    permanent_flags: tuple[bytes, ...] | None  # None: the server listed none (all allowed)


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes
    internal_date: datetime  # aware: the client runs with normalise_times off


def tls_context(cfg: ImapConfig) -> ssl.SSLContext:
    """Verification on unless the operator turned it off; `ca_file` for a private CA."""
    context = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
    if not cfg.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def describe(exc: BaseException, cfg: ImapConfig) -> str:
    """What went wrong and what to check, in one line."""
    where = f"{cfg.host}:{cfg.effective_port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS certificate of {where} not trusted ({exc.verify_message}): set ca_file to "
            "the CA that signed it (verify_tls = false only for a test server)"
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f"TLS with {where} failed ({exc.reason or exc}): check tls "
            "(implicit for port 993, starttls for 143)"
        )
    if isinstance(exc, ConnectionRefusedError):
        return f"connection to {where} refused: is the server running, are host and port right?"
    if isinstance(exc, socket.gaierror):
        return f"host {cfg.host!r} not found ({exc.strerror}): check host and DNS"
    if isinstance(exc, TimeoutError):
        return f"no answer from {where}: check the network and the firewall"
    if isinstance(exc, (imaplib.IMAP4.abort, ConnectionError, EOFError)):
        return f"connection to {where} lost ({exc or type(exc).__name__}); reconnecting"
    if isinstance(exc, OSError):
        return f"cannot talk to {where}: {exc.strerror or exc}"
    return f"{where} answered: {_text(exc)}"


def _text(exc: BaseException) -> str:
    arg = exc.args[0] if exc.args else exc
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


def _secret_hint(cfg: ImapConfig) -> str:
    if cfg.password_env:
        return f"password_env {cfg.password_env}"
    return f"password_file {cfg.password_file}"


class ImapSession:
    """A logged-in connection. Methods raise `ConnectionLost` or `SourceError`, never
    library or socket errors."""

    def __init__(self, cfg: ImapConfig) -> None:
        self.cfg = cfg
        self.client = self._connect()
        with self._errors():
            self.capabilities = {c.upper() for c in self.client.capabilities()}
            self.namespaces = self._namespaces()
        self._targets: set[str] = set()  # move targets known to exist
        self._selected: str | None = None

    def _connect(self) -> IMAPClient:
        cfg = self.cfg
        context = tls_context(cfg) if cfg.tls != "none" else None
        timeout = SocketTimeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S)
        try:
            client = IMAPClient(
                cfg.host, cfg.effective_port, ssl=cfg.tls == "implicit", ssl_context=context,
                timeout=timeout,
            )  # fmt: skip
            client.normalise_times = False  # keep INTERNALDATE's own offset
            if cfg.tls == "starttls":
                client.starttls(context)
        except CapabilityError:
            raise ConnectionLost(
                f"{cfg.host}:{cfg.effective_port} does not offer STARTTLS: "
                "use tls = implicit (port 993)"
            ) from None
        except (OSError, IMAPClientError) as exc:
            raise ConnectionLost(describe(exc, cfg)) from None
        try:
            client.login(cfg.username, cfg.password or "")
        except LoginError:
            _shutdown(client)
            raise ConnectionLost(
                f"login refused for {cfg.username} at {cfg.host}: check {_secret_hint(cfg)}"
            ) from None
        except (OSError, IMAPClientError) as exc:
            _shutdown(client)
            raise ConnectionLost(describe(exc, cfg)) from None
        return client

    def _namespaces(self) -> Namespaces:
        """Where personal folders live (RFC 2342); a server without NAMESPACE puts them at
        the top."""
        if not self.has("NAMESPACE"):
            return Namespaces()
        found = self.client.namespace()
        return Namespaces(found.personal or (), found.other or (), found.shared or ())

    @contextmanager
    def _errors(
        self, folder: str | None = None, kind: type[SourceError] = SourceError
    ) -> Iterator[None]:
        try:
            yield
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise ConnectionLost(describe(exc, self.cfg)) from None
        except IMAPClientError as exc:
            where = f"folder {folder!r}: " if folder else ""
            raise kind(where + describe(exc, self.cfg)) from None

    def has(self, capability: str) -> bool:
        return capability.upper().encode() in self.capabilities

    def alive(self) -> bool:
        try:
            self.client.noop()
        except (OSError, IMAPClientError):
            return False
        return True

    def select(self, folder: str, readonly: bool) -> Selected:
        """Open `folder` (its name on the server); a missing folder is named with the folders
        that do exist."""
        try:
            info = self.client.select_folder(folder, readonly=readonly)
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise ConnectionLost(describe(exc, self.cfg)) from None
        except IMAPClientError as exc:
            with self._errors():
                names = ", ".join(repr(f[2]) for f in self.client.list_folders())
            raise SourceError(
                f"folder {folder!r} cannot be opened on {self.cfg.host} ({_text(exc)}): "
                f"check folders; the mailbox has {names} ({self.namespaces.describe()})"
            ) from None
        self._selected = folder
        permanent = info.get(b"PERMANENTFLAGS")
        kept = tuple(permanent) if permanent is not None else None  # (): none is kept
        return Selected(int(info[b"UIDVALIDITY"]), kept)

    def search(self, after: str, last_uid: int) -> list[int]:
        """UIDs still to fetch. `keep` trusts the resume point; `move` and `flag` look at what
        has not been moved or flagged yet, so a crash between storing and acting is finished
        on the next pass."""
        if after.startswith("move:"):
            criteria: list[Any] = ["ALL"]
        elif after.startswith("flag:"):
            flag = after.removeprefix("flag:")
            key = SYSTEM_FLAG_SEARCH.get(flag.lower())
            criteria = [key] if key else ["UNKEYWORD", flag]
        else:
            criteria = ["UID", f"{last_uid + 1}:*"]
        with self._errors():
            uids = self.client.search(criteria)
        floor = last_uid if after == "keep" else 0  # "n:*" always matches the highest UID
        return sorted(uid for uid in uids if uid > floor)

    def sizes(self, uids: list[int]) -> dict[int, int]:
        sizes: dict[int, int] = {}
        with self._errors():
            for chunk in _chunks(uids, 500):
                for uid, data in self.client.fetch(chunk, ["RFC822.SIZE"]).items():
                    sizes[uid] = int(data[b"RFC822.SIZE"])
        return sizes

    def fetch(self, uids: list[int]) -> list[Fetched]:
        """Whole messages in one round trip. BODY.PEEK: nothing is marked \\Seen before the
        spool has it."""
        with self._errors():
            found = self.client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"])
        return [
            Fetched(uid, found[uid][b"BODY[]"], found[uid][b"INTERNALDATE"])
            for uid in uids
            if uid in found and found[uid].get(b"BODY[]") is not None
        ]

    def acknowledge(self, after: str, uids: list[int], retried: set[int]) -> None:
        """Tell the server these stored messages are done: move them, or flag them. `retried`
        are the ones stored on an earlier pass (a crash, or a refusal, came in between).
        Raises `Refused` when the server says no, `ConnectionLost` when it is gone."""
        if not uids or after == "keep":
            return
        action, _, arg = after.partition(":")
        with self._errors(kind=Refused):
            if action == "flag":
                self.client.add_flags(uids, [arg], silent=True)
            else:
                self._move(uids, arg, retried)

    def _move(self, uids: list[int], target: str, retried: set[int]) -> None:
        if target not in self._targets:
            if not self.client.folder_exists(target):
                self.client.create_folder(target)
            self._targets.add(target)
        if self.has("MOVE"):
            self.client.move(uids, target)
            return
        # RFC 6851 fallback: COPY, STORE \Deleted, EXPUNGE. A crash before the expunge leaves
        # the message in both folders; the next pass finds it here again, stored, and must not
        # copy it a second time: what the target already holds is only expunged here.
        copied = self._already_copied([uid for uid in uids if uid in retried], target)
        fresh = [uid for uid in uids if uid not in copied]
        if fresh:
            self.client.copy(fresh, target)
        self.client.add_flags(uids, [b"\\Deleted"], silent=True)
        if self.has("UIDPLUS"):
            self.client.uid_expunge(uids)
        else:
            self._expunge_only(uids)

    def _already_copied(self, uids: list[int], target: str) -> set[int]:
        """Which of `uids` the target already holds: same Message-ID and same size (COPY keeps
        the bytes). COPYUID would say it too, but only with UIDPLUS, and only if recorded
        before the crash; the target itself is the truth on every server."""
        if not uids or self._selected is None:
            return set()
        wanted = self._message_ids(uids)
        if not wanted:
            return set()
        home = self._selected
        self.client.select_folder(target, readonly=True)
        try:
            return {uid for uid, (mid, size) in wanted.items() if self._holds(mid, size)}
        finally:
            self.client.select_folder(home)

    def _message_ids(self, uids: list[int]) -> dict[int, tuple[str, int]]:
        found = self.client.fetch(uids, ["RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        wanted = {}
        for uid, data in found.items():
            raw = _header_fields(data)
            header = BytesHeaderParser().parsebytes(raw)["Message-ID"]
            if header and header.strip():
                wanted[uid] = (header.strip(), int(data[b"RFC822.SIZE"]))
        return wanted

    def _holds(self, message_id: str, size: int) -> bool:
        hits = self.client.search(["HEADER", "MESSAGE-ID", message_id])
        sizes = self.client.fetch(hits, ["RFC822.SIZE"]) if hits else {}
        return any(int(data[b"RFC822.SIZE"]) == size for data in sizes.values())

    def _expunge_only(self, uids: list[int]) -> None:
        """EXPUNGE without UIDPLUS removes every \\Deleted message in the folder, also one
        another client flagged and we have not stored yet (a later batch, or over
        max_message_mb): it would vanish unstored. Hide such messages from the EXPUNGE, as
        RFC 4315 describes, and flag them again. A crash in between leaves them unflagged:
        still in the folder, stored and moved on the next pass."""
        mine = set(uids)
        others = [uid for uid in self.client.search(["DELETED"]) if uid not in mine]
        if others:
            self.client.remove_flags(others, [b"\\Deleted"], silent=True)
        self.client.expunge()
        if others:
            self.client.add_flags(others, [b"\\Deleted"], silent=True)

    def close(self) -> None:
        try:
            self.client.logout()
        except (OSError, IMAPClientError):
            _shutdown(self.client)


def _shutdown(client: IMAPClient) -> None:
    with suppress(OSError):
        client.shutdown()


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _header_fields(data: dict[bytes, object]) -> bytes:
    """The fetched header lines, whatever the server calls the item: Dovecot echoes
    `BODY[HEADER.FIELDS (MESSAGE-ID)]`, Courier quotes the field name (`("MESSAGE-ID")`)."""
    for key, value in data.items():
        if key.upper().startswith(b"BODY[HEADER.FIELDS") and isinstance(value, bytes):
            return value
    return b""
