"""Folder names as the server means them, and the flags it keeps: pure decisions on what the
server announced at login (NAMESPACE, RFC 2342) and at SELECT (PERMANENTFLAGS, RFC 3501).

Dovecot's default puts personal folders at the top (`Processed`); Cyrus and Courier, and a
Dovecot configured like them, put them under `INBOX.` with `.` between levels, and refuse
`CREATE Processed`. A configured name is therefore read as relative to the personal namespace
unless it already names a namespace. Names stay `str` here: imapclient encodes and decodes
modified UTF-7 (RFC 3501 §5.1.3) on the wire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Pairs = Sequence[tuple[str, str | None]]  # (prefix, hierarchy separator) as NAMESPACE lists them


@dataclass(frozen=True)
class Namespaces:
    personal: Pairs = (("", None),)
    other: Pairs = ()
    shared: Pairs = ()

    @property
    def prefix(self) -> str:
        """The personal namespace's prefix (`INBOX.` on Courier), or ''."""
        return self.personal[0][0] if self.personal else ""

    @property
    def separator(self) -> str | None:
        return self.personal[0][1] if self.personal else None

    def describe(self) -> str:
        sep = f"separator {self.separator!r}" if self.separator else "no hierarchy"
        return f"personal namespace {self.prefix!r}, {sep}"


def resolve(name: str, namespaces: Namespaces) -> str:
    """The server's name for a configured folder: `Processed` is `INBOX.Processed` where the
    personal namespace is `INBOX.`; INBOX and names already in a namespace stay as written.

    >>> resolve("Processed", Namespaces(personal=(("INBOX.", "."),)))
    'INBOX.Processed'
    """
    prefix = namespaces.prefix
    if not prefix or name.upper() == "INBOX" or _in_namespace(name, namespaces):
        return name
    return prefix + name


def _in_namespace(name: str, namespaces: Namespaces) -> bool:
    pairs = (*namespaces.personal, *namespaces.other, *namespaces.shared)
    return any(_starts(name, prefix) for prefix, _ in pairs if prefix)


def _starts(name: str, prefix: str) -> bool:
    """INBOX is case-insensitive (RFC 3501 §5.1), and so is a prefix made of it."""
    if prefix.upper().startswith("INBOX"):
        return name.upper().startswith(prefix.upper())
    return name.startswith(prefix)


def keeps_flag(flag: str, permanent: Sequence[bytes] | None) -> bool:
    """Whether the server stores `flag` for good, by the PERMANENTFLAGS of the SELECT.

    None (the response had none) means every flag may be set (RFC 3501 §7.1); `\\*` allows any
    keyword, not a system flag that is not listed.
    """
    if permanent is None:
        return True
    kept = {f.decode("ascii", "replace").lower() for f in permanent}
    return flag.lower() in kept or (not flag.startswith("\\") and "\\*" in kept)
