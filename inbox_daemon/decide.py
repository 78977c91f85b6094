"""Deciding what an analysed message becomes: a ticket draft, or a message kept as it is.

Pure: the few facts that only the database knows (the next number, an earlier ticket, the
acknowledgements a sender had lately) are asked of a `Ledger`, which the registration
transaction implements. Everything the ticket will be — columns, status, queue, rule hits,
acknowledgement — is settled here, so that `registration.py` only writes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import rules
from inbox_daemon import acks, alerts, sms
from inbox_daemon.analysis import Analysis
from inbox_daemon.calendar import ServiceCalendar
from inbox_daemon.certify import export as export_pec
from inbox_daemon.certify import receipt_draft
from inbox_daemon.certify import sent_at as pec_sent_at
from inbox_daemon.drafts import Clues, Decision, Kept, Related, TicketDraft
from inbox_daemon.tickets import format_number
from inbox_daemon.voicemail import call_received_at
from parsers.message import ParsedMessage

GATEWAY_CLOCK_SLACK = timedelta(minutes=10)


class Ledger(Protocol):
    """The facts of what is registered already, as the registration transaction sees them."""

    def has_ticket(self, message_id: str) -> bool:
        """Whether a ticket was made for this Message-ID (a retried delivery, a copy)."""
        ...

    def next_number(self, year: int) -> int:
        """The next progressive number of `year`, taken for this ticket."""
        ...

    def related(self, clues: Clues) -> Related | None: ...

    def recent_acks(self, recipient: str, since: datetime) -> int:
        """Acknowledgements sent or queued to `recipient` since `since` (not suppressed)."""
        ...


@dataclass(frozen=True)
class Received:
    """The stored message a decision is about."""

    pk: int
    source: str
    channel: str
    received_at: datetime
    sha256: str = ""  # its raw bytes in the store: what a forward attaches


@dataclass(frozen=True)
class Policy:
    """The configured rules of registration, built once (`context.py`)."""

    calendar: ServiceCalendar
    tz: ZoneInfo
    reminder_window: timedelta
    acks: acks.AckPolicy | None  # None: acknowledgements are off
    sms_gateway: str | None = None  # voicemails' acknowledgements by SMS (`sms.py`)


def decide(
    message: Received, analysis: Analysis, ledger: Ledger, policy: Policy, now: datetime
) -> Decision:
    """What the message becomes: a ticket (with its rows and jobs), a duplicate, or mail
    that is kept and not a request."""
    parsed, verdict = analysis.parsed, analysis.verdict
    assert parsed is not None, "decide() is for messages the stages analysed to the end"
    if verdict is None:
        return Kept(analysis.kind, receipt=receipt_draft(analysis.pec) if analysis.pec else None)
    if parsed.message_id and ledger.has_ticket(parsed.message_id):
        return Kept("duplicate", parsed.message_id)
    draft = draft_ticket(message, analysis, ledger, policy, now)
    ack = acks.plan(policy.acks, draft, parsed, ledger.recent_acks) if policy.acks else None
    if ack is None and policy.acks and policy.sms_gateway:  # a voicemail has no address
        ack = sms.plan(policy.acks, policy.sms_gateway, draft, ledger.recent_acks)
    actions = alerts.plan(draft, analysis.route, message.sha256)
    return replace(draft, jobs=(*([ack] if ack else []), *actions))


def draft_ticket(
    message: Received, analysis: Analysis, ledger: Ledger, policy: Policy, now: datetime
) -> TicketDraft:
    """The ticket's columns and rule hits, with the next number of the year."""
    parsed, verdict = analysis.parsed, analysis.verdict
    assert parsed is not None and verdict is not None
    placement = analysis.placement
    poles = placement.pole_codes if placement else verdict.pole_codes
    # a call: its time; a fax: the gateway's; else the message's arrival
    received_at = call_received_at(analysis.phone, gateway_time(message, analysis))
    deemed = policy.calendar.deemed_received(received_at)
    related = None
    if verdict.ticket_refs or verdict.request_type == "sollecito":  # the only ones that link
        # the window counts back from when the reminder arrived: a backlog processed late links
        # as it would have on the day
        since = message.received_at - policy.reminder_window
        related = ledger.related(clues(parsed, verdict, poles, since=since))
    year = now.astimezone(policy.tz).year
    seq = ledger.next_number(year)
    route = analysis.route
    return TicketDraft(
        year=year,
        seq=seq,
        number=format_number(year, seq),
        message_pk=message.pk,
        source=message.source,
        channel=analysis.pending.channel,  # the message's, or `phone` for a voicemail
        status="redirected" if verdict.criminal_event else "open",
        sender=parsed.from_address,
        sender_name=parsed.from_name or None,
        subject=parsed.subject[:2000],
        request_type=verdict.request_type,
        urgency=verdict.urgency,
        criminal_event=verdict.criminal_event,
        pole_codes=poles,
        competence=verdict.competence,
        received_at=received_at,
        deemed_received_at=deemed.at,
        deemed_reason=deemed.reason,
        registered_at=now,
        sent_at=pec_sent_at(analysis.pec) or parsed.date,
        message_id=parsed.message_id,
        thread_root=thread_root(parsed, related),
        queue=route.queue if route else None,
        text=parsed.new_text[:100_000],
        location=dict(placement.location) if placement and placement.location else None,
        unknown_poles=placement.unknown if placement else (),
        candidate_poles=placement.candidates if placement else (),
        details=details(verdict, related),
        related=related,
        holiday_name=deemed.holiday_name,
        phone=analysis.phone.details if analysis.phone else None,
        hits=why(analysis, related),
        pec=export_pec(analysis.pec) if analysis.pec else None,
        pec_identificativo=analysis.pec.identificativo if analysis.pec else None,
        fax=analysis.pages.fax() if analysis.pages else None,
    )


def gateway_time(message: Received, analysis: Analysis) -> datetime:
    """A fax counts as received when the gateway received it (DESIGN.md step 1), not when its
    mail reached us; a gateway clock that says later than the mail's arrival is wrong, and
    then the arrival stands."""
    call = analysis.pages.call if analysis.pages else None
    when = call.received_at if call else None
    if when is None or when > message.received_at + GATEWAY_CLOCK_SLACK:
        return message.received_at
    return when


def clues(
    parsed: ParsedMessage, verdict: rules.Verdict, poles: tuple[str, ...], since: datetime
) -> Clues:
    return Clues(
        ticket_refs=verdict.ticket_refs,
        is_reminder=verdict.request_type == "sollecito",
        pole_codes=poles,
        sender=parsed.from_address,
        subject=parsed.subject,
        thread_ids=(*parsed.references, *([parsed.in_reply_to] if parsed.in_reply_to else [])),
        since=since,
    )


def why(analysis: Analysis, related: Related | None) -> tuple[rules.Hit, ...]:
    """The rule hits of the classification and of the register, then the link found and the
    routing rule."""
    assert analysis.verdict is not None
    hits = [*analysis.verdict.hits, *(analysis.placement.hits if analysis.placement else ())]
    hits.extend(analysis.phone.hits if analysis.phone else ())
    if related:
        hits.append(rules.Hit("linking", "related_ticket", related.number, related.how))
    if related and related.status == "closed":
        closed = "sollecito su una richiesta già chiusa"
        hits.append(rules.Hit("linking.closed", "related_ticket", related.number, closed))
    if analysis.route:
        rule = f"routing[{analysis.route.rule}]"
        hits.append(rules.Hit(rule, "queue", analysis.route.queue, analysis.route.because))
    return tuple(hits)


def details(verdict: rules.Verdict, related: Related | None) -> dict[str, Any] | None:
    """The type-specific fields: the kind of fault, what a complaint is about, a question's
    topic (`rules/details.py`); for a reminder, the ticket it chases and whether that one was
    closed already (the question is open again)."""
    found: dict[str, Any] = {key: list(values) for key, values in verdict.details.items()}
    if verdict.request_type == "sollecito" and related is not None:
        found.update(chases=related.number, chases_status=related.status)
    return found or None


def thread_root(parsed: ParsedMessage, related: Related | None) -> str | None:
    """The first message of the e-mail thread: a reminder joins its earlier ticket's."""
    if related is not None:
        return related.thread_root or related.message_id
    if parsed.references:
        return parsed.references[0]
    return parsed.in_reply_to or parsed.message_id
