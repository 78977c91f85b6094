"""A report's stored bytes, read back by the stdlib's strict parser and by the one the
pipeline uses: every value the citizen gave comes out as given, whatever its characters, its
length or its quotes; a photo comes out byte for byte."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email import policy

import pytest

from inbox_daemon.web import form, message
from parsers.mime import parse

AT = datetime(2026, 12, 3, 18, 30, 5, tzinfo=UTC)
LONG_LINE = "Il lampione davanti alla scuola è spento da giorni e nessuno è venuto. " * 20
CASES = {
    "plain": {"name": "Maria Bianchi", "text": "Da tre sere.", "email": "maria@example.org"},
    "accents": {"name": "Niccolò Çelik-Ñúñez", "text": "Perché è così? «Così»", "email": ""},
    "quotes": {"name": 'Anna "Nina" (Rossi), <x>', "text": "a=b =?utf-8?q?x?= \\", "email": ""},
    "long name": {"name": ("Niccolò Ñúñez " * 7).strip(), "text": "Sì.", "email": ""},
    "long line": {"name": "Luca Verdi", "text": LONG_LINE + "\nFine.", "email": "l@example.it"},
}


def report(case: dict[str, str], **more: str) -> form.Report:
    fields = {"code": "IP-004512", "fault": "spenta", "phone": "+39 333 1234567", **case}
    checked, problems = form.check({**fields, **more})
    assert checked is not None, problems
    return checked


def built(checked: form.Report, photo: bytes | None = None) -> bytes:
    return message.build(checked, nonce=0x1234ABCD, host="segnalazioni.example.it",
                         client="203.0.113.9", received_at=AT, photo=photo)  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES)
@pytest.mark.parametrize("photo", [None, bytes(range(256)) * 40], ids=["text", "photo"])
def test_what_the_citizen_typed_is_read_back_as_typed(case: dict[str, str], photo: bytes | None):
    checked = report(case)
    raw = built(checked, photo)
    assert all(len(line) <= 998 for line in raw.split(b"\n"))
    [subject] = re.findall(rb"\nSubject: (.*(?:\n .*)*)", raw)
    assert all(len(word) <= 75 for word in subject.split())  # RFC 2047's bound, folded
    strict = email.message_from_bytes(raw, policy=policy.default)
    assert strict.defects == [] and all(not part.defects for part in strict.walk())
    assert str(strict["Subject"]) == "Segnalazione dal sito: palo IP-004512 - Il lampione è spento"
    sender = strict["From"].addresses[0]
    assert sender.display_name == checked.name
    assert sender.addr_spec == (checked.email or "noreply@segnalazioni.example.it")
    assert strict["Message-ID"] == "<web-000000001234abcd@segnalazioni.example.it>"
    assert strict["X-Inbox-Web-Code"] == "IP-004512" and strict["X-Inbox-Web-Fault"] == "spenta"
    assert strict["X-Inbox-Web-Phone"] == "+39 333 1234567"
    assert email.utils.parsedate_to_datetime(strict["Date"]) == AT
    text = strict.get_body(("plain",)).get_content()
    assert text.startswith("Il lampione è spento.\nCodice del palo: IP-004512\n")
    assert f"\n\n{case['text']}\n" in text and f"Nome: {checked.name}\n" in text
    pictures = [p for p in strict.walk() if p.get_content_type() == "image/jpeg"]
    assert [p.get_content() for p in pictures] == ([photo] if photo else [])

    parsed = parse(raw)
    assert parsed.subject == str(strict["Subject"])
    assert parsed.from_name == checked.name
    assert case["text"] in parsed.body_text
    assert parsed.defects == ()
    assert [a.payload for a in parsed.attachments] == ([photo] if photo else [])


def test_an_e_mail_address_with_letters_outside_ascii_is_named_on_the_form():
    _, problems = form.check({"fault": "spenta", "name": "José", "email": "josé@example.it"})
    assert "email" in problems
