"""A large message through the SMTP ingress: stored byte-exact, behind one set of trace
headers, though it is never joined to them in memory (`JoinedReader`). Real smtplib client."""

from __future__ import annotations

import base64
import hashlib
import os
import smtplib
from collections.abc import Callable, Iterator

import pytest

from inbox_daemon.config import Config, SmtpSource
from inbox_daemon.sources.smtp import JOINED_BYTES, SmtpIngress
from inbox_daemon.spool import Spool
from tests.smtp.test_smtp_ingress import stored

pytestmark = pytest.mark.integration

SOURCE = """
[[sources]]
name = "ingress"
kind = "smtp"
listen = "127.0.0.1:0"
hostname = "cc.example.it"
recipients = ["segnalazioni@example.it"]
max_message_mb = 8
"""


@pytest.fixture
def large_ingress(make_config: Callable[..., Config], spool: Spool) -> Iterator[SmtpIngress]:
    source = make_config(SOURCE).sources[0]
    assert isinstance(source, SmtpSource)
    ingress = SmtpIngress(source, spool, lambda: None)
    ingress.start()
    yield ingress
    ingress.stop()


def large_message(size: int) -> bytes:
    """A message of about `size` bytes: a random attachment in base64 lines, CRLF-ended."""
    lines = base64.encodebytes(os.urandom(size * 3 // 4)).replace(b"\n", b"\r\n")
    return (
        b"From: Mario Rossi <mario.rossi@example.org>\r\n"
        b"To: segnalazioni@example.it\r\n"
        b"Subject: Foto del palo\r\n"
        b"Message-ID: <large-1@example.org>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: image/jpeg\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n" + lines
    )


def test_large_message_is_stored_byte_exact_behind_one_set_of_trace_headers(
    large_ingress: SmtpIngress, spool: Spool
) -> None:
    raw = large_message(3 * JOINED_BYTES)  # stored through the reader, not joined
    with smtplib.SMTP("127.0.0.1", large_ingress.port) as client:
        client.ehlo("gateway.example.org")
        client.sendmail("mario.rossi@example.org", ["segnalazioni@example.it"], raw)
    [row] = stored(spool)
    kept = spool.read(row.sha256)
    trace, _, rest = kept.partition(b"From: Mario Rossi")
    assert b"From: Mario Rossi" + rest == raw  # the body, to the byte
    assert trace.startswith(b"Return-Path: <mario.rossi@example.org>\r\nReceived: from ")
    assert kept.count(b"Return-Path:") == 1 and kept.count(b"Received:") == 1
    assert row.size == len(kept)  # the row's size is the stored file's
    assert row.sha256 == hashlib.sha256(kept).hexdigest()


def test_the_same_large_message_twice_is_one_file_and_two_rows(
    large_ingress: SmtpIngress, spool: Spool
) -> None:
    """Each delivery gets its own trace headers (a new Received date, or the same second:
    then the same bytes); either way each is stored whole and the body is the one sent."""
    raw = large_message(2 * JOINED_BYTES)
    for _ in range(2):
        with smtplib.SMTP("127.0.0.1", large_ingress.port) as client:
            client.sendmail("mario.rossi@example.org", ["segnalazioni@example.it"], raw)
    rows = stored(spool)
    assert 1 <= len(rows) <= 2  # two rows, or one if both came in the same second
    for row in rows:
        assert spool.read(row.sha256).endswith(raw)
