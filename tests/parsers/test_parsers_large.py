"""Large parts: fed to the stdlib in chunks and base64 decoded in one copy, with the same
results as the stdlib's own way (`message_from_bytes`, `get_payload(decode=True)`)."""

from __future__ import annotations

import base64
import email
import os
from email.message import Message
from email.policy import compat32

import pytest

from parsers import recovery, structure
from parsers.mime import parse


def _message(body: bytes, newline: bytes = b"\r\n") -> bytes:
    head = [
        b"From: Mario Rossi <mario.rossi@example.it>",
        b"Subject: foto",
        b"Date: Tue, 24 Nov 2026 10:00:00 +0100",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="b"',
        b"",
        b"--b",
        b"Content-Type: text/plain; charset=utf-8",
        b"",
        b"Il palo IP-001234 e' piegato.",
        b"--b",
        b'Content-Type: image/jpeg; name="foto.jpg"',
        b"Content-Transfer-Encoding: base64",
        b'Content-Disposition: attachment; filename="foto.jpg"',
        b"",
    ]
    return newline.join([*head, body, b"--b--", b""])


def _base64_lines(data: bytes, newline: bytes) -> bytes:
    return newline.join(base64.encodebytes(data).splitlines())


def _leaf(raw: bytes) -> Message:
    message = email.message_from_bytes(raw, policy=compat32)
    return [part for part in message.walk() if not part.is_multipart()][-1]


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
def test_a_large_attachment_is_decoded_byte_exact(newline: bytes) -> None:
    payload = os.urandom(300_001)  # padded: not a multiple of three
    parsed = parse(_message(_base64_lines(payload, newline), newline))
    [attachment] = parsed.attachments
    assert attachment.payload == payload
    assert attachment.size == len(payload)
    assert not parsed.defects


@pytest.mark.parametrize(
    ("damage", "defect"),
    [
        (lambda text: text[:-2], "bad base64 padding"),  # padding cut off
        (lambda text: text[:1000] + b"!*" + text[1000:], "invalid base64 characters"),
    ],
)
def test_damaged_large_base64_is_decoded_as_the_stdlib_does(damage, defect: str) -> None:
    raw = _message(damage(_base64_lines(os.urandom(200_000), b"\r\n")))
    assert structure.decoded(_leaf(raw)) == _leaf(raw).get_payload(decode=True)
    assert any(defect in problem for problem in parse(raw).defects)


def test_fed_in_chunks_the_tree_is_the_stdlibs() -> None:
    # a CRLF split between two chunks, and a part boundary right after a chunk's end
    filler = b"x" * (recovery.FEED_CHUNK - 200)
    raw = _message(_base64_lines(os.urandom(3 * recovery.FEED_CHUNK), b"\r\n") + b"\r\n" + filler)
    for cut in (recovery.FEED_CHUNK - 1, recovery.FEED_CHUNK):
        data = raw[:cut] + b"\r\n" + raw[cut:]
        mine, problem = recovery.parse_bytes(data)
        assert problem is None
        assert mine.as_bytes() == email.message_from_bytes(data, policy=compat32).as_bytes()
