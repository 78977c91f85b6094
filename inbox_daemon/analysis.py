"""The pure stages of a message's way: raw bytes -> parsed, screened, classified.

`STAGES` is the table of contents: each stage takes what the stages before it made of the
message (an `Analysis`) and the tools it needs, and returns a new `Analysis`; a stage that
does not apply returns its input. A stage that ends the way (an error, or mail that is kept
but is not a request) stops the run. Adding a stage is one function and one line in `STAGES`.

No database here, and nothing stored: `registration.py` decides and records what this
returns. Being pure, it can run in worker processes (`workers.WorkerPool`) while the main
process fetches and writes. The imports stay light for the same reason: a worker loads the
parser and the rules, not SQLAlchemy.
"""

from __future__ import annotations

import errno
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import parsers.mime
import rules
from inbox_daemon.attached_documents import DocumentsRead, read_documents
from inbox_daemon.blobs import BlobStore
from inbox_daemon.certify import certify
from inbox_daemon.read_pages import PageSettings, PagesRead, read_pages
from inbox_daemon.routing import Route
from inbox_daemon.voicemail import NO_VOICEMAIL, Call, VoicemailTools, read_voicemail
from parsers.errors import ParseError
from parsers.message import ParsedMessage
from parsers.quoting import Parts

if TYPE_CHECKING:  # the PEC package loads its crypto: only the certify stage needs it
    from parsers.pec import Pec, TrustStore


@dataclass(frozen=True)
class Pending:
    """A stored message waiting to be analysed: all the stages are given of it."""

    sha256: str
    channel: str  # email | pec | fax (| phone, once `voicemail` knows the mail)
    received_at: datetime | None = None  # a PEC signature must not be later than this
    source: str = ""  # the configured source it came from (a fax source names its gateway)


@dataclass(frozen=True)
class Placement:
    """Where the request is, by the pole register (`placing.locate`)."""

    pole_codes: tuple[str, ...]  # registered codes where known (slips corrected), else as read
    location: Mapping[str, Any] | None  # the first known pole's (DESIGN.md `location`)
    unknown: tuple[str, ...] = ()  # codes read that no registered code is, or several could be
    candidates: tuple[str, ...] = ()  # no code, but a registered street: its nearest poles
    hits: tuple[rules.Hit, ...] = ()


@dataclass(frozen=True)
class Analysis:
    """What the stages made of one message so far, or why they could not go on."""

    pending: Pending
    parsed: ParsedMessage | None = None
    kind: str = "request"  # request | receipt | bounce | auto_reply (kept, not a ticket)
    verdict: rules.Verdict | None = None  # for a request
    placement: Placement | None = None  # the poles as the register knows them
    route: Route | None = None  # the `[[routing]]` rule that matched, if any
    phone: Call | None = None  # a call (a voicemail, an operator's): caller, time, recording
    pec: Pec | None = None  # PEC: what the envelope or receipt is, and whether certified
    documents: DocumentsRead | None = None  # attached letters' text (`read_documents`)
    pages: PagesRead | None = None  # what `read_pages` read of faxes and photos
    error: str | None = None
    final: bool = False  # the error cannot go away by retrying (bytes that do not parse)
    transient: bool = False  # the machine's fault (descriptors, memory, disk): no attempt counted
    trace: str | None = None  # traceback of an unexpected error, for the log

    @property
    def ended(self) -> bool:
        """Nothing more to do for it: failed, or not a request."""
        return self.error is not None or self.kind != "request"


@dataclass(frozen=True)
class Tools:
    """Everything the stages need, and nothing else: it travels to the worker processes."""

    blobs: BlobStore
    ruleset: rules.RuleSet
    pole_formats: tuple[rules.PoleFormat, ...]
    max_attachment_bytes: int
    voicemail: VoicemailTools = NO_VOICEMAIL  # no profiles: no mail is a voicemail
    pec_trust: TrustStore | None = None  # `[pec] trust_store`: the providers' CAs
    pages: PageSettings | None = None  # fax gateway profiles and OCR limits (`read_pages`)


# Errors of the machine, not of a message: a message failing with one is not quarantined for it.
MACHINE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOSPC})

T = TypeVar("T")
Stage = Callable[[Analysis, T], Analysis]


def parse(work: Analysis, tools: Tools) -> Analysis:
    """MIME to a normalised message. Bytes that do not parse never will: quarantine at once
    (the raw message stays stored)."""
    try:
        with tools.blobs.open("raw", work.pending.sha256) as raw:  # read in chunks, never whole
            parsed = parsers.mime.parse(raw, max_attachment_bytes=tools.max_attachment_bytes)
    except ParseError as exc:
        return replace(work, error=f"unreadable message: {exc}", final=True)
    return replace(work, parsed=parsed)


def screen(work: Analysis, tools: Tools) -> Analysis:
    """Mail that must be kept but is not a request: PEC receipts, bounces, auto-replies."""
    assert work.parsed is not None
    kind = non_request_kind(work.parsed)
    return replace(work, kind=kind) if kind else work


def classify(work: Analysis, tools: Tools) -> Analysis:
    """Request type, urgency, crime, pole codes, quoted ticket numbers (`rules/`)."""
    parsed = work.parsed
    assert parsed is not None
    parts = parsed.parts
    if parts is None or parts.request != parsed.new_text:  # a stage replaced the text (fax OCR)
        parts = Parts(parsed.new_text)
    doc = rules.RuleInput(
        subject=parsed.subject,
        text=parts.text,
        sender=parsed.from_address,
        forwarded=parts.forwarded,
        quoted=parts.quoted,
    )
    verdict = rules.classify(doc, tools.ruleset, tools.pole_formats)
    for read in (work.documents, work.pages):
        verdict = read.weigh(verdict) if read else verdict
    return replace(work, verdict=verdict)


# The way of a message through the pure stages, in order; `placing.STAGES` follows them in
# the main process.
STAGES: tuple[tuple[str, Stage[Tools]], ...] = (
    ("parse", parse),
    ("certify", certify),  # PEC: verify the provider's signature, unwrap postacert.eml
    ("screen", screen),
    ("voicemail", read_voicemail),
    ("read_documents", read_documents),  # attached letters' text layer: text PDFs, .txt
    ("read_pages", read_pages),
    ("classify", classify),
)


def run_stages(work: Analysis, stages: Sequence[tuple[str, Stage[T]]], tools: T) -> Analysis:
    """Each stage in turn, until one ends the way; never raises for a problem of the message."""
    for name, stage in stages:
        try:
            work = stage(work, tools)
        except Exception as exc:  # the quarantine boundary: one message stops nothing else
            return failure(exc, work, name)
        if work.ended:
            break
    return work


@dataclass(frozen=True)
class Analyser:
    """Runs `STAGES` on stored messages; never raises for a problem of a message itself."""

    tools: Tools
    stages: tuple[tuple[str, Stage[Tools]], ...] = STAGES

    def __call__(self, pending: Pending) -> Analysis:
        return run_stages(Analysis(pending), self.stages, self.tools)

    def many(self, pendings: Sequence[Pending]) -> list[Analysis]:
        return [self(pending) for pending in pendings]


def non_request_kind(parsed: ParsedMessage) -> str | None:
    """Receipt, bounce or auto-reply, from the headers and the parser's flags; None for a
    request."""
    if parsed.header("X-Ricevuta"):
        return "receipt"
    if parsed.is_bounce:
        return "bounce"
    if parsed.is_auto_submitted:
        return "auto_reply"
    return None


def failure(exc: Exception, work: Analysis, stage: str = "") -> Analysis:
    """An unexpected error, with its stage and traceback: retried, then quarantined. One the
    machine causes (no descriptor left in a connection flood, no memory, a full disk) says
    nothing of the message: it is retried without counting towards the quarantine."""
    where = f"{stage}: " if stage else ""
    error = f"{where}{type(exc).__name__}: {exc}"
    transient = isinstance(exc, OSError) and exc.errno in MACHINE_ERRNOS
    return replace(work, error=error, trace=traceback.format_exc(), transient=transient)
