"""Routing actions through the real outbox to a real SMTP sink: an emergency alerted at once at
any hour (a holiday's night) with where the pole stands, a crime forwarded with the original
message attached as it came, each sent once."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import select

from inbox_daemon import outbox, pipeline
from inbox_daemon.register import import_register
from inbox_daemon.spool import Incoming, Origin
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Outbox, Ticket

ROME = ZoneInfo("Europe/Rome")
CHRISTMAS_3AM = datetime(2026, 12, 25, 3, 0, tzinfo=ROME)


def routing(port: int) -> str:
    return f"""
[acknowledgements]
enabled = true
from = "segnalazioni@example.it"
smtp = {{ host = "127.0.0.1", port = {port}, tls = "none" }}
[[routing]]
match = {{ urgency = "emergenza" }}
queue = "reperibilita"
notify = ["reperibile@example.it", "3331234567@sms.example.it"]
[[routing]]
match = {{ criminal_event = true }}
queue = "sicurezza"
forward = ["polizia.locale@comune.example.it"]
[[routing]]
queue = "manutenzione"
"""


def request(n: int, subject: str, text: str) -> bytes:
    return (
        f"From: Cittadino {n} <c{n}@example.org>\r\nTo: segnalazioni@example.it\r\n"
        f"Subject: {subject}\r\nMessage-ID: <route-{n}@example.org>\r\n"
        f"Date: Fri, 25 Dec 2026 03:00:00 +0100\r\n\r\n{text}\r\n"
    ).encode()


def test_an_emergency_on_a_holiday_night_is_alerted_at_once_and_a_crime_forwarded(
    make_context, ack_sink, tmp_path: Path
):
    (tmp_path / "poles.csv").write_text(
        "code,address,municipality,lat,lon\nIP-004512,Via Roma 12,Segrate,45.4871,9.2956\n"
    )
    ctx = make_context(routing(ack_sink.port) + '[poles]\nregister = "poles.csv"\n')
    import_register(ctx.engine, tmp_path / "poles.csv", ctx.pole_formats)
    danger = request(1, "Palo caduto", "Il palo IP-004512 è caduto sulla strada, pericolo!")
    theft = request(2, "Furto", "Stanotte hanno rubato i cavi di rame dell'impianto di via Po.")
    stored = ctx.spool.store_many(
        [Incoming(raw, Origin("test"), CHRISTMAS_3AM, "email") for raw in (danger, theft)]
    )
    list(pipeline.process_pending(ctx))
    with transaction(ctx.engine) as session:
        first = session.exec(select(Ticket).where(Ticket.message_pk == stored[0].message_pk)).one()
        jobs = list(session.exec(select(Outbox).order_by(Outbox.id)))
    assert first.deemed_received_at.astimezone(ROME) == datetime(2026, 12, 28, 8, 30, tzinfo=ROME)
    alerts = [j for j in jobs if j.kind == "alert"]
    assert sorted(j.recipient for j in alerts) == ["3331234567@sms.example.it",
                                                  "reperibile@example.it"]  # fmt: skip
    assert all(j.next_attempt_at <= first.registered_at for j in alerts)  # due at once

    sent = outbox.deliver_due(ctx)
    assert sent == len(jobs) == 5  # two acks, two alerts, one forward
    assert outbox.deliver_due(ctx) == 0  # never twice
    by_rcpt = {m.rcpt_tos[0]: m for m in ack_sink.messages}
    alert = by_rcpt["reperibile@example.it"].message
    assert alert["Subject"].startswith(f"EMERGENZA {first.number} IP-004512 Via Roma 12, Segrate")
    body = alert.get_content()
    assert "mlat=45.487100&mlon=9.295600" in body and "caduto sulla strada" in body
    forwarded = by_rcpt["polizia.locale@comune.example.it"].message
    assert "Inoltro richiesta n." in forwarded["Subject"]
    [attached] = list(forwarded.iter_attachments())
    assert attached.get_filename() == "messaggio-originale.eml"
    assert attached.get_content() == theft  # the original bytes, untouched
