"""The figures of one month, over the tickets whose `received_at` falls in it (in the
configured timezone), with the same figures of the month before for comparison.

Percentiles are linear between the closest ranks (numpy's default, statistics' "inclusive"),
so that a spreadsheet's PERCENTILE gives the same numbers from the CSV.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from inbox_daemon.calendar import ServiceCalendar
from inbox_daemon.config.phone import CallsConfig
from inbox_daemon.config.schema import TARGET
from inbox_daemon.report.phone import levels as call_levels
from inbox_daemon.report.phone import phone_figures
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message, Outbox, Pole, Ticket, TicketPole
from rules.types import REQUEST_TYPES, URGENCIES

CHANNELS = ("email", "pec", "fax", "web", "phone")
STATUSES = ("open", "in_progress", "closed", "redirected")
KEPT = ("receipt", "bounce", "auto_reply", "duplicate", "quarantined")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        year, _, month = text.partition("-")
        if not (year.isdigit() and month.isdigit() and 1 <= int(month) <= 12):
            raise ValueError(f"{text!r} is not a month such as 2026-11")
        return cls(int(year), int(month))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime(self.year, self.month, 1, tzinfo=tz)
        after = Month(self.year + self.month // 12, self.month % 12 + 1)
        return start, datetime(after.year, after.month, 1, tzinfo=tz)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)


def month_tickets(session: Session, month: Month, tz: ZoneInfo) -> list[Ticket]:
    start, end = month.bounds(tz)
    query = select(Ticket).where(Ticket.received_at >= start, Ticket.received_at < end)
    return list(session.exec(query.order_by(col(Ticket.id))))


def _counts(engine: Engine, month: Month, tz: ZoneInfo) -> dict[str, Any]:
    with transaction(engine) as session:
        tickets = month_tickets(session, month, tz)
    return {"month": str(month), "total": len(tickets), **_by(tickets)}


def _by(tickets: list[Ticket]) -> dict[str, Any]:
    def count(field: str, keys: tuple[str, ...]) -> dict[str, int]:
        found = Counter(getattr(t, field) for t in tickets)
        return {key: found.get(key, 0) for key in (*keys, *sorted(set(found) - set(keys)))}

    return {
        "by_request_type": count("request_type", REQUEST_TYPES),
        "by_channel": count("channel", CHANNELS),
        "by_urgency": count("urgency", URGENCIES),
        "by_status": count("status", STATUSES),
        "by_queue": dict(Counter(t.queue or "-" for t in tickets).most_common()),
        "criminal_events": sum(t.criminal_event for t in tickets),
        "complaints": sum(t.request_type == "reclamo" for t in tickets),
        "reminders": sum(t.request_type == "sollecito" for t in tickets),
        "forwarded": sum(t.status == "redirected" for t in tickets),
    }


def month_figures(
    engine: Engine,
    month: Month,
    tz: ZoneInfo,
    calendar: ServiceCalendar,
    targets: dict[str, str],
    calls: CallsConfig | None = None,
) -> dict[str, Any]:
    """The report's figures (DESIGN.md contract keys first), and `previous` beside them."""
    calls = calls or CallsConfig()
    start, end = month.bounds(tz)
    with transaction(engine) as session:
        tickets = month_tickets(session, month, tz)
        figures: dict[str, Any] = {"month": str(month), "timezone": tz.key}
        figures["total"] = len(tickets)
        figures.update(_by(tickets))
        figures["reminders_per_ticket"] = _reminders_per_ticket(session, tickets)
        figures["kept_without_ticket"] = _kept(session, start, end)
        figures["acknowledgements"] = _acks(session, [t.id for t in tickets if t.id])
        figures["times"] = _times(tickets, calendar, targets)
        figures["repeated_poles"] = _repeated_poles(session, tickets)
        figures["repeated_streets"] = _repeated_streets(session, tickets)
        figures["phone"] = phone_figures(
            session, start, end, tickets, calendar, calls, call_levels(calls)
        )
    figures.update(_when(tickets, tz))
    figures["previous"] = _counts(engine, month.previous(), tz)
    return figures


def _reminders_per_ticket(session: Session, tickets: list[Ticket]) -> list[dict[str, Any]]:
    chased = Counter(t.related_ticket_id for t in tickets if t.request_type == "sollecito")
    chased.pop(None, None)
    rows = []
    for ticket_id, count in chased.most_common(20):
        original = session.get(Ticket, ticket_id)
        if original is not None:
            rows.append({"ticket": original.number, "reminders": count, "status": original.status})
    return rows


def _kept(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    """Messages of the month that made no ticket, by what they were."""
    query = select(Message.outcome, Message.status).where(
        Message.received_at >= start, Message.received_at < end
    )
    found = Counter(
        "quarantined" if status == "quarantined" else outcome
        for outcome, status in session.exec(query)
    )
    return {kind: found.get(kind, 0) for kind in KEPT}


def _acks(session: Session, ticket_ids: list[int]) -> dict[str, int]:
    found: Counter[str] = Counter()
    for start in range(0, len(ticket_ids), 500):
        chunk = ticket_ids[start : start + 500]
        query = select(Outbox.state).where(Outbox.kind == "ack", col(Outbox.ticket_id).in_(chunk))
        found.update(session.exec(query))
    states = ("sent", "pending", "sending", "failed", "suppressed")
    counts = {state: found.get(state, 0) for state in states}
    counts["not_delivered"] = counts["failed"] + counts["suppressed"]
    return counts


def _times(
    tickets: list[Ticket], calendar: ServiceCalendar, targets: dict[str, str]
) -> dict[str, Any]:
    """Seconds from receipt to registration, and from deemed receipt to closure, by urgency:
    median, 90th percentile, and the share of closures within the urgency's target."""
    registration, closure = {}, {}
    for urgency in URGENCIES:
        mine = [t for t in tickets if t.urgency == urgency]
        waits = [(t.registered_at - t.received_at).total_seconds() for t in mine]
        registration[urgency] = _spread(waits)
        closed = [t for t in mine if t.closed_at is not None]
        durations = [(t.closed_at - t.deemed_received_at).total_seconds() for t in closed]  # type: ignore[operator]
        row = {**_spread(durations), "still_open": len(mine) - len(closed)}
        target = targets.get(urgency)
        if target:
            within = sum(_within(t, target, calendar) for t in closed)
            share = round(within / len(closed), 4) if closed else None
            row.update(target=target, within_target=within, within_target_share=share)
        closure[urgency] = row
    return {"registration": registration, "closure": closure}


def _spread(seconds: list[float]) -> dict[str, Any]:
    if not seconds:
        return {"count": 0, "median_s": None, "p90_s": None}
    p90 = (
        statistics.quantiles(seconds, n=10, method="inclusive")[8]
        if len(seconds) > 1
        else seconds[0]
    )
    return {"count": len(seconds), "median_s": round(statistics.median(seconds), 1),
            "p90_s": round(p90, 1)}  # fmt: skip


def target_seconds(target: str) -> tuple[float, bool]:
    """("16h service") -> (57600.0, True): the seconds, and whether only service hours count."""
    match = TARGET.match(target)
    if match is None:
        raise ValueError(f"not a target: {target!r}")
    return float(match[1]) * UNIT_SECONDS[match[2]], bool(match[3])


def _within(ticket: Ticket, target: str, calendar: ServiceCalendar) -> bool:
    assert ticket.closed_at is not None
    seconds, service_only = target_seconds(target)
    if service_only:
        taken = calendar.open_time_between(ticket.deemed_received_at, ticket.closed_at)
    else:
        taken = ticket.closed_at - ticket.deemed_received_at
    return taken <= timedelta(seconds=seconds)


def _repeated_poles(session: Session, tickets: list[Ticket]) -> list[dict[str, Any]]:
    """Poles with more than one ticket in the month, most first."""
    by_pole: dict[str, list[str]] = {}
    for ticket in tickets:
        for code in dict.fromkeys(ticket.pole_codes or []):
            by_pole.setdefault(code, []).append(ticket.number)
    rows = []
    for code, numbers in sorted(by_pole.items(), key=lambda item: (-len(item[1]), item[0])):
        if len(numbers) < 2:
            break
        pole = session.get(Pole, code)
        rows.append({"pole": code, "tickets": len(numbers), "numbers": numbers,
                     "address": pole.address if pole else None,
                     "municipality": pole.municipality if pole else None})  # fmt: skip
    return rows


def _repeated_streets(session: Session, tickets: list[Ticket]) -> list[dict[str, Any]]:
    """Streets (of registered poles) with more than one ticket in the month."""
    ids = [t.id for t in tickets if t.id]
    found: Counter[tuple[str, str]] = Counter()
    for start in range(0, len(ids), 500):
        query = (
            select(TicketPole.ticket_id, Pole.street, Pole.municipality)
            .join(Pole, col(Pole.code) == TicketPole.code)
            .where(col(TicketPole.ticket_id).in_(ids[start : start + 500]))
        )
        per_ticket = {(tid, street, town) for tid, street, town in session.exec(query)}
        found.update((street, town) for _, street, town in per_ticket)
    return [{"street": street, "municipality": town, "tickets": n}
            for (street, town), n in found.most_common(20) if n > 1]  # fmt: skip


def _when(tickets: list[Ticket], tz: ZoneInfo) -> dict[str, Any]:
    local = [t.received_at.astimezone(tz) for t in tickets]
    days = Counter(moment.date().isoformat() for moment in local)
    hours = Counter(moment.hour for moment in local)
    weekdays = Counter(moment.weekday() for moment in local)
    return {
        "busiest_days": [{"day": day, "tickets": n} for day, n in days.most_common(5)],
        "by_day": dict(sorted(days.items())),
        "by_hour": [hours.get(h, 0) for h in range(24)],
        "by_weekday": [weekdays.get(d, 0) for d in range(7)],
    }
