"""Message files on disk: single .eml files, folders of them, and maildirs."""

from __future__ import annotations

import email.parser
import email.utils
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from pathlib import Path

HEAD_BYTES = 262144  # of a message, read for its dates: far more than any real header block


def message_files(path: Path) -> Iterator[Path]:
    """The message files under `path`: itself if a file; a maildir's cur/ and new/; else a
    folder's regular files (hidden ones skipped), sorted for a stable order."""
    if path.is_file():
        yield path
        return
    subdirs = [path / "cur", path / "new"]
    folders = [d for d in subdirs if d.is_dir()] or [path]
    for folder in folders:
        yield from sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def file_received_at(raw: bytes, fallback: datetime) -> datetime:
    """When a message file reached a mail system: its top Received: header, else its Date:.
    Only the first `HEAD_BYTES` of `raw` are read: they may be all that is given."""
    headers = email.parser.BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:HEAD_BYTES])
    received = headers.get("Received")
    candidates = []
    if received and ";" in str(received):
        candidates.append(str(received).rsplit(";", 1)[1])
    if headers.get("Date"):
        candidates.append(str(headers["Date"]))
    for text in candidates:
        try:
            parsed = email.utils.parsedate_to_datetime(text.strip())
        except (TypeError, ValueError, IndexError):
            continue
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return fallback
