"""Every bound of the web form over real HTTP: tokens, retries, honeypot, cross-site posts,
rate and size limits, slow and piling-up connections, a failing store, escaping."""

from __future__ import annotations

import socket
import time

import pytest

from tests.web.conftest import REPORT

pytestmark = pytest.mark.integration


def post(site, fields=None, token=None, photo=None, headers=None):
    token = token if token is not None else site.client.get("/").token
    return site.client.post({"token": token, **(fields or REPORT)}, photo, headers)


def test_a_post_sent_twice_is_stored_once_and_answered_with_the_same_ticket(site):
    token = site.client.get("/").token
    first = post(site, token=token)
    again = post(site, token=token)  # a double click, a reload of the POST
    assert first.status == again.status == 303
    assert first.header("location") == again.header("location")
    assert first.header("location").startswith("/ricevuta/")
    number = site.client.get(first.header("location")).by_id("ticket-number")
    assert [t.number for t in site.tickets()] == [number]
    assert len(site.messages()) == 1


def test_a_forged_or_missing_token_gets_the_form_again_and_stores_nothing(site):
    forged = post(site, token="AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB")
    missing = site.client.post(dict(REPORT))
    for answer in (forged, missing):
        assert answer.status == 400
        assert "Il modulo era scaduto" in answer.body
        assert 'value="Maria Bianchi"' in answer.body  # what was typed is kept
    assert site.messages() == []


def test_an_expired_token_is_refused(site):
    signer = site.ingress.site.signer
    old = signer.form_token(now=time.time() - 25 * 3600)  # form_max_age_h is 24
    assert post(site, token=old).status == 400
    assert site.messages() == []


def test_the_honeypot_field_filled_in_stores_nothing(site):
    answer = post(site, {**REPORT, "sito_web": "http://spam.example"})
    assert answer.status == 400
    assert site.messages() == []


def test_a_post_from_another_site_is_refused(site):
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        assert post(site, headers=headers).status == 403
    ours = {"Origin": "https://segnalazioni.example.it", "Sec-Fetch-Site": "same-origin"}
    assert post(site, headers=ours).status == 303
    assert len(site.messages()) == 1


def test_beyond_the_hourly_limit_an_address_gets_429_and_nothing_is_stored(start_site):
    site = start_site("submissions_per_hour = 2\n")
    assert [post(site).status for _ in range(2)] == [303, 303]
    refused = post(site)
    assert refused.status == 429
    assert 0 < int(refused.header("retry-after")) <= 3600
    assert "Troppi invii" in refused.body
    assert len(site.messages()) == 2
    # Behind the trusted proxy (loopback), each forwarded client has its own hour.
    other = post(site, headers={"X-Forwarded-For": "203.0.113.7"})
    assert other.status == 303


def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(start_site):
    site = start_site("submissions_per_hour = 1\ntrusted_proxies = []\n")
    assert post(site).status == 303
    assert post(site, headers={"X-Forwarded-For": "203.0.113.8"}).status == 429


def test_a_body_over_the_limit_gets_413_in_italian(start_site):
    site = start_site("max_body_kb = 64\n")
    answer = post(site, photo=b"\xff" * 100_000)
    assert answer.status == 413
    assert "Invio troppo grande" in answer.body
    assert site.messages() == []


def test_a_missing_contact_and_a_bad_email_are_named_on_the_form(site):
    answer = post(site, {**REPORT, "email": "", "phone": ""})
    assert answer.status == 422
    assert "Indichi un indirizzo e-mail o un numero di telefono." in answer.body
    bad = post(site, {**REPORT, "email": "maria@", "phone": "12"})
    assert "L'indirizzo e-mail non è valido" in bad.text
    assert "Il numero di telefono non è valido" in bad.text
    assert site.messages() == []


def test_what_a_client_types_is_escaped(site):
    answer = post(site, {**REPORT, "name": '<script>alert("x")</script>', "email": ""})
    assert answer.status == 422
    assert "<script>" not in answer.body
    assert "&lt;script&gt;" in answer.body
    csp = answer.header("content-security-policy")
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert answer.header("x-frame-options") == "DENY"


def test_a_request_head_sent_too_slowly_is_cut(start_site):
    site = start_site("header_timeout_s = 1\n")
    with socket.create_connection(("127.0.0.1", site.ingress.port), timeout=15) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 12:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                closed = True
                break
            sock.settimeout(0.5)
            try:
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
            except OSError:  # reset: the server closed with our bytes unread
                closed = True
                break
    assert closed, "a slowloris connection was kept open"
    assert site.client.get("/").status == 200  # and the site still answers


def test_beyond_max_connections_a_connection_gets_503(start_site):
    site = start_site("max_connections = 3\n")
    idle = [socket.create_connection(("127.0.0.1", site.ingress.port)) for _ in range(3)]
    try:
        time.sleep(0.2)
        refused = site.client.get("/")
        assert refused.status == 503
        assert "Riprovi tra qualche minuto" in refused.body
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.3)
    assert site.client.get("/").status == 200


def test_a_failing_store_answers_503_keeps_the_form_and_loses_nothing_said_stored(site):
    raw = site.ctx.config.storage.dir / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    moved = raw.with_name("raw.away")
    raw.rename(moved)
    raw.write_text("not a folder")  # a real fault: the store cannot write its files
    token = site.client.get("/").token
    try:
        failed = post(site, token=token)
    finally:
        raw.unlink()
        moved.rename(raw)
    assert failed.status == 503
    assert "non ha potuto registrare" in failed.body
    assert 'value="Maria Bianchi"' in failed.body
    assert site.messages() == []
    retried = post(site, token=token)  # the citizen sends it again once the store is back
    assert retried.status == 303
    assert site.client.get(retried.header("location")).by_id("ticket-number")
    assert len(site.tickets()) == 1


def test_a_body_sent_too_slowly_gets_408(start_site):
    site = start_site("body_timeout_s = 1\n")
    token = site.client.get("/").token
    body = f"token={token}&fault=spenta&name=Maria&email=m%40example.org".encode()
    with socket.create_connection(("127.0.0.1", site.ingress.port), timeout=15) as sock:
        sock.sendall(
            b"POST /invia HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
            b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10]
        )
        answer = sock.recv(4096)  # the rest never comes
    assert answer.startswith(b"HTTP/1.1 408")
    assert site.messages() == []
