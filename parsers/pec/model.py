"""What a PEC message is, as plain values (`parsers.pec.inspect` returns one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from parsers.pec.daticert import Daticert

# X-Ricevuta values of the technical rules (DM 2 novembre 2005, allegato).
RECEIPTS = frozenset({
    "accettazione", "non-accettazione", "presa-in-carico", "avvenuta-consegna",
    "errore-consegna", "preavviso-errore-consegna", "rilevazione-virus",
})  # fmt: skip
DELIVERED = frozenset({"avvenuta-consegna"})
NOT_DELIVERED = frozenset({"errore-consegna", "preavviso-errore-consegna", "rilevazione-virus"})


@dataclass(frozen=True)
class SignedDocument:
    """A signed attachment (`.p7m`) as unwrapped: the document and who signed it."""

    file: str  # the attachment's name, e.g. nota.pdf.p7m
    document: str | None  # the document's name once unwrapped, None when it could not be
    signers: tuple[str, ...]  # outermost first
    problem: str | None  # why it could not be unwrapped or does not verify


@dataclass(frozen=True)
class Pec:
    """A transport envelope, an anomaly envelope or a receipt, and whether it is certified."""

    kind: str  # envelope | anomaly | receipt
    certified: bool  # signature, content, chain at signing time and signing time all hold
    reason: str | None  # why not certified (Italian, for the operator); None when certified
    receipt_type: str | None = None  # for a receipt: its tipo, possibly one not in RECEIPTS
    daticert: Daticert | None = None
    daticert_error: str | None = None
    signer: str | None = None  # the signing certificate's subject, readable
    signing_time: datetime | None = None
    digest: str | None = None
    original: bytes | None = None  # postacert.eml (or an anomaly's message), raw
    reference: str | None = None  # the Message-ID of the message a receipt is about
    notes: tuple[str, ...] = ()  # what else is odd (re-wrapped, unknown receipt type…)
    documents: tuple[SignedDocument, ...] = ()  # the original's signed attachments

    @property
    def identificativo(self) -> str | None:
        return self.daticert.identificativo if self.daticert else None

    @property
    def delivery(self) -> str | None:
        """For a receipt: accepted | delivered | not_delivered | other."""
        if self.kind != "receipt":
            return None
        tipo = self.receipt_type or ""
        if tipo in DELIVERED:
            return "delivered"
        if tipo in NOT_DELIVERED:
            return "not_delivered"
        if tipo == "non-accettazione":
            return "not_accepted"
        return "accepted" if tipo in ("accettazione", "presa-in-carico") else "other"
