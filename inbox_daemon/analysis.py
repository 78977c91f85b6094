"""The pure, CPU-bound part of processing: raw bytes -> parsed message and verdict.

No database here, and nothing stored: `pipeline.py` writes what this returns. Being pure, it
can run in worker processes (`workers.WorkerPool`) while the main process fetches and writes: the
parser and the rules then use the cores the main process cannot (one interpreter runs Python
on one core at a time). The imports stay light for the same reason: a worker loads the parser
and the rules, not SQLAlchemy.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass

import parsers.mime
import rules
from inbox_daemon.blobs import BlobStore
from parsers.errors import ParseError
from parsers.message import ParsedMessage


@dataclass(frozen=True)
class Analysis:
    """What the pure stages made of one message, or why they could not."""

    parsed: ParsedMessage | None = None
    kind: str = "request"  # request | receipt | bounce | auto_reply (kept, not a ticket)
    verdict: rules.Verdict | None = None  # for a request
    error: str | None = None
    final: bool = False  # the error cannot go away by retrying (bytes that do not parse)
    trace: str | None = None  # traceback of an unexpected error, for the log


@dataclass(frozen=True)
class Analyser:
    """Everything analysis needs, and nothing else: it travels to the worker processes."""

    blobs: BlobStore
    ruleset: rules.RuleSet
    pole_formats: tuple[rules.PoleFormat, ...]
    max_attachment_bytes: int

    def __call__(self, sha256: str) -> Analysis:
        """Analyse one stored message; never raises for a problem of the message itself."""
        try:
            raw = self.blobs.get("raw", sha256)
            parsed = parsers.mime.parse(raw, max_attachment_bytes=self.max_attachment_bytes)
        except ParseError as exc:
            # The same bytes will never parse better: quarantine at once, keep the raw message.
            return Analysis(error=f"unreadable message: {exc}", final=True)
        except Exception as exc:  # the quarantine boundary: one message stops nothing else
            return failure(exc)
        kind = non_request_kind(parsed)
        if kind:
            return Analysis(parsed, kind)
        try:
            return Analysis(parsed, verdict=self.classify(parsed))
        except Exception as exc:
            return failure(exc)

    def classify(self, parsed: ParsedMessage) -> rules.Verdict:
        doc = rules.RuleInput(
            subject=parsed.subject, text=parsed.new_text, sender=parsed.from_address
        )
        return rules.classify(doc, self.ruleset, self.pole_formats)

    def many(self, shas: Sequence[str]) -> list[Analysis]:
        return [self(sha) for sha in shas]


def non_request_kind(parsed: ParsedMessage) -> str | None:
    """Mail that must be kept but is not a request: PEC receipts, bounces, auto-replies."""
    if parsed.header("X-Ricevuta"):
        return "receipt"
    if parsed.is_bounce:
        return "bounce"
    if parsed.is_auto_submitted:
        return "auto_reply"
    return None


def failure(exc: Exception) -> Analysis:
    return Analysis(error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc())
