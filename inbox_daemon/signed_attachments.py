"""Signed attachments (`nota.pdf.p7m`): the document inside joins the message.

A municipal letter often says nothing in the mail but «si trasmette in allegato la nota
prot. n. …»: the request is in the signed PDF. Each `.p7m` is unwrapped (`parsers.pec.cades`)
and its document added as a further attachment (the `.p7m` itself stays: it is the legal
original). Its text is then read like any attached document's (`attached_documents`: a text
PDF's text layer, a plain-text file) and a scan's pages by the OCR (`read_pages`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from parsers.filenames import guess_type
from parsers.message import Attachment, ParsedMessage

if TYPE_CHECKING:
    from parsers.pec.model import SignedDocument

MAX_DOCUMENTS = 20  # signed attachments unwrapped per message


def unwrap(parsed: ParsedMessage) -> tuple[ParsedMessage, tuple[SignedDocument, ...]]:
    """The message with its signed attachments' documents added, and what each signed
    attachment was."""
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
        documents.append(SignedDocument(part.filename, name, signers, found.problem))
    return replace(parsed, attachments=(*parsed.attachments, *added)), tuple(documents)


def _maybe_signed(part: Attachment) -> bool:
    """A cheap first look (`cades.is_signed_file` decides): a name or a type of PKCS #7."""
    return part.filename.lower().endswith(".p7m") or "pkcs7" in part.content_type


def _unique(name: str, used: set[str], index: int) -> str:
    if name.lower() in used:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem}-{index}.{ext}" if dot and stem else f"{name}-{index}"
    used.add(name.lower())
    return name
