"""Recognise mail that must not become a ticket: bounces, auto-replies, bulk mail.

Headers are the signal; the subject is only a fallback for auto-replies whose software sets
no header (many Italian webmail "Risposta automatica" replies).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

_BOUNCE_SENDER = re.compile(r"(?:^|[<\s\"])(?:mailer-daemon|postmaster)@", re.IGNORECASE)
_BOUNCE_BARE = re.compile(r"^\s*(?:mailer-daemon|postmaster)\s*$", re.IGNORECASE)
_REPORT_TYPE = re.compile(r"report-type\s*=\s*\"?delivery-status", re.IGNORECASE)
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:risposta automatica|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"out of (?:the )?office|fuori sede|fuori ufficio|assenza dall'ufficio|messaggio automatico)\b",
    re.IGNORECASE,
)
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})

Lookup = Callable[[str], str | None]


def is_bounce(
    header: Lookup, content_type: str, part_types: Collection[str], from_address: str | None
) -> bool:
    """A delivery status notification: multipart/report, MAILER-DAEMON, or Return-Path <>.

    `part_types` are the content types of the message's attachments: a multipart/report
    carrying message/delivery-status is a DSN whatever its report-type says. An empty
    Return-Path alone is not enough when the message says it is an auto-reply: RFC 3834 asks
    auto-responders to use the same null sender.
    """
    if content_type == "multipart/report" and (
        _REPORT_TYPE.search(header("content-type") or "") or "message/delivery-status" in part_types
    ):
        return True
    sender = header("from") or ""
    if _BOUNCE_SENDER.search(sender) or _BOUNCE_BARE.match(sender):
        return True
    if from_address and from_address.split("@", 1)[0] in ("mailer-daemon", "postmaster"):
        return True
    return _null_return_path(header) and not is_auto_submitted(header, "")


def _null_return_path(header: Lookup) -> bool:
    value = header("return-path")
    return value is not None and value.strip().replace(" ", "") == "<>"


def is_auto_submitted(header: Lookup, subject: str) -> bool:
    """Auto-Submitted other than "no", X-Autoreply/X-Autorespond, or a vacation subject."""
    auto = header("auto-submitted")
    if auto is not None and auto.strip().split(";", 1)[0].strip().lower() not in ("no", ""):
        return True
    if header("x-autoreply") is not None or header("x-autorespond") is not None:
        return True
    if (header("precedence") or "").strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.match(subject))


def is_bulk(header: Lookup) -> bool:
    """Precedence bulk/list/junk, List-Id or List-Unsubscribe: newsletters and lists."""
    if (header("precedence") or "").strip().lower() in _BULK_PRECEDENCE:
        return True
    return header("list-id") is not None or header("list-unsubscribe") is not None
