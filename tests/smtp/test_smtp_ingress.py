"""The SMTP ingress with real clients (smtplib, swaks): whom it accepts, from where, how big,
with TLS and AUTH, and that `250` means stored while a storage failure means `451`."""

from __future__ import annotations

import smtplib
import ssl
from datetime import timedelta
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime

import pytest
from sqlmodel import select

from inbox_daemon.errors import ConfigError, SourceError
from inbox_daemon.spool import BlobStore, Spool
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message
from inbox_daemon.store.types import utcnow

pytestmark = pytest.mark.integration

RAW = (
    b"From: Mario Rossi <mario.rossi@example.org>\r\n"
    b"To: segnalazioni@example.it\r\n"
    b"Subject: Lampione spento in via Roma\r\n"
    b"Message-ID: <ingress-1@example.org>\r\n"
    b"\r\n"
    b"Il lampione IP-001234 e' spento da due giorni.\r\n"
)


def stored(spool: Spool) -> list[Message]:
    with transaction(spool.engine) as session:
        return list(session.exec(select(Message).order_by(Message.id)))


def test_accepted_message_is_stored_before_250_with_origin_and_time(smtp_ingress):
    run = smtp_ingress()
    before = utcnow()
    with smtplib.SMTP("127.0.0.1", run.port) as client:
        client.ehlo("gateway.example.org")
        refused = client.sendmail("mario.rossi@example.org", ["Segnalazioni@EXAMPLE.it"], RAW)
    assert refused == {}
    [row] = stored(run.spool)  # 250 came back, so the row is already committed
    assert row.channel == "email" and row.source == "ingress" and row.status == "received"
    assert before <= row.received_at <= utcnow()
    assert "peer 127.0.0.1:" in row.origin and "helo gateway.example.org" in row.origin
    assert "mail from <mario.rossi@example.org>" in row.origin
    assert "rcpt <Segnalazioni@EXAMPLE.it>" in row.origin
    assert run.wakeups == [1]  # the daemon's worker was woken


def test_stored_bytes_are_trace_headers_then_the_message_unchanged(smtp_ingress):
    run = smtp_ingress()
    with smtplib.SMTP("127.0.0.1", run.port) as client:
        client.ehlo("gateway.example.org")
        client.sendmail("mario.rossi@example.org", ["segnalazioni@example.it"], RAW)
    [row] = stored(run.spool)
    raw = run.spool.read(row.sha256)
    assert raw.endswith(RAW)
    headers = BytesHeaderParser().parsebytes(raw[: len(raw) - len(RAW)])
    assert headers["Return-Path"] == "<mario.rossi@example.org>"
    received = headers["Received"]
    assert "from gateway.example.org ([127.0.0.1])" in received
    assert "by cc.example.it" in received and "for <segnalazioni@example.it>" in received
    stamped = parsedate_to_datetime(received.rsplit(";", 1)[1].strip())
    assert abs(stamped - row.received_at) < timedelta(seconds=1)  # same instant, not a timing


def test_bounce_with_empty_reverse_path_is_accepted_and_marked(smtp_ingress):
    run = smtp_ingress()
    with smtplib.SMTP("127.0.0.1", run.port) as client:
        client.sendmail("<>", ["segnalazioni@example.it"], RAW)
    [row] = stored(run.spool)
    assert run.spool.read(row.sha256).startswith(b"Return-Path: <>\r\n")


def test_unknown_recipient_is_refused_at_rcpt_and_nothing_is_stored(smtp_ingress):
    run = smtp_ingress()
    with smtplib.SMTP("127.0.0.1", run.port) as client:
        client.ehlo("x.example.org")
        client.mail("mario.rossi@example.org")
        code, text = client.rcpt("direttore@example.it")
        assert (code, text[:5]) == (550, b"5.7.1")
        assert client.rcpt("tizio@comune.example.it")[0] == 250  # an "@domain" entry
        assert client.rcpt("TIZIO@Comune.Example.IT")[0] == 250  # case does not matter
        assert client.rcpt("tizio@sub.comune.example.it")[0] == 550  # not a subdomain
    assert stored(run.spool) == []


def test_relay_attempt_is_refused(smtp_ingress):
    """MAIL FROM outside and RCPT to a foreign domain: never an open relay."""
    run = smtp_ingress()
    with (
        smtplib.SMTP("127.0.0.1", run.port) as client,
        pytest.raises(smtplib.SMTPRecipientsRefused) as refused,
    ):
        client.sendmail("spammer@elsewhere.example", ["victim@gmail.example"], RAW)
    assert refused.value.recipients["victim@gmail.example"][0] == 550
    assert stored(run.spool) == []


def test_relay_attempt_with_swaks_is_refused(smtp_ingress, swaks):
    run = smtp_ingress()
    result = swaks("--server", f"127.0.0.1:{run.port}", "--from", "spammer@elsewhere.example",
                   "--to", "victim@gmail.example", "--helo", "spam.example")  # fmt: skip
    assert result.returncode != 0
    assert "<** 550 5.7.1 <victim@gmail.example>: relay access denied" in result.stdout
    assert stored(run.spool) == []


def test_swaks_delivery_to_an_accepted_recipient(smtp_ingress, swaks):
    run = smtp_ingress()
    result = swaks("--server", f"127.0.0.1:{run.port}", "--from", "ufficio@comune.example.it",
                   "--to", "segnalazioni@example.it", "--header", "Subject: Palo pericolante",
                   "--body", "Palo IP-004567 inclinato")  # fmt: skip
    assert result.returncode == 0, result.stdout
    assert "<-  250 2.0.0 OK: stored as message" in result.stdout
    [row] = stored(run.spool)
    assert b"Subject: Palo pericolante" in run.spool.read(row.sha256)


def test_client_outside_client_networks_is_refused_at_connect(smtp_ingress):
    run = smtp_ingress('client_networks = ["192.0.2.0/24"]\n')
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        smtplib.SMTP("127.0.0.1", run.port)
    assert refused.value.smtp_code == 554
    assert stored(run.spool) == []


def test_client_outside_client_networks_is_refused_by_swaks(smtp_ingress, swaks):
    run = smtp_ingress('client_networks = ["10.0.0.0/8", "::1/128"]\n')
    result = swaks("--server", f"127.0.0.1:{run.port}", "--from", "a@example.org",
                   "--to", "segnalazioni@example.it")  # fmt: skip
    assert result.returncode != 0
    assert "554 5.7.1" in result.stdout
    assert stored(run.spool) == []


def test_size_is_announced_and_enforced(smtp_ingress):
    run = smtp_ingress()  # max_message_mb = 1
    limit = 1024 * 1024
    big = RAW + b"x" * 998 + b"\r\n"
    big = big * (limit // len(big) + 2)
    with smtplib.SMTP("127.0.0.1", run.port) as client:
        client.ehlo("x.example.org")
        assert client.esmtp_features["size"] == str(limit)
        # A client that declares the size is refused at MAIL…
        with pytest.raises(smtplib.SMTPSenderRefused) as declared:
            client.sendmail("a@example.org", ["segnalazioni@example.it"], big)
        assert declared.value.smtp_code == 552
        client.rset()
        # …and one that does not declare it is refused after DATA.
        client.mail("a@example.org")
        client.rcpt("segnalazioni@example.it")
        code, _ = client.data(big)
        assert code == 552
    assert stored(run.spool) == []


def test_recipients_on_two_channels_store_one_message_as_fax(smtp_ingress):
    run = smtp_ingress()
    with smtplib.SMTP("127.0.0.1", run.port) as client:
        client.sendmail("gw@fax.example.org", ["segnalazioni@example.it", "FAX@example.it"], RAW)
    [row] = stored(run.spool)
    assert row.channel == "fax"


def test_storage_failure_answers_451_and_the_retry_succeeds(smtp_ingress, spool, tmp_path):
    # Fault injection: the storage folder is a regular file, so writing the bytes fails (a
    # chmod would not stop root, which runs these tests).
    blocked = tmp_path / "blocked-store"
    blocked.write_text("not a folder")
    broken = Spool(spool.engine, BlobStore(blocked))
    run = smtp_ingress(spool_=broken)
    with smtplib.SMTP("127.0.0.1", run.port) as client:
        client.ehlo("mx.example.org")
        client.mail("mario.rossi@example.org")
        client.rcpt("segnalazioni@example.it")
        code, text = client.data(RAW)
        assert (code, text[:5]) == (451, b"4.3.0")
        assert stored(spool) == [] and run.wakeups == []
        blocked.unlink()  # the fault is repaired; the sending MTA retries
        client.rset()
        assert client.sendmail("mario.rossi@example.org", ["segnalazioni@example.it"], RAW) == {}
    [row] = stored(spool)
    assert broken.read(row.sha256).endswith(RAW)


def test_require_starttls_refuses_mail_in_clear(smtp_ingress, tls_files):
    cert, key = tls_files
    run = smtp_ingress(f'require_starttls = true\ntls_cert = "{cert}"\ntls_key = "{key}"\n')
    with smtplib.SMTP("127.0.0.1", run.port) as client:
        client.ehlo("x.example.org")
        assert client.has_extn("starttls")
        code, _ = client.mail("a@example.org")
        assert code == 530
        client.starttls(context=ssl.create_default_context(cafile=str(cert)))
        client.ehlo("x.example.org")
        assert client.sendmail("a@example.org", ["segnalazioni@example.it"], RAW) == {}
    [row] = stored(run.spool)
    assert b"with ESMTPS" in run.spool.read(row.sha256)


def test_auth_only_over_tls_off_loopback_and_required(smtp_ingress, tls_files, monkeypatch):
    monkeypatch.setenv("INGRESS_TEST_PASSWORD", "s3greto")
    cert, key = tls_files
    run = smtp_ingress(
        'listen = "0.0.0.0:0"\nrequire_auth = true\nusername = "fax-gateway"\n'
        f'password_env = "INGRESS_TEST_PASSWORD"\ntls_cert = "{cert}"\ntls_key = "{key}"\n'
    )
    with smtplib.SMTP("127.0.0.1", run.port) as client:
        client.ehlo("gw.example.org")
        assert not client.has_extn("auth")  # listening off loopback: no AUTH in clear
        assert client.mail("a@example.org")[0] == 530  # and AUTH is required
        client.starttls(context=ssl.create_default_context(cafile=str(cert)))
        client.ehlo("gw.example.org")
        assert client.has_extn("auth")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("fax-gateway", "wrong")
        client.login("fax-gateway", "s3greto")
        assert client.sendmail("a@example.org", ["fax@example.it"], RAW) == {}
    [row] = stored(run.spool)
    assert row.channel == "fax" and b"with ESMTPSA" in run.spool.read(row.sha256)


def test_auth_in_clear_is_allowed_on_loopback(smtp_ingress, monkeypatch):
    monkeypatch.setenv("INGRESS_TEST_PASSWORD", "s3greto")
    run = smtp_ingress(
        'require_auth = true\nusername = "fax-gateway"\npassword_env = "INGRESS_TEST_PASSWORD"\n'
    )
    with smtplib.SMTP("127.0.0.1", run.port) as client:
        client.ehlo("gw.example.org")
        assert client.mail("a@example.org")[0] == 530
        client.login("fax-gateway", "s3greto")
        assert client.sendmail("a@example.org", ["fax@example.it"], RAW) == {}
    assert len(stored(run.spool)) == 1


def test_config_refuses_auth_without_tls_off_loopback(make_config, ingress_toml):
    INGRESS_TOML = ingress_toml.replace('listen = "127.0.0.1:0"\n', "")
    with pytest.raises(ConfigError, match="AUTH only over TLS"):
        make_config(INGRESS_TOML + 'listen = "0.0.0.0:2525"\nrequire_auth = true\nusername = "u"\n')


def test_a_port_in_use_is_a_clear_source_error(smtp_ingress):
    first = smtp_ingress()
    with pytest.raises(SourceError, match=f"cannot listen on 127.0.0.1:{first.port}"):
        smtp_ingress(f'listen = "127.0.0.1:{first.port}"\n')


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("recipients = []\n", "at least one address or @domain is required"),
        ('recipients = ["segnalazioni"]\n', "neither an address nor an @domain entry"),
        (
            'recipients = ["a@example.it"]\nchannels = { "fax@example.it" = "fax" }\n',
            "channels: not among recipients: fax@example.it",
        ),
        ('tls_cert = "cert.pem"\n', "tls_cert and tls_key go together"),
        ("require_auth = true\n", "require_auth needs username"),
        ('client_networks = ["localhost"]\n', "is not an IP network"),
    ],
)
def test_ingress_config_mistakes_are_named(make_config, extra, expected):
    base = '[[sources]]\nname = "ingress"\nkind = "smtp"\n'
    if "recipients" not in extra:
        base += 'recipients = ["segnalazioni@example.it"]\n'
    with pytest.raises(ConfigError) as error:
        make_config(base + extra)
    assert any(p.startswith("sources[0]") and expected in p for p in error.value.problems)
