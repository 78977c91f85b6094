"""The report's phone figures: the contracts' service levels from the PBX's call records,
and the calls beside the written requests.

Only calls that came in during service hours count for the levels: outside them the
answering machine is the service (its voicemails are tickets on channel `phone`). Of those:
the share answered by an operator within `answered_within_s` (target 90 %), and the share
lost (target at most 4 %): not answered by an operator within `lost_after_s`, busy, answered
by a recorded message, or sent to the answering machine.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from inbox_daemon.calendar import ServiceCalendar
from inbox_daemon.config.phone import CallsConfig
from inbox_daemon.store.models import CallRecord, Ticket
from parsers.phone.cdr import LOST, OUTCOMES, Levels, outcome


def phone_figures(
    session: Session,
    start: datetime,
    end: datetime,
    tickets: list[Ticket],
    calendar: ServiceCalendar,
    config: CallsConfig,
    levels: Levels,
) -> dict[str, Any]:
    query = select(CallRecord).where(CallRecord.start >= start, CallRecord.start < end)
    records = list(session.exec(query.order_by(col(CallRecord.start))))
    in_hours = [r for r in records if calendar.is_open(r.start)]
    found = Counter(outcome(r, levels) for r in in_hours)  # type: ignore[arg-type]
    offered = len(in_hours)
    lost = sum(found[o] for o in LOST)
    in_time = found["answered_in_time"]
    return {
        "calls": len(records),
        "calls_in_service_hours": offered,
        "calls_outside_service_hours": len(records) - offered,
        "by_outcome": {o: found.get(o, 0) for o in OUTCOMES},
        "answered_within_s": levels.answered_within_s,
        "answered_in_time": in_time,
        "answered_in_time_share": _share(in_time, offered),
        "answered_in_time_target": config.target_answered_share,
        "lost": lost,
        "lost_share": _share(lost, offered),
        "lost_target": config.target_lost_share,
        "voicemails": _via(tickets, "voicemail"),
        "operator_registrations": _via(tickets, "operator"),
    }


def levels(config: CallsConfig) -> Levels:
    def names(apps: list[str]) -> frozenset[str]:
        return frozenset(app.lower() for app in apps)

    return Levels(
        names(config.operator_apps),
        names(config.message_apps),
        names(config.voicemail_apps),
        config.answered_within_s,
        config.lost_after_s,
    )


def _via(tickets: list[Ticket], via: str) -> int:
    """Phone tickets made from a voicemail, or registered by an operator from a call."""
    return sum(t.channel == "phone" and (t.phone or {}).get("via") == via for t in tickets)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


OUTCOME_LABELS = {
    "answered_in_time": "risposte da un operatore entro la soglia",
    "answered": "risposte da un operatore oltre la soglia",
    "answered_late": "risposte troppo tardi (perse)",
    "unanswered": "senza risposta (perse)",
    "busy": "occupato (perse)",
    "message": "risposte da un messaggio registrato (perse)",
    "voicemail": "inviate alla segreteria in orario di servizio (perse)",
    "other": "altro (IVR, trasferimenti)",
}


def phone_html(phone: dict[str, Any]) -> str:
    """The report page's phone section, in Italian."""
    from html import escape

    def share(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}".replace(".", ",")

    def target(value: float) -> str:
        return f"{value:.0%}"

    lines = [
        "<h2>Servizio telefonico</h2>",
        f"<p>Chiamate registrate dal centralino: <strong>{phone['calls']}</strong>, di cui "
        f"{phone['calls_in_service_hours']} in orario di servizio e "
        f"{phone['calls_outside_service_hours']} fuori orario. Messaggi in segreteria "
        f"registrati come richieste: {phone['voicemails']}; chiamate registrate dagli "
        f"operatori: {phone['operator_registrations']}.</p>",
        "<table><tr><th>livello di servizio</th><th>mese</th><th>obiettivo</th></tr>",
        f"<tr><td>risposte entro {phone['answered_within_s']} secondi</td>"
        f"<td>{share(phone['answered_in_time_share'])}</td>"
        f"<td>almeno {target(phone['answered_in_time_target'])}</td></tr>",
        f"<tr><td>chiamate perse</td><td>{share(phone['lost_share'])}</td>"
        f"<td>al più {target(phone['lost_target'])}</td></tr></table>",
        "<table><tr><th>chiamate in orario di servizio</th><th>mese</th></tr>",
    ]
    for key, count in phone["by_outcome"].items():
        lines.append(f"<tr><td>{escape(OUTCOME_LABELS.get(key, key))}</td><td>{count}</td></tr>")
    return "\n".join([*lines, "</table>"])
