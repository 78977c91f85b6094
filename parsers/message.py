"""Plain, typed values that the MIME parser returns.

The daemon stores and classifies these; nothing here knows about the database or config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from parsers.quoting import Parts


@dataclass(frozen=True)
class Attachment:
    """One stored part of a message (not the body text parts)."""

    index: int  # position among the message's attachments, 0-based
    filename: str  # safe: no path separators, no control chars, never empty, never "." or ".."
    original_filename: str | None  # as the sender gave it, decoded, for display only
    content_type: str  # lower-case "type/subtype"
    payload: bytes  # decoded content (may be truncated: see `truncated`)
    size: int  # size of the decoded content as received, even when truncated
    truncated: bool = False  # payload cut at the parser's size limit
    sha256: str | None = None  # set once the payload is in the store (then `payload` is b"")


@dataclass(frozen=True)
class ParsedMessage:
    """A message normalised for classification: decoded headers, text, attachments."""

    subject: str
    from_address: str | None  # lower-case addr-spec, None when absent or unparseable
    from_name: str
    reply_to: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    message_id: str | None  # as in the header, including the angle brackets
    in_reply_to: str | None
    references: tuple[str, ...]
    date: datetime | None  # the sender's Date:, timezone-aware; None when missing or invalid
    top_received_at: datetime | None  # date of the topmost Received: header, aware
    headers: tuple[tuple[str, str], ...]  # every header, decoded to text, in order
    body_text: str  # all the readable text: text/plain preferred, else HTML converted
    new_text: str  # the request: new text (+ a forwarded message), no quotes, no signature
    attachments: tuple[Attachment, ...] = ()
    defects: tuple[str, ...] = ()  # readable descriptions of what was wrong with the MIME
    is_bounce: bool = False  # delivery status notification / MAILER-DAEMON / empty Return-Path
    is_auto_submitted: bool = False  # Auto-Submitted other than "no", or a vacation reply
    is_bulk: bool = False  # Precedence: bulk|list|junk, or List-Id present
    extra: dict[str, str] = field(default_factory=dict)
    # new_text's parts with their roles (parsers.quoting.Parts): the new text, a forwarded
    # message, the quoted history of a reply; None where a caller built the message by hand
    parts: Parts | None = None

    def header(self, name: str) -> str | None:
        """First value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None
