"""The photo (bounded, EXIF stripped), the answer while the ticket is still being
registered, and the status page with its key."""

from __future__ import annotations

import email
import io
import random
import re
import time
from datetime import date, timedelta
from email import policy

import pytest
from PIL import Image

from inbox_daemon import lifecycle
from inbox_daemon.store.db import transaction
from tests.web.conftest import REPORT

pytestmark = pytest.mark.integration
GPS, ORIENTATION, MAKE = 0x8825, 0x0112, 0x010F


def phone_photo(width: int = 400, height: int = 300) -> bytes:
    """A JPEG as a phone takes it: EXIF with the place, the maker and a turn to apply."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((20, 20, 220), (0, 0, width // 2, height))  # left half blue
    exif = Image.Exif()
    exif[MAKE] = "TelefonoX"
    exif[ORIENTATION] = 6  # rotate 90° clockwise to view
    exif.get_ifd(GPS).update({1: "N", 2: (44.0, 29.0, 41.0), 3: "E", 4: (11.0, 20.0, 33.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def stored_photo(site) -> bytes:
    [message] = site.messages()
    parsed = email.message_from_bytes(site.ctx.spool.read(message.sha256), policy=policy.default)
    [part] = [p for p in parsed.walk() if p.get_content_type() == "image/jpeg"]
    return part.get_content()


def test_a_photo_is_stored_upright_and_without_its_exif(site):
    sent = phone_photo()
    assert b"TelefonoX" in sent
    answer = site.client.submit(REPORT, photo=sent)
    assert answer.by_id("ticket-number")
    kept = stored_photo(site)
    assert b"TelefonoX" not in kept and b"Exif" not in kept
    with Image.open(io.BytesIO(kept)) as image:
        assert not image.getexif()
        assert image.size == (300, 400)  # turned as its orientation said
        top_left = image.getpixel((10, 10))
        assert top_left[2] > 150 and top_left[0] < 100  # blue, the left half now on top


def test_a_photo_over_the_pixel_limit_or_not_a_picture_is_named_on_the_form(start_site):
    site = start_site("max_photo_pixels = 10000\n")
    big = site.client.submit(REPORT, photo=phone_photo(200, 200))
    assert big.status == 422
    assert "La foto è troppo grande" in big.text
    junk = site.client.submit(REPORT, photo=b"\xff\xd8\xff" + b"\x00" * 5000)
    assert junk.status == 422
    assert "La foto" in junk.text or "Il file non è una foto" in junk.text
    assert site.messages() == []


def test_a_photo_over_its_size_limit_is_named_on_the_form(start_site):
    site = start_site("max_photo_kb = 16\n")
    noise = Image.frombytes("RGB", (200, 200), random.Random(19).randbytes(200 * 200 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert len(out.getvalue()) > 16 * 1024
    answer = site.client.submit(REPORT, photo=out.getvalue())
    assert answer.status == 422
    assert "La foto supera" in answer.text
    assert site.messages() == []


def test_while_registration_waits_the_answer_says_received_then_shows_the_number(start_site):
    site = start_site("answer_wait_s = 0.5\n")
    site.registrar.paused.set()
    token = site.client.get("/").token
    posted = site.client.post({"token": token, **REPORT})
    assert posted.status == 303  # stored: durable before the citizen is told
    waiting = site.client.get(posted.header("location"))
    assert waiting.status == 202
    assert "Segnalazione ricevuta" in waiting.body and "ticket-number" not in waiting.body
    [message] = site.messages()
    local = message.received_at.astimezone(site.ctx.tz)
    assert f"{local:%d/%m/%Y alle %H:%M}" in waiting.body
    site.registrar.paused.clear()
    site.registrar.wake.set()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        page = site.client.get(posted.header("location"))
        if page.status == 200:
            break
    assert page.by_id("ticket-number") == site.tickets()[0].number


def test_outside_service_hours_the_answer_says_when_it_counts_as_received(start_site):
    today = date.today()
    closed = f"{today - timedelta(days=1)}/{today + timedelta(days=2)}"
    calendar = {"timezone": "Europe/Rome", "opening_hours": "mon-sun 08:00-18:00",
                "holidays": None, "closures": [closed]}  # fmt: skip
    site = start_site(calendar=calendar)
    answer = site.client.submit(REPORT)
    [ticket] = site.tickets()
    deemed = ticket.deemed_received_at.astimezone(site.ctx.tz)
    assert deemed.date() == today + timedelta(days=3)
    assert answer.by_id("deemed-received-at") == (
        "È pervenuta fuori dall'orario di servizio: si considera ricevuta il "
        f"{deemed:%d/%m/%Y alle %H:%M}."
    )


def test_in_service_hours_the_answer_has_no_deemed_line(site):
    answer = site.client.submit(REPORT)
    [ticket] = site.tickets()
    assert (answer.by_id("deemed-received-at") is None) == (ticket.deemed_reason is None)


def test_a_forged_receipt_link_is_not_found(site):
    assert site.client.get("/ricevuta/1-AAAAAAAAAAAAAAAAAAAAAA").status == 404
    assert site.client.get("/ricevuta/nonsense").status == 404


def test_the_status_page_opens_with_its_key_only_and_shows_the_history(site):
    answer = site.client.submit(REPORT)
    number = answer.by_id("ticket-number")
    link = answer.by_id("status-link")
    path = re.sub(r"^https://segnalazioni\.example\.it", "", link)
    assert path.startswith(f"/stato/{number}?chiave=")
    page = site.client.get(path)
    assert page.status == 200
    assert page.by_id("ticket-status") == "aperta: in attesa di intervento"
    assert site.client.get(f"/stato/{number}?chiave=wrong").status == 404
    assert site.client.get(f"/stato/{number}").status == 404
    with transaction(site.ctx.engine) as session:
        ticket = lifecycle.find(session, number)
        lifecycle.apply(session, ticket, lifecycle.Change("start", "squadra", note="Rossi va"))
    later = site.client.get(path)
    assert later.by_id("ticket-status") == "in lavorazione"
    assert later.by_id("storia").endswith(": in lavorazione")
    assert "Rossi" not in later.body and "squadra" not in later.body  # nothing about anyone
    assert "maria" not in later.body.lower()


def test_a_page_is_replaced_by_the_operators_template(start_site, tmp_path):
    folder = tmp_path / "pagine"
    folder.mkdir()
    (folder / "errore.html").write_text(
        '{% extends "base.html" %}{% block main %}<h1>Comune di Prova</h1>'
        "<p>{{ title }}: {{ text }}</p>{% endblock %}"
    )
    (folder / "stile.css").write_text("body { color: #000; }\n")
    site = start_site(f'templates = "{folder}"\n')
    missing = site.client.get("/nessuna-pagina")
    assert missing.status == 404
    assert "<h1>Comune di Prova</h1>" in missing.body
    assert "Pagina non trovata" in missing.body
    assert "chiami il numero di emergenza" in missing.body  # the shipped base still frames it
    assert site.client.get("/stile.css").body == "body { color: #000; }\n"
    assert site.client.get("/").status == 200  # the other pages stay the shipped ones
