"""Acknowledgements: every request gets its number, registration date and time back.

`plan` decides, from a ticket's draft, whether and to whom an acknowledgement is due, and
renders it into a job that `registration.py` writes in the ticket's own transaction (a
ticket and its acknowledgement exist together or not at all); `outbox.py` delivers it
later with retries.

Loop and flood protection: no acknowledgement to machine mail (bounces, auto-replies, bulk
and list mail: the parser's flags), to no-reply or list-robot addresses, to the daemon's own
addresses, or beyond `max_per_sender_per_hour` (the extra jobs are kept as `suppressed`, so
`acks list` shows them). Faxes are never answered by fax: `fax_ack_to`, if set, gets theirs.
Every sender-controlled text that reaches a header is reduced to one line first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from importlib import resources
from string import Template
from typing import Protocol
from zoneinfo import ZoneInfo

from inbox_daemon.addresses import is_among
from inbox_daemon.config import (
    AcknowledgementsConfig,
    Config,
    ImapSource,
    SmtpSource,
    WebSource,
)
from inbox_daemon.drafts import JobDraft, TicketDraft
from inbox_daemon.errors import ConfigError
from inbox_daemon.header_text import one_line
from parsers.message import ParsedMessage

REQUEST_TYPE_LABELS = {
    "manutenzione": "richiesta di manutenzione",
    "reclamo": "reclamo",
    "sollecito": "sollecito",
    "informazione": "richiesta di informazioni",
    "da_classificare": "in corso di classificazione",
}
URGENCY_LABELS = {"emergenza": "emergenza", "urgente": "urgente", "ordinaria": "ordinaria"}
CHANNEL_LABELS = {
    "email": "posta elettronica", "pec": "PEC", "fax": "fax", "phone": "telefono",
    "web": "modulo web",
}  # fmt: skip
DEEMED_REASONS = {
    "fuori_orario": "fuori dall'orario di servizio",
    "festivo": "in un giorno festivo",
    "chiusura": "in un periodo di chiusura del servizio",
}
# Local parts of robots and of addresses that ask not to be answered ("+tag" removed first).
NO_REPLY = re.compile(
    r"(no|do[-_.]?not)[-_.]?reply|mailer[-_.]?daemon|postmaster|bounces?|"
    r"owner-.+|.+-(owner|request|bounces?)|.+[-_.]no[-_.]?reply",
    re.IGNORECASE,
)
ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MESSAGE_ID = re.compile(r"<[^<>\s]{1,500}>")


@dataclass(frozen=True)
class AckPolicy:
    """What planning an acknowledgement needs, built once: the template is read at start-up,
    not for every ticket."""

    config: AcknowledgementsConfig
    template: Template
    own: frozenset[str]  # the daemon's own addresses and "@domain"s, lower-case
    tz: ZoneInfo
    status_url: Callable[[str], str] | None = None  # a web source's status page of a number

    @classmethod
    def of(cls, cfg: AcknowledgementsConfig, tz: ZoneInfo, own: Collection[str] = ()) -> AckPolicy:
        """`own` adds the addresses only the whole config knows (see `own_addresses`)."""
        ours = {a.strip().lower() for a in (cfg.from_, *cfg.own_addresses, *own)}
        return cls(cfg, Template(_template_text(cfg)), frozenset(a for a in ours if a), tz)

    @classmethod
    def from_config(cls, config: Config, tz: ZoneInfo) -> AckPolicy:
        policy = cls.of(config.acknowledgements, tz, own_addresses(config))
        return replace(policy, status_url=_status_links(config))


class TicketFacts(Protocol):
    """What an acknowledgement tells of a ticket: a `TicketDraft`, or a stored `Ticket`."""

    number: str
    channel: str
    sender: str | None
    subject: str
    request_type: str
    urgency: str
    criminal_event: bool
    competence: str | None
    received_at: datetime
    deemed_received_at: datetime
    deemed_reason: str | None
    registered_at: datetime

    @property
    def pole_codes(self) -> Sequence[str]: ...


RecentAcks = Callable[[str, datetime], int]  # acknowledgements to an address since a time


def plan(
    policy: AckPolicy, draft: TicketDraft, parsed: ParsedMessage, recent_acks: RecentAcks
) -> JobDraft | None:
    """The acknowledgement job for a new ticket, or None when none is due (no recipient).

    Beyond `max_per_sender_per_hour` to one address the job is still made, as `suppressed`,
    so that `acks list` shows it and an operator may release it.
    """
    cfg = policy.config
    recipient = _recipient(cfg, draft.channel, parsed, policy.own)
    if recipient is None:
        return None
    now = draft.registered_at
    job = JobDraft(
        kind="ack",
        recipient=recipient,
        source=draft.source,
        subject=_subject(draft),
        body=render(policy, draft, draft.holiday_name),
        headers=_thread_headers(parsed),
        created_at=now,
    )
    flood_checked = draft.channel != "fax"  # fax acks go to our own operators, not a sender
    hour_ago = now - timedelta(hours=1)
    if flood_checked and recent_acks(recipient, hour_ago) >= cfg.max_per_sender_per_hour:
        limit = f"more than {cfg.max_per_sender_per_hour} acknowledgements in an hour"
        return replace(job, state="suppressed", last_error=limit)
    return job


def _subject(ticket: TicketFacts) -> str:
    subject = f"Registrazione richiesta n. {ticket.number}"
    original = one_line(ticket.subject)
    return (f"{subject} - {original}" if original else subject)[:250]


def _status_links(config: Config) -> Callable[[str], str] | None:
    """The status pages of the first web source, when there is one (`web/tokens.py`)."""
    from inbox_daemon.web.tokens import StatusLinks, load_secret, secret_path

    for source in config.sources:
        if isinstance(source, WebSource):
            path = secret_path(source.secret_file, config.storage.dir)
            try:
                return StatusLinks(source.base_url, load_secret(path))
            except (OSError, ValueError) as exc:
                raise ConfigError([f"sources.{source.name}.secret_file: {exc}"]) from None
    return None


def own_addresses(config: Config) -> frozenset[str]:
    """Every address the daemon sends from or receives at: mail from them is never answered.

    "@domain" entries of `own_addresses` cover a domain; an SMTP ingress's "@domain"
    recipients do not (citizens may write from the same domain as the Contact Center).
    """
    ack = config.acknowledgements
    found = {ack.from_, *ack.own_addresses, ack.smtp.from_ or ""}
    for source in config.sources:
        if isinstance(source, SmtpSource):
            found.update(r for r in source.recipients if not r.startswith("@"))
        if isinstance(source, ImapSource) and "@" in source.username:
            found.add(source.username)
        if isinstance(source, ImapSource | SmtpSource) and source.smtp is not None:
            found.add(source.smtp.from_ or "")
    return frozenset(a.strip().lower() for a in found if "@" in a)


def _recipient(
    cfg: AcknowledgementsConfig, channel: str, parsed: ParsedMessage, ours: Collection[str]
) -> str | None:
    """Who gets the acknowledgement: never a machine, never ourselves (loop protection)."""
    if channel == "fax":
        return cfg.fax_ack_to
    if parsed.is_bounce or parsed.is_auto_submitted or parsed.is_bulk:
        return None
    sender = (parsed.from_address or "").strip().lower()
    address = (parsed.reply_to or sender).strip().lower()
    if not ADDRESS.fullmatch(address) or is_among(sender, ours) or is_among(address, ours):
        return None
    if NO_REPLY.fullmatch(address.rpartition("@")[0].partition("+")[0]):
        return None
    return address


def render(policy: AckPolicy, ticket: TicketFacts, holiday_name: str | None = None) -> str:
    """The body: the configured template (string.Template), else the shipped Italian one.

    `safe_substitute`: `check-config` and start-up refuse unknown placeholders already; should
    one slip through, it shows as text rather than failing the ticket's transaction.
    """
    url = policy.status_url(ticket.number) if policy.status_url else ""
    values = placeholders(policy.config, ticket, policy.tz, holiday_name, url)
    return policy.template.safe_substitute(values)


def _template_text(cfg: AcknowledgementsConfig) -> str:
    if cfg.template:
        return cfg.template.read_text(encoding="utf-8")
    return resources.files("inbox_daemon").joinpath("templates/ack_it.txt").read_text("utf-8")


PLACEHOLDERS = frozenset({
    "number", "registered_at", "registered_date", "registered_time", "registered_iso",
    "received_at", "deemed_received_at", "deemed_line", "subject", "sender", "channel",
    "channel_label", "request_type", "request_type_label", "urgency", "urgency_label",
    "pole_codes", "pole_line", "emergency_line", "crime_line", "emergency_phone",
    "competence", "competence_line", "status_url", "status_line",
})  # fmt: skip


def template_problems(cfg: AcknowledgementsConfig) -> list[str]:
    """What is wrong with the configured template: checked at start-up, so that a misspelt
    `$nmber` is an error an operator sees in `check-config`, not text a citizen receives."""
    if cfg.template is None or not cfg.template.is_file():
        return []  # the config check already reports a missing file
    template = Template(_template_text(cfg))
    unknown = sorted(set(template.get_identifiers()) - PLACEHOLDERS)
    problems = [f"acknowledgements.template: unknown placeholder ${name}" for name in unknown]
    if not template.is_valid():
        problems.append("acknowledgements.template: a '$' not followed by a name (write $$)")
    return problems


def placeholders(
    cfg: AcknowledgementsConfig,
    ticket: TicketFacts,
    tz: ZoneInfo,
    holiday_name: str | None = None,
    status_url: str = "",
) -> dict[str, str]:
    """The template's placeholders (README lists them); `status_url`: the ticket's status
    page, when a web source serves one."""
    registered = ticket.registered_at.astimezone(tz)
    received = ticket.received_at.astimezone(tz)
    deemed_at = ticket.deemed_received_at.astimezone(tz)
    poles = ", ".join(ticket.pole_codes or [])
    return {
        "number": ticket.number,
        "registered_at": f"{registered:%d/%m/%Y %H:%M}",
        "registered_date": f"{registered:%d/%m/%Y}",
        "registered_time": f"{registered:%H:%M}",
        "registered_iso": registered.isoformat(),
        "received_at": f"{received:%d/%m/%Y %H:%M}",
        "deemed_received_at": f"{deemed_at:%d/%m/%Y %H:%M}",
        "deemed_line": _deemed_line(ticket, deemed_at, holiday_name),
        "subject": one_line(ticket.subject) or "(senza oggetto)",
        "sender": one_line(ticket.sender or ""),
        "channel": ticket.channel,
        "channel_label": CHANNEL_LABELS.get(ticket.channel, ticket.channel),
        "request_type": ticket.request_type,
        "request_type_label": REQUEST_TYPE_LABELS.get(ticket.request_type, ticket.request_type),
        "urgency": ticket.urgency,
        "urgency_label": URGENCY_LABELS.get(ticket.urgency, ticket.urgency),
        "pole_codes": poles,
        "pole_line": f"Punti luce indicati: {poles}\n" if poles else "",
        "emergency_line": _emergency_line(cfg, ticket),
        "crime_line": _crime_line(ticket),
        "competence": ticket.competence or "fornitore",
        "competence_line": _competence_line(ticket.competence),
        "emergency_phone": cfg.emergency_phone,
        "status_url": status_url,
        "status_line": f"Lo stato della richiesta si può seguire qui: {status_url}\n"
        if status_url
        else "",
    }


def _deemed_line(ticket: TicketFacts, deemed_at: datetime, holiday_name: str | None) -> str:
    if not ticket.deemed_reason or ticket.deemed_received_at == ticket.received_at:
        return ""
    why = DEEMED_REASONS.get(ticket.deemed_reason, ticket.deemed_reason)
    if holiday_name:
        why += f" ({holiday_name})"
    return (
        f"La richiesta è pervenuta {why}: ai fini dei tempi di servizio si considera ricevuta "
        f"il {deemed_at:%d/%m/%Y} alle ore {deemed_at:%H:%M}.\n"
    )


def _emergency_line(cfg: AcknowledgementsConfig, ticket: TicketFacts) -> str:
    if ticket.urgency != "emergenza":
        return ""
    line = "La segnalazione è stata classificata come EMERGENZA."
    if cfg.emergency_phone:
        line += (
            " Per il pronto intervento, attivo 24 ore su 24, chiami subito il numero "
            f"{cfg.emergency_phone}."
        )
    return line + "\n"


COMPETENT_BODIES = {
    "vigili_del_fuoco": (
        "dei Vigili del Fuoco: se c'è pericolo per le persone, li chiami subito al 115"
    ),
    "polizia_locale": (
        "della Polizia Locale del Comune, alla quale La invitiamo a rivolgersi "
        "(in caso di pericolo immediato chiami il 112)"
    ),
}


def _competence_line(competence: str | None) -> str:
    """A matter for another body: the sender is told whom to call (forwarding it there
    comes with the routing actions)."""
    body = COMPETENT_BODIES.get(competence or "")
    if body is None:
        return ""
    return (
        f"La segnalazione riguarda una materia che non è di competenza del Contact Center ma "
        f"{body}. La richiesta è stata comunque registrata.\n"
    )


def _crime_line(ticket: TicketFacts) -> str:
    if not ticket.criminal_event:
        return ""
    return (
        "La segnalazione descrive un possibile reato (furto, danneggiamento, aggressione), che "
        "non è di competenza del Contact Center: La invitiamo a denunciarlo alle Forze "
        "dell'Ordine chiamando il 112. Il danno all'impianto è stato comunque registrato.\n"
    )


def _thread_headers(parsed: ParsedMessage) -> dict[str, str]:
    """In-Reply-To and References, so that the acknowledgement threads under the request.

    Only well-formed message ids are copied: they come from the sender.
    """
    if not parsed.message_id or not MESSAGE_ID.fullmatch(one_line(parsed.message_id)):
        return {}
    message_id = one_line(parsed.message_id)
    earlier = [one_line(r) for r in parsed.references[-10:]]
    references = [r for r in earlier if MESSAGE_ID.fullmatch(r)] + [message_id]
    return {"In-Reply-To": message_id, "References": " ".join(references)}
