"""PEC (posta elettronica certificata): recognise, verify and unwrap, as plain values.

    inspect(raw, trust, received_at) -> Pec | None

None for mail that is not PEC. Otherwise the kind (transport envelope, anomaly envelope,
receipt), the daticert.xml read whole, the original message (`postacert.eml`), and whether
it is `certified`: the provider's signature holds over the content as delivered (in its
CRLF form), the signer's chain reaches the trust store at the signing time, and that time is
not later than the receipt. Anything that fails says why in `reason`; nothing raises for a
message's own problems, so one broken PEC never stops the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import x509

from parsers.pec import chain, cms, daticert, envelope
from parsers.pec.model import RECEIPTS, Pec
from parsers.pec.rawmime import Entity, entity
from parsers.pec.trust import TrustStore, TrustStoreError

__all__ = ["RECEIPTS", "Pec", "TrustStore", "TrustStoreError", "inspect"]

# Clocks of the provider and of our mail server differ by seconds; more is a signature
# made after the message arrived, which cannot certify its arrival.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class _Found:
    kind: str
    receipt_type: str | None
    notes: tuple[str, ...]


def inspect(
    raw: bytes, trust: TrustStore | None, received_at: datetime | None = None
) -> Pec | None:
    """What this message is as PEC, or None when it is not PEC at all."""
    top = entity(raw)
    located = envelope.locate(top)
    content, opaque, problem = _opened(located)
    found = envelope.contents(content) if content is not None else None
    dati, dati_error = _daticert(found)
    kind = _kind(top, dati)
    if kind is None:
        return None  # neither PEC headers nor a daticert: an ordinary (maybe signed) e-mail
    signed, why = _verified(located, opaque, problem, trust, received_at)
    wrapped = ["busta ri-incapsulata da una lista o un gateway"] if located.wrapped else []
    return Pec(
        kind=kind.kind,
        certified=_reason(kind.kind, why or dati_error) is None,
        reason=_reason(kind.kind, why or dati_error),
        receipt_type=kind.receipt_type,
        daticert=dati,
        daticert_error=dati_error,
        signer=_name(signed.signer) if signed else None,
        signing_time=signed.signing_time if signed else None,
        digest=signed.digest if signed else None,
        original=found.original if found else None,
        reference=(dati.msgid if dati else None) or top.header("X-Riferimento-Message-ID"),
        notes=(*kind.notes, *wrapped),
    )


def _opened(located: envelope.Located) -> tuple[Entity | None, cms.Signed | None, str | None]:
    """The signed content, with an opaque signature already checked (its content is inside
    it), and what went wrong."""
    if located.signed is None or located.content is not None or not located.signature:
        return located.content, None, located.problem
    try:
        opaque = cms.verify(cms.load(located.signature))
    except cms.SignatureError as exc:
        return None, None, str(exc)
    return entity(opaque.content), opaque, None


def _reason(kind: str, problem: str | None) -> str | None:
    """Why not certified; an anomaly envelope never is, even with a valid signature."""
    if kind == "anomaly" and problem is None:
        return "busta di anomalia: il gestore non ha potuto certificare il messaggio"
    return problem


def _daticert(found: envelope.Contents | None) -> tuple[daticert.Daticert | None, str | None]:
    if found is None or found.daticert is None:
        return None, None
    try:
        return daticert.parse(found.daticert), None
    except daticert.DaticertError as exc:
        return None, str(exc)


def _kind(top: Entity, dati: daticert.Daticert | None) -> _Found | None:
    """From daticert.xml first (signed), the headers second (unsigned)."""
    trasporto = (top.header("X-Trasporto") or "").lower()
    ricevuta = (top.header("X-Ricevuta") or "").lower()
    tipo = dati.tipo.lower() if dati else ""
    if tipo == "posta-certificata" or (not tipo and trasporto == "posta-certificata"):
        return _Found("envelope", None, ())
    if trasporto == "errore" and not tipo:
        return _Found("anomaly", None, ())
    receipt = tipo or ricevuta
    if receipt:
        unknown = () if receipt in RECEIPTS else (f"tipo di ricevuta sconosciuto: {receipt}",)
        return _Found("receipt", receipt, unknown)
    if trasporto:
        return _Found("envelope", None, (f"X-Trasporto sconosciuto: {trasporto}",))
    return None


def _verified(
    located: envelope.Located,
    opaque: cms.Signed | None,
    problem: str | None,
    trust: TrustStore | None,
    received_at: datetime | None,
) -> tuple[cms.Signed | None, str | None]:
    """The valid signature and None, or what is wrong."""
    if located.signed is None:
        return None, "messaggio non firmato dal gestore"
    if problem:
        return None, problem
    signed = opaque
    if signed is None:
        try:
            signed = cms.verify(cms.load(located.signature or b""), located.signed_bytes)
        except cms.SignatureError as exc:
            return None, str(exc)
    if trust is None:
        return signed, "nessun trust store configurato ([pec] trust_store)"
    moment = signed.signing_time or received_at
    if moment is None:
        return signed, "firma senza data e data di ricezione ignota"
    if received_at is not None and moment > received_at + CLOCK_SKEW:
        return signed, f"firma del {moment:%Y-%m-%d %H:%M}Z posteriore alla ricezione"
    return signed, chain.problem(signed.signer, signed.others, trust, moment)


def _name(cert: x509.Certificate) -> str:
    return cert.subject.human_friendly
