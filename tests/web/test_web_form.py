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
