"""The certify stage: a PEC envelope becomes the request it carries, with its certification.

`parsers.pec` says what the message is; here that is composed into the way of a message:
a receipt ends the way (it is recorded against the acknowledgement it confirms, never a
ticket); an envelope is unwrapped, so that the ticket's sender, subject, text, attachments
and Message-ID are the original message's (`postacert.eml`), its `sent_at` the daticert
date, and the classification reads the request, not the provider's cover text. An envelope
that fails verification is still unwrapped (the request is what it is) but carries
`certified = false` and the reason; it is never trusted silently. Mail that is not PEC, and
a PEC whose content cannot be read, go on as they came.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import parsers.mime
from inbox_daemon import signed_attachments
from inbox_daemon.drafts import ReceiptDraft
from parsers.errors import ParseError
from parsers.message import ParsedMessage

if TYPE_CHECKING:  # analysis.py imports this module for its table of stages
    import parsers.pec
    from inbox_daemon.analysis import Analysis, Tools

PEC_HEADERS = ("X-Trasporto", "X-Ricevuta")
SIGNED_TYPES = frozenset({
    "application/pkcs7-signature", "application/x-pkcs7-signature",
    "application/pkcs7-mime", "application/x-pkcs7-mime",
})  # fmt: skip


def certify(work: Analysis, tools: Tools) -> Analysis:
    """Recognise, verify and unwrap PEC, then signed attachments; a stage that does not
    apply returns its input."""
    parsed = work.parsed
    assert parsed is not None
    pec = None
    if looks_like_pec(parsed):
        import parsers.pec  # its crypto loads with the first PEC, not with every worker

        raw = tools.blobs.get("raw", work.pending.sha256)
        pec = parsers.pec.inspect(raw, tools.pec_trust, work.pending.received_at)
    if pec is None:
        pec = forwarded(parsed, tools.pec_trust, work.pending.received_at)
    if pec is not None and pec.kind == "receipt":
        return replace(work, pec=pec, kind="receipt")
    if pec is not None:
        inner = _original(pec, tools.max_attachment_bytes)
        pec = replace(pec, original=None)  # the bytes stay in the raw message; not carried on
        if inner is None:
            note = "busta PEC senza postacert.eml leggibile: classificato il testo del gestore"
            pec = replace(pec, notes=(*pec.notes, note))
        parsed = inner or parsed
    parsed, documents = signed_attachments.unwrap(parsed)
    if pec is not None:
        pec = replace(pec, documents=documents)
    if pec is None and not documents:
        return work
    return replace(work, parsed=parsed, pec=pec)


def forwarded(
    parsed: ParsedMessage, trust: parsers.pec.TrustStore | None, received_at: datetime | None
) -> parsers.pec.Pec | None:
    """A PEC envelope someone forwarded as an attachment: the request is its original (so a
    copy received directly too makes one ticket, by the original's Message-ID), but this
    mailbox did not receive it by PEC, so it is not certified whatever its signature says."""
    for part in parsed.attachments:
        if part.content_type != "message/rfc822" or b"X-Trasporto" not in part.payload[:65536]:
            continue
        import parsers.pec  # as in `certify`: loaded by the first PEC only

        pec = parsers.pec.inspect(part.payload, trust, received_at)
        if pec is not None and pec.kind == "envelope":
            who = parsed.from_address or "mittente ignoto"
            why = f"busta PEC inoltrata come allegato da {who}: la consegna qui non è certificata"
            signed = "firma del gestore valida" if pec.certified else f"inoltre: {pec.reason}"
            return replace(pec, certified=False, reason=why, notes=(*pec.notes, signed))
    return None


def looks_like_pec(parsed: ParsedMessage) -> bool:
    """PEC headers, or a daticert.xml or a signature among the parts (a re-wrapped envelope
    may have lost its top headers)."""
    if any(parsed.header(name) for name in PEC_HEADERS):
        return True
    return any(
        a.filename.lower() == "daticert.xml" or a.content_type in SIGNED_TYPES
        for a in parsed.attachments
    )


def _original(pec: parsers.pec.Pec, limit: int) -> ParsedMessage | None:
    """postacert.eml parsed; its Message-ID the daticert's msgid (signed) when there is one."""
    if not pec.original:
        return None
    try:
        inner = parsers.mime.parse(pec.original, max_attachment_bytes=limit)
    except ParseError:
        return None
    dati = pec.daticert
    message_id = (dati.msgid if dati and dati.msgid else None) or inner.message_id
    return replace(inner, message_id=message_id)


def export(pec: parsers.pec.Pec) -> dict[str, Any]:
    """The ticket's `pec` object (DESIGN.md: `certified`, `identificativo`, `sender`,
    `signer` at least)."""
    dati = pec.daticert
    return {
        "certified": pec.certified,
        "identificativo": dati.identificativo if dati else None,
        "sender": dati.mittente if dati else None,
        "signer": pec.signer,
        "provider": dati.gestore_emittente if dati else None,
        "sent_at": dati.data.isoformat() if dati and dati.data else None,
        "reason": pec.reason,
        "kind": pec.kind,
        "recipients": [{"address": r.address, "tipo": r.tipo} for r in dati.destinatari]
        if dati
        else [],
        "subject": dati.oggetto if dati else None,
        "msgid": dati.msgid if dati else None,
        "signing_time": pec.signing_time.isoformat() if pec.signing_time else None,
        "digest": pec.digest,
        "notes": list(pec.notes),
        "signed_attachments": [
            {
                "file": d.file,
                "document": d.document,
                "signers": list(d.signers),
                "problem": d.problem,
            }
            for d in pec.documents
        ],
    }


def sent_at(pec: parsers.pec.Pec | None) -> datetime | None:
    """For PEC, `sent_at` is the daticert date (DESIGN.md, timestamps)."""
    return pec.daticert.data if pec and pec.daticert and pec.daticert.data else None


def receipt_draft(pec: parsers.pec.Pec) -> ReceiptDraft | None:
    """What a receipt says of the message it concerns; None for an envelope."""
    if pec.kind != "receipt":
        return None
    dati = pec.daticert
    error = None
    if dati and dati.errore and dati.errore != "nessuno":
        error = "; ".join(filter(None, (dati.errore, dati.errore_esteso)))
    return ReceiptDraft(
        receipt_type=pec.receipt_type or "sconosciuto",
        delivery=pec.delivery or "other",
        reference=pec.reference,
        identificativo=pec.identificativo,
        recipient=dati.consegna if dati else None,
        error=error,
        certified=pec.certified,
        reason=pec.reason,
        at=dati.data if dati else None,
    )
