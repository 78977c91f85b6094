"""The "read documents" stage: a letter attached as a text PDF (or a plain-text file) is read
by the rules like the mail's own text.

Offices write «si trasmette in allegato la nota prot. n. …» and put the request in the PDF:
signed (`nota.pdf.p7m`, unwrapped by `certify`) or not. Each such document's text layer
(poppler's pdftotext, behind `parsers.pdftext`) joins the text the rules read; what it held is
remembered, so that `read_pages` OCRs only the PDFs that have no text layer (scans) without
running pdftotext on them a second time. A fax's PDFs are pages: that is `read_pages`' work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import rules
from parsers import pdftext
from parsers.message import Attachment

if TYPE_CHECKING:  # the stage's types; `analysis` imports this module for its table
    from inbox_daemon.analysis import Analysis, Tools

MAX_DOCUMENTS = 20  # documents read per message
MAX_TEXT = 100_000  # characters of documents' text added to the rules' input


@dataclass(frozen=True)
class DocumentRead:
    """One attached document: how much text it gave, or why it gave none."""

    filename: str
    chars: int
    problem: str | None = None


@dataclass(frozen=True)
class DocumentsRead:
    """What the stage read, per attachment name."""

    documents: tuple[DocumentRead, ...] = ()

    def is_scan(self, filename: str) -> bool | None:
        """Whether the PDF is pictures only (no text layer: pages for the OCR); False also when
        poppler could not open it (no pages to give either); None when it was not read here."""
        for doc in self.documents:
            if doc.filename == filename:
                return doc.problem is None and doc.chars == 0
        return None

    def hits(self) -> list[rules.Hit]:
        """One hit per document, so that `rules explain` and `tickets show` say it was read."""
        return [
            rules.Hit("documents.text", "text", doc.filename, doc.problem or f"{doc.chars} car.")
            for doc in self.documents
            if doc.chars or doc.problem
        ]

    def weigh(self, verdict: rules.Verdict) -> rules.Verdict:
        return replace(verdict, hits=(*verdict.hits, *self.hits()))


def read_documents(work: Analysis, tools: Tools) -> Analysis:
    """The attached documents' text appended to the message's; a fax's files are left to the
    OCR, and a message without documents passes through."""
    parsed = work.parsed
    assert parsed is not None
    if work.pending.channel == "fax":
        return work
    parts = [a for a in parsed.attachments if is_document(a)][:MAX_DOCUMENTS]
    if not parts:
        return work
    read: list[DocumentRead] = []
    texts: list[str] = []
    for part in parts:
        text, problem = document_text(part)
        text = text.strip()
        read.append(DocumentRead(part.filename, len(text), problem))
        texts.extend([text] if text else [])
    extra = "\n\n".join(texts)[:MAX_TEXT]
    joined = replace(
        parsed,
        body_text="\n\n".join(filter(None, (parsed.body_text, extra))),
        new_text="\n\n".join(filter(None, (parsed.new_text, extra))),
    )
    return replace(work, parsed=joined, documents=DocumentsRead(tuple(read)))


def is_pdf(part: Attachment) -> bool:
    """A PDF by its type or by its name (senders often label one octet-stream)."""
    return part.content_type == "application/pdf" or part.filename.lower().endswith(".pdf")


def is_document(part: Attachment) -> bool:
    """A PDF or a plain-text file, whole (a truncated one is kept, not read)."""
    plain = part.content_type == "text/plain" or part.filename.lower().endswith(".txt")
    typed = is_pdf(part) or plain
    return typed and bool(part.payload) and not part.truncated


def document_text(part: Attachment) -> tuple[str, str | None]:
    """The document's text for the rules, and why there is none when it should have some."""
    if is_pdf(part):
        try:
            return pdftext.text(part.payload, MAX_TEXT), None
        except pdftext.PdfTextError as exc:
            return "", str(exc)
    try:
        return part.payload.decode("utf-8")[:MAX_TEXT], None
    except UnicodeDecodeError:
        return part.payload.decode("latin-1")[:MAX_TEXT], None
