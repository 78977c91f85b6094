"""daticert.xml: the provider's signed statement of a PEC transmission, read whole.

Its facts (sender, recipients, subject, date, identificativo) are the signed copies of the
unsigned top-level headers, so they come first. The XML is read with defusedxml, refusing any
DTD: a daticert has none, and an entity bomb or an external entity would otherwise be
expanded or fetched. A broken daticert is reported with the reason, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

MAX_BYTES = 256 * 1024  # real ones are under 2 KB


class DaticertError(ValueError):
    """daticert.xml could not be read: the reason, in Italian, for the operator."""


@dataclass(frozen=True)
class Recipient:
    address: str
    tipo: str  # certificato | esterno


@dataclass(frozen=True)
class Daticert:
    tipo: str  # posta-certificata, accettazione, avvenuta-consegna, errore-consegna, …
    errore: str  # nessuno, no-dest, no-dominio, virus, altro
    mittente: str
    destinatari: tuple[Recipient, ...]
    risposte: str
    oggetto: str
    gestore_emittente: str
    data: datetime | None  # giorno + ora with its zona, timezone-aware
    identificativo: str
    msgid: str
    ricevuta: str | None  # completa | breve | sintetica
    consegna: str | None
    errore_esteso: str | None


def parse(data: bytes) -> Daticert:
    """The daticert's fields; raises DaticertError with the reason."""
    if len(data) > MAX_BYTES:
        raise DaticertError(f"daticert.xml troppo grande ({len(data)} byte)")
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ValueError) as exc:
        raise DaticertError(f"daticert.xml non leggibile: {type(exc).__name__}: {exc}") from None
    if root.tag != "postacert":
        raise DaticertError(f"daticert.xml: elemento radice {root.tag!r} invece di 'postacert'")
    return Daticert(
        tipo=root.get("tipo", "").strip(),
        errore=root.get("errore", "").strip(),
        mittente=_text(root, "intestazione/mittente"),
        destinatari=tuple(
            Recipient(_clean(e.text), e.get("tipo", "").strip())
            for e in root.iterfind("intestazione/destinatari")
        ),
        risposte=_text(root, "intestazione/risposte"),
        oggetto=_text(root, "intestazione/oggetto"),
        gestore_emittente=_text(root, "dati/gestore-emittente"),
        data=_date(root.find("dati/data")),
        identificativo=_text(root, "dati/identificativo"),
        msgid=_text(root, "dati/msgid"),
        ricevuta=(
            root.find("dati/ricevuta").get("tipo")
            if root.find("dati/ricevuta") is not None
            else None
        ),
        consegna=_text(root, "dati/consegna") or None,
        errore_esteso=_text(root, "dati/errore-esteso") or None,
    )


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _text(root: Element, path: str) -> str:
    found = root.find(path)
    return _clean(found.text) if found is not None else ""


def _date(node: Element | None) -> datetime | None:
    """`<data zona="+0100"><giorno>27/11/2014</giorno><ora>15:12:16</ora></data>`."""
    if node is None:
        return None
    try:
        day_, month, year = (int(n) for n in _text(node, "giorno").split("/"))
        hour, minute, second = (int(n) for n in _text(node, "ora").split(":"))
        day = datetime(year, month, day_, hour, minute, second)
        zone = node.get("zona", "+0000").strip()
        sign = -1 if zone.startswith("-") else 1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
        return day.replace(tzinfo=timezone(sign * offset))
    except (ValueError, IndexError):
        return None
