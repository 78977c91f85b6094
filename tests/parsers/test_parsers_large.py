"""Large parts: fed to the stdlib in chunks and base64 decoded in one copy, with the same
results as the stdlib's own way (`message_from_bytes`, `get_payload(decode=True)`)."""

from __future__ import annotations

import base64
import email
import os
from email.message import Message
from email.policy import compat32
from pathlib import Path

import pytest

from parsers import recovery, structure
from parsers.errors import ParseError
from parsers.mime import parse

SAMPLES = Path(__file__).parents[2].parent / "shared" / "samples"


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


def test_a_message_read_from_its_file_parses_as_from_its_bytes(tmp_path) -> None:
    """The daemon's workers parse the stored file in chunks; the result must not depend on it.
    The samples include broken header blocks, which are re-read whole for the repair."""
    samples = sorted((SAMPLES / "email-wild").glob("*.eml"))
    samples += sorted((SAMPLES / "email-cpython").glob("msg_*"))
    assert samples, "the shared samples are missing"
    for path in samples:
        with path.open("rb") as handle:
            assert parse(handle) == parse(path.read_bytes()), path.name


def test_an_empty_or_blank_file_is_refused_as_empty_bytes_are(tmp_path) -> None:
    for content in (b"", b"\r\n \t\n", b" " * 20000):
        path = tmp_path / "blank.eml"
        path.write_bytes(content)
        with path.open("rb") as handle, pytest.raises(ParseError, match="empty input"):
            parse(handle)


def test_a_large_attachments_encoded_text_is_let_go_once_decoded() -> None:
    """Held twice, encoded in the tree and decoded, a 20 MB attachment costs 47 MB more."""
    data = os.urandom(200_000)
    message = email.message_from_bytes(_message(_base64_lines(data, b"\r\n")), policy=compat32)
    content = structure.extract(message, 1 << 20)
    assert content.attachments[0].payload == data
    assert message.get_payload()[1].get_payload() == ""
