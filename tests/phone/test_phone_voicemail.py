"""Voicemail profiles, pure: mails laid out as Asterisk and FreePBX send them, and a generic
profile whose regexes an operator writes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import parsers.mime
from parsers.phone import ASTERISK, GenericProfile, parse_caller, parse_duration, recognise
from tests.phone.recordings import voicemail_mail

ROME = ZoneInfo("Europe/Rome")
FRIDAY_NIGHT = datetime(2026, 12, 4, 22, 40, 12, tzinfo=ROME)
FAKE_AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt "  # the parser does not decode it


def parsed(raw: bytes):
    return parsers.mime.parse(raw)


def test_asterisk_default_mail_gives_caller_mailbox_duration_and_time():
    vm = recognise(parsed(voicemail_mail(FRIDAY_NIGHT, FAKE_AUDIO, duration=75)), (ASTERISK,), ROME)
    assert vm is not None
    assert (vm.profile, vm.number, vm.name, vm.mailbox, vm.duration_s) == (
        "asterisk", "3331234567", "Mario Rossi", "100", 75,
    )  # fmt: skip
    assert vm.called_at == FRIDAY_NIGHT
    assert vm.recording is not None and vm.recording.filename == "msg0000.WAV"


def test_freepbx_body_is_read_too():
    raw = voicemail_mail(FRIDAY_NIGHT, FAKE_AUDIO, body="freepbx", cidnum="+39 06 1234567")
    vm = recognise(parsed(raw), (ASTERISK,), ROME)
    assert vm is not None
    assert (vm.number, vm.name, vm.duration_s) == ("+39061234567", "Mario Rossi", 42)


def test_body_alone_is_enough_when_the_headers_are_gone():
    """A mail forwarded by a relay that dropped the X- headers: subject and body still tell."""
    raw = voicemail_mail(FRIDAY_NIGHT, FAKE_AUDIO, cidname="")
    raw = re.sub(rb"X-Asterisk-[^\r]*\r\n", b"", raw)
    vm = recognise(parsed(raw), (ASTERISK,), ROME)
    assert vm is not None and vm.number == "3331234567" and vm.name is None


def test_body_date_counts_in_the_configured_zone_when_the_mail_has_no_date():
    raw = re.sub(rb"Date: [^\r]*\r\n", b"", voicemail_mail(FRIDAY_NIGHT, None))
    vm = recognise(parsed(raw), (ASTERISK,), ROME)
    assert vm is not None and vm.called_at == FRIDAY_NIGHT and vm.recording is None


def test_an_ordinary_mail_is_not_a_voicemail():
    raw = (
        b"From: Mario Rossi <mario@example.org>\r\nSubject: New message 1 in mailbox 100\r\n"
        b"Date: Fri, 04 Dec 2026 22:40:12 +0100\r\n\r\nil lampione e' spento\r\n"
    )
    assert recognise(parsed(raw), (ASTERISK,), ROME) is None


GENERIC = GenericProfile(
    name="centralino",
    recognise=re.compile(r"Nuovo messaggio vocale", re.I),
    sender=re.compile(r"@centralino\.example\.it$"),
    fields=(
        re.compile(r"Chiamante:\s*(?P<caller>.+)$", re.M),
        re.compile(r"Durata:\s*(?P<duration>\S+)", re.M),
        re.compile(r"Interno:\s*(?P<mailbox>\d+)", re.M),
        re.compile(r"Ricevuto il\s*(?P<date>[\d/]+ [\d:]+)", re.M),
    ),
    date_formats=("%d/%m/%Y %H:%M",),
)
GENERIC_MAIL = (
    b"From: PBX <noreply@centralino.example.it>\r\nSubject: Nuovo messaggio vocale\r\n"
    b"Date: Sat, 05 Dec 2026 09:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Chiamante: Anna Bianchi <0612345678>\r\nDurata: 1:05\r\nInterno: 201\r\n"
    b"Ricevuto il 04/12/2026 22:40\r\n"
)


def test_generic_profile_reads_the_configured_groups_in_local_time():
    vm = recognise(parsed(GENERIC_MAIL), (GENERIC, ASTERISK), ROME)
    assert vm is not None
    assert (vm.profile, vm.number, vm.name, vm.mailbox, vm.duration_s) == (
        "centralino", "0612345678", "Anna Bianchi", "201", 65,
    )  # fmt: skip
    assert vm.called_at == datetime(2026, 12, 4, 21, 40, tzinfo=UTC)


def test_generic_profile_needs_its_sender_when_one_is_set():
    other = GENERIC_MAIL.replace(b"centralino.example.it", b"example.org")
    assert recognise(parsed(other), (GENERIC,), ROME) is None


@pytest.mark.parametrize(
    ("text", "number", "name"),
    [
        ('"Mario Rossi" <3331234567>', "3331234567", "Mario Rossi"),
        ("Mario Rossi <+39 333 123-4567>", "+393331234567", "Mario Rossi"),
        ("<0612345678>", "0612345678", None),
        ("0612345678", "0612345678", None),
        ("Ufficio tecnico", None, "Ufficio tecnico"),
        ("an unknown caller", None, None),
    ],
)
def test_caller_ids(text, number, name):
    caller = parse_caller(text)
    assert (caller.number, caller.name) == (number, name)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0:42", 42), ("12:03", 723), ("1:02:03", 3723), ("42", 42), ("1:05 seconds", 65),
     ("42 secondi", 42), ("", None), ("lunga", None)],
)  # fmt: skip
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_the_mail_date_offset_is_kept():
    at = datetime(2026, 7, 3, 22, 40, tzinfo=timezone(timedelta(hours=2)))
    vm = recognise(parsed(voicemail_mail(at, None)), (ASTERISK,), ROME)
    assert vm is not None and vm.called_at == at
