"""Signed attachments (`nota.pdf.p7m`): the document inside joins the message, and its text
joins the rules.

A municipal letter often says nothing in the mail but «si trasmette in allegato la nota
prot. n. …»: the request is in the signed PDF. Each `.p7m` is unwrapped (`parsers.pec.cades`)
and its document added as a further attachment (the `.p7m` itself stays: it is the legal
original); a text PDF's text (poppler's pdftotext) and a plain-text document's are appended
to the text the rules read. Scanned PDFs give no text here; their pages are the OCR stage's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from parsers import pdftext
from parsers.filenames import guess_type
from parsers.message import Attachment, ParsedMessage

if TYPE_CHECKING:
    from parsers.pec.model import SignedDocument

MAX_DOCUMENTS = 20  # signed attachments unwrapped per message
MAX_TEXT = 100_000  # characters of documents' text added to the rules' input


def unwrap(parsed: ParsedMessage) -> tuple[ParsedMessage, tuple[SignedDocument, ...]]:
    """The message with its signed attachments' documents and text added, and what each
    signed attachment was."""
    if not any(_maybe_signed(a) for a in parsed.attachments):
        return parsed, ()
    from parsers.pec import cades  # its crypto loads with the first signed file, not at start
    from parsers.pec.model import SignedDocument

    signed = [
        a
        for a in parsed.attachments
        if cades.is_signed_file(a.filename, a.content_type) and a.payload and not a.truncated
    ][:MAX_DOCUMENTS]
    if not signed:
        return parsed, ()
    added: list[Attachment] = []
    texts: list[str] = []
    documents: list[SignedDocument] = []
    names = {a.filename.lower() for a in parsed.attachments}
    for part in signed:
        found = cades.unwrap(part.payload, part.filename)
        signers = tuple(s.name for s in found.signers)
        if found.content is None:
            documents.append(SignedDocument(part.filename, None, signers, found.problem))
            continue
        name = _unique(found.filename, names, len(parsed.attachments) + len(added))
        kind = guess_type(name) or "application/octet-stream"
        index = len(parsed.attachments) + len(added)
        added.append(
            Attachment(index, name, found.filename, kind, found.content, len(found.content))
        )
        text, problem = _text(found.content, kind)
        texts.extend([text] if text.strip() else [])
        why = "; ".join(filter(None, (found.problem, problem))) or None
        documents.append(SignedDocument(part.filename, name, signers, why, len(text.strip())))
    extra = "\n\n".join(texts)[:MAX_TEXT]
    joined = replace(
        parsed,
        attachments=(*parsed.attachments, *added),
        body_text="\n\n".join(filter(None, (parsed.body_text, extra))),
        new_text="\n\n".join(filter(None, (parsed.new_text, extra))),
    )
    return joined, tuple(documents)


def _maybe_signed(part: Attachment) -> bool:
    """A cheap first look (`cades.is_signed_file` decides): a name or a type of PKCS #7."""
    return part.filename.lower().endswith(".p7m") or "pkcs7" in part.content_type


def _text(content: bytes, kind: str) -> tuple[str, str | None]:
    """The document's text for the rules, and why there is none when it should have some."""
    if kind == "application/pdf":
        try:
            return pdftext.text(content, MAX_TEXT), None
        except pdftext.PdfTextError as exc:
            return "", str(exc)
    if kind == "text/plain":
        try:
            return content.decode("utf-8"), None
        except UnicodeDecodeError:
            return content.decode("latin-1"), None
    return "", None  # XML invoices, images…: kept as attachments, not read as a request


def _unique(name: str, used: set[str], index: int) -> str:
    if name.lower() in used:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem}-{index}.{ext}" if dot and stem else f"{name}-{index}"
    used.add(name.lower())
    return name
