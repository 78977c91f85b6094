"""Attachment file names that are safe to show and to write anywhere.

A sender chooses the name: it may hold directories ("../../etc/passwd", "C:\\x\\y.pdf"),
control characters, a right-to-left override that hides the real extension, a name Windows
reserves (CON, NUL), or 2,000 characters. The store writes by content hash, but operators
save attachments by name, so the name must be harmless on every filesystem.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata

from parsers.headers import decode_words

MAX_NAME_BYTES = 200  # below the usual 255-byte limit, leaving room for a de-duplicating suffix

_FORBIDDEN = re.compile(r'[<>:"|?*]')
_WHITESPACE = re.compile(r"\s+")
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
_EXTENSION = re.compile(r"\.[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")
_KNOWN_EXTENSIONS = {
    "text/plain": ".txt",
    "text/html": ".html",
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "text/rfc822-headers": ".txt",
    "application/octet-stream": ".bin",
    "image/jpeg": ".jpg",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m",
    "application/x-pkcs7-mime": ".p7m",
    "application/ms-tnef": ".dat",
    "application/xml": ".xml",
    "text/xml": ".xml",
}
_COMPRESSED = {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz"}
# Built-in table only: the system's /etc/mime.types would make names differ between hosts.
_MIME = mimetypes.MimeTypes()


def safe_filename(name: str | None, index: int, content_type: str) -> str:
    """A file name without directories, control characters or reserved names; never empty.

    >>> safe_filename("..\\\\..\\\\boot.ini", 0, "text/plain")
    'boot.ini'
    >>> safe_filename(None, 2, "application/pdf")
    'attachment-2.pdf'
    """
    cleaned = _clean(name or "")
    if not cleaned:
        return f"attachment-{index}{extension_for(content_type)}"
    return cleaned


def extension_for(content_type: str) -> str:
    """The extension for a type: ".pdf" for application/pdf, ".bin" when unknown."""
    content_type = content_type.lower()
    known = _KNOWN_EXTENSIONS.get(content_type)
    if known:
        return known
    return _MIME.guess_extension(content_type, strict=False) or ".bin"


def guess_type(name: str | None) -> str | None:
    """Content type from a file name's extension, for parts that declare none."""
    if not name:
        return None
    content_type, encoding = _MIME.guess_type(name, strict=False)
    if encoding:  # "x.xml.gz" is a gzip file, not XML
        return _COMPRESSED.get(encoding, "application/octet-stream")
    return content_type


def _clean(name: str) -> str:
    name = unicodedata.normalize("NFC", decode_words(name))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _WHITESPACE.sub(" ", name)
    name = "".join(ch for ch in name if not _is_hidden_or_control(ch))
    name = _FORBIDDEN.sub("_", name)
    name = name.strip(" .")  # leading dots hide files; Windows drops trailing dots
    if not name.strip("_"):
        return ""
    stem = name.split(".", 1)[0]
    if stem.lower() in _RESERVED:
        name = "_" + name
    return _truncate(name)


def _is_hidden_or_control(ch: str) -> bool:
    # Cc: NUL and other controls; Cf: bidi overrides (U+202E) and zero-width characters.
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs")


def _truncate(name: str) -> str:
    """Cut to MAX_NAME_BYTES of UTF-8, keeping a short extension."""
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    match = _EXTENSION.search(name)
    ext = match.group(0) if match else ""
    stem = name[: len(name) - len(ext)]
    budget = MAX_NAME_BYTES - len(ext.encode("utf-8"))
    stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip(" .")
    return stem + ext
