"""The form over real HTTP: a report becomes a ticket on channel `web`, and the answer page
shows its number and the time of registration."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import REPORT

pytestmark = pytest.mark.integration


def test_a_labels_page_shows_the_form_with_the_code_and_the_poles_address(site):
    page = site.client.get("/p/IP-004512")
    assert page.status == 200
    assert 'name="code" type="text" value="IP-004512"' in page.body
    assert page.by_id("palo-indirizzo") == "Palo IP-004512: Via Roma 12, Bologna"
    for field in ("code", "fault", "text", "name", "email", "phone", "photo"):
        assert f'name="{field}"' in page.body
    assert "chiami il numero di emergenza" in page.body and "800 123 456" in page.body
    assert "112" in page.body


def test_an_unknown_code_still_gets_the_form_with_the_code_as_read(site):
    page = site.client.get("/p/IP-999999")
    assert page.status == 200
    assert 'value="IP-999999"' in page.body
    assert "Codice del palo letto" in page.by_id("palo-indirizzo")


def test_a_report_becomes_a_ticket_and_the_answer_shows_its_number_and_time(site):
    answer = site.client.submit(REPORT, form="/p/IP-004512")
    assert answer.status == 200, answer.body
    [ticket] = site.tickets()
    assert answer.by_id("ticket-number") == ticket.number
    assert re.fullmatch(r"\d{4}/\d{6}", ticket.number)
    local = ticket.registered_at.astimezone(site.ctx.tz)
    assert answer.by_id("registered-at") == f"Registrata il {local:%d/%m/%Y alle %H:%M}."
    assert ticket.channel == "web"
    assert ticket.pole_codes == ["IP-004512"]
    assert ticket.details["fault"] == ["spenta"]
    assert ticket.request_type == "manutenzione"
    assert ticket.location["address"] == "Via Roma 12"
    assert ticket.sender == "maria.bianchi@example.org"


def test_a_code_typed_loosely_is_shown_as_the_register_writes_it(site):
    page = site.client.get("/p/ip004512")
    assert 'value="IP-004512"' in page.body
    assert page.by_id("palo-indirizzo") == "Palo IP-004512: Via Roma 12, Bologna"


def test_every_form_served_has_a_token_of_its_own_and_each_report_makes_its_ticket(site):
    """The form is kept rendered; each one served still gets its own token, and so each
    report its own identity (one token twice would be stored as one retried POST)."""
    pages = [site.client.get(path) for path in ("/", "/", "/p/IP-004512", "/p/IP-004512")]
    tokens = [page.token for page in pages]
    assert len(set(tokens)) == len(tokens)
    assert pages[0].body.replace(tokens[0], "") == pages[1].body.replace(tokens[1], "")
    assert site.client.get("/p/IP-004513").by_id("palo-indirizzo") == (
        "Palo IP-004513: Via Roma 14, Bologna"
    )  # another code, another page
    for token in tokens:
        assert site.client.post({"token": token, **REPORT}).status == 303
    assert len(site.messages()) == len(tokens)


def test_an_operators_form_showing_its_token_otherwise_shows_it_right(start_site, tmp_path):
    folder = tmp_path / "pagine"
    folder.mkdir()
    (folder / "modulo.html").write_text(
        '{% extends "base.html" %}{% block main %}<form method="post" action="/invia">'
        '<input type="hidden" name="token" value="{{ token }}">'
        '<p id="firma">{{ token[-6:] }}</p></form>{% endblock %}'
    )
    site = start_site(f'templates = "{folder}"\n')
    for _ in range(3):
        page = site.client.get("/")
        assert page.by_id("firma") == page.token[-6:]
