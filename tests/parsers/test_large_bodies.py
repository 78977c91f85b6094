"""A large message parsed from its file, with its long base64 bodies left there until decoded,
gives exactly what the stdlib's whole parse of the same bytes gives: attachments byte for byte,
texts, defects, an attached message as it was sent."""

from __future__ import annotations

import base64
import io
import os
import random

import pytest

from parsers import large_bodies
from parsers.mime import parse

MB = 1 << 20


def b64_lines(data: bytes, width: int = 76, ending: str = "\n") -> str:
    text = base64.b64encode(data).decode()
    return ending.join(text[i : i + width] for i in range(0, len(text), width))


def message(*parts: str, ending: str = "\n", boundary: str = "b1") -> bytes:
    head = (
        "From: Mario Rossi <mario@example.it>\nTo: segnalazioni@example.it\n"
        "Subject: Palo piegato, foto allegate\nMessage-ID: <large@example.it>\n"
        f'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="{boundary}"\n\npreambolo\n'
    )
    body = "".join(f"--{boundary}\n{part}\n" for part in parts) + f"--{boundary}--\nepilogo\n"
    return (head + body).replace("\n", ending).encode()


def text_part(text: str = "Il palo IP-001234 in via Roma 12 è piegato.") -> str:
    return f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{text}"


def b64_part(name: str, data: bytes, ending: str = "\n", width: int = 76) -> str:
    return (
        f'Content-Type: application/octet-stream; name="{name}"\n'
        f'Content-Disposition: attachment; filename="{name}"\n'
        f"Content-Transfer-Encoding: base64\n\n{b64_lines(data, width, ending)}"
    )


def both_ways(raw: bytes):
    assert len(raw) >= large_bodies.MIN_FILE, "the case must be large enough to take the path"
    whole = parse(raw, max_attachment_bytes=40 * MB)
    from_file = parse(io.BytesIO(raw), max_attachment_bytes=40 * MB)
    return whole, from_file


def payloads(parsed):
    return [
        (a.filename, a.content_type, a.payload, a.size, a.truncated) for a in parsed.attachments
    ]


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_attachments_decoded_from_the_file_equal_the_stdlibs(ending):
    first, second = os.urandom(3 * MB + 17), os.urandom(2 * MB + 2)  # both padded
    raw = message(
        text_part(), b64_part("foto.jpg", first), b64_part("b.bin", second), ending=ending
    )
    whole, from_file = both_ways(raw)
    assert [a.payload for a in from_file.attachments] == [first, second]
    assert from_file == whole


def test_odd_line_widths_and_one_long_line():
    data = random.Random(1).randbytes(5 * MB)
    raw = message(text_part(), b64_part("a.bin", data, width=60), b64_part("b.bin", data, width=MB))
    whole, from_file = both_ways(raw)
    assert [a.payload for a in from_file.attachments] == [data, data]
    assert from_file == whole


def test_an_attached_message_is_kept_as_it_was_sent():
    scan = b64_part("scansione.pdf", os.urandom(5 * MB))
    inner = message(text_part("inoltro"), scan, boundary="b2").decode()
    raw = message(text_part(), f"Content-Type: message/rfc822\n\n{inner}")
    whole, from_file = both_ways(raw)
    [attached] = from_file.attachments
    assert attached.content_type == "message/rfc822"
    assert attached.payload == whole.attachments[0].payload
    assert from_file == whole


def test_a_text_part_full_of_base64_looking_lines_is_read_as_text():
    lines = b64_lines(os.urandom(5 * MB))
    raw = message(f"Content-Type: text/plain; charset=us-ascii\n\nVedi sotto.\n{lines}")
    whole, from_file = both_ways(raw)
    assert lines[:1000] in from_file.body_text
    assert from_file == whole


def test_broken_base64_around_a_long_run_goes_the_stdlibs_way_with_its_defects():
    data = os.urandom(5 * MB)
    broken = b64_part("rotto.bin", data).replace(
        "Content-Transfer-Encoding: base64\n\n",
        "Content-Transfer-Encoding: base64\n\n@@ not base64 @@\n",
    )
    padded_early = b64_part("a.bin", os.urandom(10)) + "\n" + b64_lines(data)  # "==" then more
    raw = message(text_part(), broken, padded_early)
    whole, from_file = both_ways(raw)
    assert from_file == whole


def test_a_line_shaped_like_a_token_is_only_text():
    """The nonce is drawn per parse: a message cannot name a region of the file."""
    runs = large_bodies.Runs(io.BytesIO(b""))
    forged = f"{runs.nonce}{0:012d}"
    data = os.urandom(5 * MB)
    raw = message(text_part(f"prova\n{forged}"), b64_part("a.bin", data))
    whole, from_file = both_ways(raw)
    assert forged in from_file.body_text
    assert from_file == whole


def test_a_run_never_starts_inside_a_long_line():
    """A line longer than a read, made of base64 letters, then base64 lines: the lines are a
    body, the end of the long line is not."""
    long_line = "A" * (200 * 1024 + 3)
    data = os.urandom(3 * MB)
    raw = message(text_part(), b64_part("a.bin", data).replace("\n\n", f"\n\n{long_line}\n", 1))
    whole, from_file = both_ways(raw)
    assert from_file == whole
