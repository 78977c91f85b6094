"""Signed attachments (CAdES `.p7m`): the document inside, and who signed it.

Municipal letters come as `nota.pdf.p7m`: a CMS SignedData with the document encapsulated,
as DER, BER with indefinite lengths, or base64 text of either, sometimes signed again over
the signed file. Each level is unwrapped and its signature checked for integrity (the
content is what was signed); the signer is recorded. Whether the signer is trusted is not
asked here: qualified signers' CAs are in the EU trusted lists, not in the PEC trust store,
and an unknown signer must not reject a citizen's or an office's letter. Nesting is bounded.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime

from parsers.pec import cms

MAX_LEVELS = 8
_BASE64 = re.compile(rb"^[A-Za-z0-9+/=\s]+$")
_PEM = re.compile(rb"-----BEGIN [A-Z0-9 ]+-----(.*?)-----END [A-Z0-9 ]+-----", re.S)


@dataclass(frozen=True)
class Signer:
    name: str
    signing_time: datetime | None


@dataclass(frozen=True)
class Unwrapped:
    """The innermost content reached, its name without `.p7m`, and each level's signer."""

    content: bytes | None  # None: not even the first level could be read
    filename: str
    signers: tuple[Signer, ...]
    problem: str | None  # why a level could not be read or does not verify (Italian)


def is_signed_file(filename: str, content_type: str) -> bool:
    return filename.lower().endswith(".p7m") or content_type in (
        "application/pkcs7-mime",
        "application/x-pkcs7-mime",
    )


def unwrap(data: bytes, filename: str) -> Unwrapped:
    """Every signed level of a `.p7m`, down to the document."""
    name = filename
    signers: list[Signer] = []
    current = data
    for level in range(MAX_LEVELS + 1):
        der = _der(current)
        if der is None:
            if level == 0:
                return Unwrapped(None, name, (), "non è un file firmato CAdES leggibile")
            return Unwrapped(current, name, tuple(signers), None)  # the document
        if level == MAX_LEVELS:
            why = f"firme annidate oltre {MAX_LEVELS} livelli: contenuto non estratto"
            return Unwrapped(None, name, tuple(signers), why)
        try:
            signed = cms.verify(cms.load(der))
        except cms.SignatureError as exc:
            return Unwrapped(None if level == 0 else current, name, tuple(signers), str(exc))
        signers.append(Signer(signed.signer.subject.human_friendly, signed.signing_time))
        current = signed.content
        name = name[:-4] if name.lower().endswith(".p7m") else name
    raise AssertionError("unreachable")  # pragma: no cover


def _der(data: bytes) -> bytes | None:
    """The DER/BER of a SignedData, from binary, PEM or base64 text; None for a document."""
    head = data[:64].lstrip()
    if head[:1] == b"\x30" and _is_signed_data(data):
        return data
    pem = _PEM.search(data[: 1 << 20]) if head.startswith(b"-----BEGIN") else None
    text = pem.group(1) if pem else data
    if len(text) < 1 << 26 and _BASE64.match(text[:4096]):
        try:
            decoded = base64.b64decode(re.sub(rb"\s+", b"", text), validate=True)
        except (binascii.Error, ValueError):
            return None
        if decoded[:1] == b"\x30" and _is_signed_data(decoded):
            return decoded
    return None


def _is_signed_data(data: bytes) -> bool:
    """The pkcs7-signedData OID near the start: cheaper than a parse, and a document (a PDF,
    an XML invoice) never starts with it."""
    return b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02" in data[:32]
