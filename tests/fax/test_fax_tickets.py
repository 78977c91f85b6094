"""A fax-gateway mail, or a photo of a label by e-mail, through the whole pipeline: spooled,
read (real tesseract, real zxing-cpp), classified, located and registered; the ticket and its
export are what the pages say."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from inbox_daemon import pipeline, workers
from inbox_daemon.spool import Incoming, Origin
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Attachment, Ticket
from inbox_daemon.tickets import export_row
from tests.fax.test_fax_profiles import FREEPBX_BODY, FREEPBX_SUBJECT, HYLAFAX_BODY, HYLAFAX_SUBJECT
from tests.ocr import faxpages as fp

ROME = ZoneInfo("Europe/Rome")
ARRIVED = datetime(2026, 12, 3, 18, 20, tzinfo=ROME)  # the gateway's mail, minutes after the call
SOURCES = """
[[sources]]
name = "hylafax"
kind = "folder"
path = "drop-h"
channel = "fax"
fax_profile = "hylafax"

[[sources]]
name = "freepbx"
kind = "folder"
path = "drop-a"
channel = "fax"
fax_profile = "asterisk"
"""
EMERGENCY = [
    "Buongiorno, vi segnaliamo che in via Roma",
    "il palo IP-071233 è piegato e sta per cadere",
    "sulla strada, con i fili scoperti. Pericolo!",
]


def gateway_mail(subject: str, body: str, attachments: list[tuple[str, str, bytes]]) -> bytes:
    mail = EmailMessage()
    mail["From"] = "HylaFAX <fax@gateway.example.it>"
    mail["To"] = "segnalazioni@example.it"
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{abs(hash(subject + body))}@gateway.example.it>"
    mail.set_content(body)
    for name, mime, data in attachments:
        maintype, subtype = mime.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return mail.as_bytes()


def run(ctx, raw: bytes, source: str, channel: str = "fax", analyse=None) -> tuple[Ticket, dict]:
    ctx.spool.store(Incoming(raw, Origin(source), ARRIVED, channel))
    [outcome] = list(pipeline.process_pending(ctx, analyse=analyse))
    assert outcome.outcome == "ticket", outcome
    with transaction(ctx.engine) as session:
        ticket = session.exec(select(Ticket).where(Ticket.number == outcome.ticket)).one()
        return ticket, export_row(session, ticket, ROME)


@pytest.fixture
def fax_ctx(make_context):
    return make_context(SOURCES)


def test_hylafax_fax_becomes_a_classified_ticket_with_its_caller(fax_ctx):
    cover = fp.page(["FAX", "Da: Condominio Aurora", "Pagine: 2"])
    body = fp.page(EMERGENCY, header=fp.HEADER)
    tiff = fp.tiff([cover, body], fine=False)
    raw = gateway_mail(HYLAFAX_SUBJECT, HYLAFAX_BODY, [("fax00012.tif", "image/tiff", tiff)])
    ticket, row = run(fax_ctx, raw, "hylafax")
    assert row["channel"] == "fax"
    assert row["pole_codes"] == ["IP-071233"]  # on page 2
    assert row["urgency"] == "emergenza"
    assert row["request_type"] == "manutenzione"
    assert row["fax"]["number"] == "0612345678"
    assert row["fax"]["station_id"] == "+39 06 1234567"
    assert row["fax"]["pages"] == 2
    assert row["fax"]["ocr_confidence"] > 0.8
    # the gateway's receive time (18:15:42 local), not the mail's arrival
    assert row["received_at"] == "2026-12-03T18:15:42+01:00"
    assert "piegato" in ticket.text
    rules = {hit["rule"] for hit in row["rule_hits"]}
    assert "ocr.pages" in rules


def test_freepbx_pdf_fax_with_a_qr_label(fax_ctx):
    page = fp.page(["Lampione spento da una settimana."], qr="https://cc.example.it/p/IP-004512")
    raw = gateway_mail(
        FREEPBX_SUBJECT, FREEPBX_BODY, [("fax.pdf", "application/pdf", fp.pdf([page]))]
    )
    _, row = run(fax_ctx, raw, "freepbx")
    assert row["pole_codes"] == ["IP-004512"]
    assert row["fax"]["number"] == "0612345678"
    assert row["fax"]["pages"] == 1  # FreePBX does not say: counted from the file
    assert row["received_at"] == "2026-12-03T18:15:42+01:00"
    assert any(h["rule"] == "ocr.qr" and h["value"] == "IP-004512" for h in row["rule_hits"])


def test_a_fax_with_unreadable_pages_is_still_a_ticket_for_an_operator(fax_ctx):
    raw = gateway_mail(
        HYLAFAX_SUBJECT,
        HYLAFAX_BODY,
        [
            ("fax1.tif", "image/tiff", b"II*\x00garbage"),
            ("fax2.tif", "image/tiff", fp.tiff([fp.page([])])),
        ],
    )
    ticket, row = run(fax_ctx, raw, "hylafax")
    assert row["request_type"] == "da_classificare"
    assert row["fax"]["ocr_confidence"] is None
    assert any(h["rule"] == "ocr.unreadable" and h["value"] == "fax1.tif" for h in row["rule_hits"])
    with transaction(fax_ctx.engine) as session:
        kept = session.exec(select(Attachment).where(Attachment.message_pk == ticket.message_pk))
        names = {a.filename: a for a in kept}
    assert set(names) == {"fax1.tif", "fax2.tif"}  # both kept, the operator reads them
    assert "TIFF" in names["fax1.tif"].text


def test_a_photo_of_a_label_by_email_gives_the_pole(make_context):
    ctx = make_context()
    photo = fp.page(["Palo IP-004512"], qr="mailto:cc@example.it?subject=Palo%20IP-004512")
    mail = EmailMessage()
    mail["From"] = "Mario Rossi <mario.rossi@example.com>"
    mail["To"] = "segnalazioni@example.it"
    mail["Subject"] = "Lampione spento"
    mail["Message-ID"] = "<photo-1@example.com>"
    mail.set_content("Buonasera, il lampione nella foto è spento da ieri.")
    mail.add_attachment(fp.png(photo), maintype="image", subtype="png", filename="IMG_0042.png")
    ticket, row = run(ctx, mail.as_bytes(), "ingest", channel="email")
    assert row["pole_codes"] == ["IP-004512"]
    assert row["fax"] is None
    assert row["received_at"] == ARRIVED.isoformat()
    with transaction(ctx.engine) as session:
        [att] = session.exec(select(Attachment).where(Attachment.message_pk == ticket.message_pk))
    assert "IP-004512" in att.text and att.ocr_confidence > 0.5


def test_a_logo_in_an_email_signature_is_not_read(make_context):
    ctx = make_context()
    mail = EmailMessage()
    mail["From"] = "ufficio@comune.example.it"
    mail["Subject"] = "Informazioni orari"
    mail["Message-ID"] = "<logo-1@example.com>"
    mail.set_content("Quali sono gli orari del servizio?")
    logo = fp.png(fp.page(["COMUNE"]).resize((200, 80)))
    mail.add_attachment(logo, maintype="image", subtype="png", filename="logo.png")
    _, row = run(ctx, mail.as_bytes(), "ingest", channel="email")
    assert not [h for h in row["rule_hits"] if h["rule"].startswith("ocr.")]


def test_a_fax_is_read_in_a_worker_process(fax_ctx):
    raw = gateway_mail(
        HYLAFAX_SUBJECT, HYLAFAX_BODY, [("f.tif", "image/tiff", fp.tiff([fp.page(EMERGENCY)]))]
    )
    pool = workers.WorkerPool(pipeline.analyser(fax_ctx), workers=1)
    try:
        _, row = run(fax_ctx, raw, "hylafax", analyse=pool)
    finally:
        pool.close()
    assert row["pole_codes"] == ["IP-071233"] and row["fax"]["number"] == "0612345678"
    assert row["attachments"][0]["ocr_confidence"] > 0.8
