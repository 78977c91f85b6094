"""Acknowledgements: every request gets its number, registration date and time back.

`plan` decides, inside the ticket's own transaction, whether and to whom an acknowledgement
is due, and renders it into an `outbox` row; the sender (`outbox.py`) delivers it later with
retries. Deciding in the same transaction means a ticket and its acknowledgement job exist
together or not at all.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from importlib import resources
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, func, select

from inbox_daemon.config import AcknowledgementsConfig
from inbox_daemon.store.models import Outbox, Ticket
from parsers.message import ParsedMessage

REQUEST_TYPE_LABELS = {
    "manutenzione": "richiesta di manutenzione",
    "reclamo": "reclamo",
    "sollecito": "sollecito",
    "informazione": "richiesta di informazioni",
    "da_classificare": "in corso di classificazione",
}
URGENCY_LABELS = {"emergenza": "emergenza", "urgente": "urgente", "ordinaria": "ordinaria"}
DEEMED_REASONS = {
    "fuori_orario": "fuori dall'orario di servizio",
    "festivo": "in un giorno festivo",
    "chiusura": "in un periodo di chiusura del servizio",
}
NO_REPLY = re.compile(
    r"^(no-?reply|do-?not-?reply|mailer-daemon|postmaster|bounces?)([+.-]|@)", re.I
)


def plan(
    cfg: AcknowledgementsConfig,
    session: Session,
    ticket: Ticket,
    parsed: ParsedMessage,
    *,
    source: str,
    now: datetime,
    tz: ZoneInfo,
    deemed: Any,
) -> list[Outbox]:
    """The acknowledgement job for a new ticket, or nothing when none is due."""
    if not cfg.enabled:
        return []
    recipient = _recipient(cfg, ticket, parsed)
    if recipient is None:
        return []
    job = Outbox(
        ticket_id=ticket.id,
        kind="ack",
        recipient=recipient,
        source=source,
        subject=_one_line(f"Registrazione richiesta n. {ticket.number} - {ticket.subject}")[:250],
        body=render(cfg, ticket, tz, deemed),
        headers=_thread_headers(parsed),
        next_attempt_at=now,
    )
    if _recent_acks(session, recipient, now) >= cfg.max_per_sender_per_hour:
        job.state = "suppressed"
        job.last_error = f"more than {cfg.max_per_sender_per_hour} acknowledgements in an hour"
    return [job]


def _recipient(cfg: AcknowledgementsConfig, ticket: Ticket, parsed: ParsedMessage) -> str | None:
    """Who gets the acknowledgement: never a machine, never ourselves (loop protection)."""
    if ticket.channel == "fax":
        return cfg.fax_ack_to
    if parsed.is_bounce or parsed.is_auto_submitted or parsed.is_bulk:
        return None
    address = (parsed.reply_to or parsed.from_address or "").strip().lower()
    if not re.fullmatch(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+", address):
        return None
    own = {a.lower() for a in cfg.own_addresses} | {cfg.from_.lower()}
    if address in own or NO_REPLY.match(address):
        return None
    return address


def _recent_acks(session: Session, recipient: str, now: datetime) -> int:
    query = select(func.count(Outbox.id)).where(
        Outbox.kind == "ack",
        Outbox.recipient == recipient,
        Outbox.created_at >= now - timedelta(hours=1),
        Outbox.state != "suppressed",
    )
    return int(session.exec(query).one())


def render(cfg: AcknowledgementsConfig, ticket: Ticket, tz: ZoneInfo, deemed: Any) -> str:
    template = Template(_template_text(cfg))
    return template.safe_substitute(_fields(cfg, ticket, tz, deemed))


def _template_text(cfg: AcknowledgementsConfig) -> str:
    if cfg.template:
        return cfg.template.read_text(encoding="utf-8")
    return resources.files("inbox_daemon").joinpath("templates/ack_it.txt").read_text("utf-8")


def _fields(
    cfg: AcknowledgementsConfig, ticket: Ticket, tz: ZoneInfo, deemed: Any
) -> dict[str, str]:
    registered = ticket.registered_at.astimezone(tz)
    deemed_at = ticket.deemed_received_at.astimezone(tz)
    deemed_line = ""
    if ticket.deemed_reason:
        why = DEEMED_REASONS.get(ticket.deemed_reason, ticket.deemed_reason)
        deemed_line = (
            f"La richiesta è pervenuta {why}: si considera ricevuta il "
            f"{deemed_at:%d/%m/%Y alle ore %H:%M}.\n"
        )
    emergency = ""
    if ticket.urgency == "emergenza" and cfg.emergency_phone:
        emergency = (
            "La segnalazione è stata classificata come EMERGENZA. Per il pronto intervento, "
            f"attivo 24 ore su 24, chiami il numero {cfg.emergency_phone}.\n"
        )
    crime = ""
    if ticket.criminal_event:
        crime = (
            "La segnalazione descrive un possibile reato (furto, danneggiamento, aggressione): "
            "La invitiamo a sporgere denuncia alle Forze dell'Ordine chiamando il 112.\n"
        )
    poles = ", ".join(ticket.pole_codes or [])
    return {
        "number": ticket.number,
        "registered_at": f"{registered:%d/%m/%Y %H:%M}",
        "registered_iso": registered.isoformat(),
        "deemed_received_at": f"{deemed_at:%d/%m/%Y %H:%M}",
        "deemed_line": deemed_line,
        "subject": _one_line(ticket.subject) or "(senza oggetto)",
        "request_type": ticket.request_type,
        "request_type_label": REQUEST_TYPE_LABELS.get(ticket.request_type, ticket.request_type),
        "urgency": ticket.urgency,
        "urgency_label": URGENCY_LABELS.get(ticket.urgency, ticket.urgency),
        "pole_line": f"Punti luce indicati: {poles}\n" if poles else "",
        "emergency_line": emergency,
        "crime_line": crime,
        "emergency_phone": cfg.emergency_phone,
    }


def _thread_headers(parsed: ParsedMessage) -> dict[str, str]:
    if not parsed.message_id:
        return {}
    references = " ".join([*parsed.references[-10:], parsed.message_id])
    return {"In-Reply-To": _one_line(parsed.message_id), "References": _one_line(references)}


def _one_line(text: str) -> str:
    """Sender-controlled text may go into headers: no CR, LF or other control characters."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()
