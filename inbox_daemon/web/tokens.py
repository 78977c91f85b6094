"""Signed values the web pages hand out: form tokens, receipt links, status keys.

Nothing of them is kept on the server: each is an HMAC-SHA256 under the site's secret, so a
daemon restart (or a second instance sharing the secret) honours what the first one gave.

- A form token is a random nonce and the time the form was rendered. It proves the POST
  comes from a form this site served (CSRF), expires after `form_max_age_h`, and is the
  submission's identity: its nonce is the message's source UID, so a POST sent twice (a
  double click, a reload) is stored once (`spool.Origin`) and makes one ticket.
- A receipt token names a stored message: the answer page a submission is redirected to.
- A status key, per ticket number, opens `/stato/{number}` to whoever was told it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import struct
import time
from dataclasses import dataclass
from pathlib import Path

NONCE_BYTES = 8
SIG_BYTES = 16


@dataclass(frozen=True)
class FormToken:
    nonce: int  # 63 bits: the submission's source UID
    issued_at: float  # seconds since the epoch


class Signer:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def form_token(self, now: float | None = None) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        payload = nonce + struct.pack(">I", int(now if now is not None else time.time()))
        return f"{_b64(payload)}.{self._sign(b'form', payload)}"

    def read_form_token(self, token: str, max_age_s: float, now: float | None = None) -> FormToken:
        """The token's nonce and time; ValueError when forged, malformed or expired."""
        payload = self._verified(b"form", token)
        if len(payload) != NONCE_BYTES + 4:
            raise ValueError("malformed token")
        issued = struct.unpack(">I", payload[NONCE_BYTES:])[0]
        age = (now if now is not None else time.time()) - issued
        if not -60 <= age <= max_age_s:
            raise ValueError("expired token")
        return FormToken(int.from_bytes(payload[:NONCE_BYTES], "big") >> 1, issued)

    def receipt(self, message_pk: int) -> str:
        payload = struct.pack(">Q", message_pk)
        return f"{message_pk}-{self._sign(b'receipt', payload)}"

    def read_receipt(self, token: str) -> int:
        """The message id a receipt token names; ValueError when it is not one of ours."""
        pk, _, sig = token.partition("-")
        if not pk.isdigit() or len(pk) > 18:
            raise ValueError("malformed receipt")
        expected = self._sign(b"receipt", struct.pack(">Q", int(pk)))
        if not hmac.compare_digest(sig, expected):
            raise ValueError("forged receipt")
        return int(pk)

    def status_key(self, number: str) -> str:
        return self._sign(b"status", number.encode())

    def status_key_ok(self, number: str, key: str) -> bool:
        return hmac.compare_digest(key, self.status_key(number))

    def _sign(self, purpose: bytes, payload: bytes) -> str:
        mac = hmac.new(self._secret, purpose + b"|" + payload, hashlib.sha256)
        return _b64(mac.digest()[:SIG_BYTES])

    def _verified(self, purpose: bytes, token: str) -> bytes:
        text, _, sig = token.partition(".")
        try:
            payload = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except ValueError:
            raise ValueError("malformed token") from None
        if not hmac.compare_digest(sig, self._sign(purpose, payload)):
            raise ValueError("forged token")
        return payload


@dataclass(frozen=True)
class StatusLinks:
    """Each ticket's status page, for the acknowledgement (`$status_url`, `$status_line`)."""

    base_url: str
    secret: bytes

    def __call__(self, number: str) -> str:
        key = Signer(self.secret).status_key(number)
        return f"{self.base_url}/stato/{number}?chiave={key}"


def secret_path(secret_file: Path | None, storage_dir: Path) -> Path:
    """Where a web source's secret is: `secret_file`, else `web-secret` in the store."""
    return secret_file or storage_dir / "web-secret"


def load_secret(path: Path) -> bytes:
    """The site's secret from `path`, made there (32 random bytes, mode 0600) the first time.

    O_EXCL: two instances starting together on one shared store make one secret, not two.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as file:
            file.write(secrets.token_bytes(32))
            file.flush()
            os.fsync(file.fileno())
    secret = path.read_bytes().strip()
    if len(secret) < 16:
        raise ValueError(f"{path}: a secret of at least 16 bytes is needed")
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
