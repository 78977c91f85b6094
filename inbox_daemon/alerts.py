"""The actions of a routing rule: `notify` (a short alert), `forward` (the original message,
attached under a cover note) and `webhook`, planned as outbox jobs beside the acknowledgement.

They are written in the ticket's own transaction and sent by the outbox like acknowledgements
(retried, never lost, never sent twice). They are due at once, whatever the hour: the service
calendar moves `deemed_received_at`, not the on-call crew's alert. An alert is short enough
for an e-mail-to-SMS gateway in its subject, with the details in its body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from inbox_daemon.acks import URGENCY_LABELS, one_line
from inbox_daemon.drafts import JobDraft, TicketDraft
from inbox_daemon.routing import Route

TEXT_LINES = 6  # the first lines of the request, in an alert
MAP_ZOOM = 18


def plan(draft: TicketDraft, route: Route | None, raw_sha256: str) -> list[JobDraft]:
    """The alert, forward and webhook jobs the routing rule asks for (none without a rule)."""
    if route is None:
        return []
    jobs = [_alert(draft, route, address) for address in dict.fromkeys(route.notify)]
    jobs += [
        _forward(draft, route, address, raw_sha256) for address in dict.fromkeys(route.forward)
    ]
    if route.webhook:  # the body is the ticket as it is when sent (`webhooks.py`)
        signed_by = {"secret_ref": f"routing[{route.rule}]"}  # where the secret is, never it
        jobs.append(replace(_job("webhook", route.webhook, draft, "", ""), headers=signed_by))
    return jobs


def _alert(draft: TicketDraft, route: Route, address: str) -> JobDraft:
    where = _where(draft.location)
    urgency = URGENCY_LABELS.get(draft.urgency, draft.urgency).upper()
    poles = ", ".join(draft.pole_codes) or "nessun codice"
    subject = one_line(f"{urgency} {draft.number} {poles} {where}")[:250]
    lines = [
        f"Richiesta n. {draft.number} ({route.queue})",
        f"Tipo: {draft.request_type}   Urgenza: {draft.urgency}",
        f"Punto luce: {poles}",
        f"Luogo: {where or 'non noto (codice non nel registro)'}",
    ]
    if draft.location:
        lines.append(f"Mappa: {map_link(draft.location['lat'], draft.location['lon'])}")
    if draft.unknown_poles:
        lines.append(f"Codici non trovati nel registro: {', '.join(draft.unknown_poles)}")
    if draft.criminal_event:
        lines.append("Possibile reato: il segnalante è stato invitato a chiamare il 112.")
    lines += ["", f"Da: {draft.sender or '-'}", f"Oggetto: {draft.subject}", ""]
    lines += _first_lines(draft.text)
    return _job("alert", address, draft, subject, "\n".join(lines) + "\n")


def _forward(draft: TicketDraft, route: Route, address: str, raw_sha256: str) -> JobDraft:
    subject = one_line(f"Inoltro richiesta n. {draft.number} - {draft.subject}")[:250]
    body = (
        f"Vi inoltriamo la richiesta n. {draft.number}, registrata il "
        f"{draft.registered_at:%d/%m/%Y alle %H:%M} (UTC) e assegnata alla coda «{route.queue}» "
        f"(regola di smistamento n. {route.rule}: {route.because}), perché ritenuta di vostra "
        "competenza. Il messaggio originale è allegato così come ci è pervenuto.\n\n"
        f"Tipo: {draft.request_type}   Urgenza: {draft.urgency}\n"
        f"Punto luce: {', '.join(draft.pole_codes) or '-'}\n"
        f"Luogo: {_where(draft.location) or '-'}\n"
    )
    return _job("forward", address, draft, subject, body, raw_sha256)


def _job(
    kind: str, address: str, draft: TicketDraft, subject: str, body: str, raw: str | None = None
) -> JobDraft:
    return JobDraft(
        kind=kind,
        recipient=address,
        source=None,  # the default relay: alerts go to our own crews, not back to the sender
        subject=subject,
        body=body,
        headers={},
        created_at=draft.registered_at,
        raw_sha256=raw,
    )


def _where(location: dict[str, Any] | None) -> str:
    if not location:
        return ""
    return ", ".join(part for part in (location["address"], location["municipality"]) if part)


def map_link(lat: float, lon: float) -> str:
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map={MAP_ZOOM}/{lat:.6f}/{lon:.6f}"


def _first_lines(text: str) -> Sequence[str]:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return [*lines[:TEXT_LINES], *(["[…]"] if len(lines) > TEXT_LINES else [])]
