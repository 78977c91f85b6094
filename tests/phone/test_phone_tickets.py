"""Voicemail mails through the whole pipeline (`ingest`, the CLI as operators run it): a
ticket on channel `phone` at the time of the call, deemed received by the service calendar,
its recording normalised and stored, `phone` in the export."""

from __future__ import annotations

import hashlib
import io
import wave
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from inbox_daemon.blobs import BlobStore
from tests.conftest import BASE_CONFIG
from tests.phone import cli
from tests.phone.cli import ingest
from tests.phone.recordings import encode, speak, voicemail_mail

ROME = ZoneInfo("Europe/Rome")
FRIDAY_2240 = datetime(2026, 12, 4, 22, 40, 12, tzinfo=ROME)
SATURDAY_0915 = datetime(2026, 12, 5, 9, 15, 3, tzinfo=ROME)  # the mail server was down
MONDAY_0830 = datetime(2026, 12, 7, 8, 30, tzinfo=ROME)
IMMACOLATA = datetime(2026, 12, 8, 10, 15, 0, tzinfo=ROME)  # a Tuesday, a national holiday
WEDNESDAY_0830 = datetime(2026, 12, 9, 8, 30, tzinfo=ROME)


@pytest.fixture(scope="module")
def mp3(tmp_path_factory) -> bytes:
    return encode(speak(tmp_path_factory.mktemp("speech")), "mp3")


def exported(config: Path, capsys) -> dict[str, dict]:
    return {row["number"]: row for row in cli.exported(config, capsys)}


def test_friday_night_voicemail_counts_from_monday_0830(config, capsys, tmp_path, gsm_wav):
    raw = voicemail_mail(FRIDAY_2240, gsm_wav, duration=3, received=SATURDAY_0915)
    result = ingest(config, capsys, tmp_path, raw, "friday")
    assert result["outcome"] == "ticket"
    ticket = exported(config, capsys)[result["ticket"]]
    assert ticket["channel"] == "phone"
    assert datetime.fromisoformat(ticket["received_at"]) == FRIDAY_2240  # the call, not the mail
    assert datetime.fromisoformat(ticket["deemed_received_at"]) == MONDAY_0830
    assert ticket["request_type"] == "da_classificare"  # no transcript: nothing to classify
    assert ticket["sender"] is None  # the PBX's address is not the caller
    phone = ticket["phone"]
    assert (phone["number"], phone["name"], phone["mailbox"], phone["duration_s"]) == (
        "3331234567", "Mario Rossi", "100", 3,
    )  # fmt: skip
    assert "3331234567" in ticket["subject"] and "Mario Rossi" in ticket["subject"]
    assert {h["rule"] for h in ticket["rule_hits"]} >= {"voicemail.asterisk"}


def test_recording_is_stored_as_sent_and_as_standard_wav(config, capsys, tmp_path, gsm_wav):
    result = ingest(config, capsys, tmp_path, voicemail_mail(FRIDAY_2240, gsm_wav), "stored")
    ticket = exported(config, capsys)[result["ticket"]]
    recording = ticket["phone"]["recording"]
    names = {a["filename"]: a for a in ticket["attachments"]}
    assert set(names) == {"msg0000.WAV", "msg0000.pcm.wav"}
    assert names["msg0000.WAV"]["sha256"] == hashlib.sha256(gsm_wav).hexdigest()  # untouched
    assert recording["sha256"] == names["msg0000.pcm.wav"]["sha256"]
    assert recording["original_codec"] == "gsm_ms"  # it really was WAV49
    wav = BlobStore(tmp_path / "store").get("attachments", recording["sha256"])
    with wave.open(io.BytesIO(wav)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 8000)
        seconds = reader.getnframes() / reader.getframerate()
    assert 3 < seconds < 8  # the spoken sentence, whole
    assert recording["duration_s"] == pytest.approx(seconds, abs=0.01)


def test_holiday_voicemail_counts_from_the_next_working_day(config, capsys, tmp_path, mp3):
    raw = voicemail_mail(IMMACOLATA, mp3, body="freepbx", fmt="mp3", msgnum=3)
    result = ingest(config, capsys, tmp_path, raw, "holiday")
    ticket = exported(config, capsys)[result["ticket"]]
    assert datetime.fromisoformat(ticket["received_at"]) == IMMACOLATA
    assert datetime.fromisoformat(ticket["deemed_received_at"]) == WEDNESDAY_0830
    assert ticket["deemed_reason"] == "festivo"
    assert ticket["phone"]["recording"]["original_codec"] == "mp3"


def test_broken_recording_still_makes_the_ticket_and_keeps_the_bytes(config, capsys, tmp_path):
    broken = b"RIFF\x10\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + bytes(range(256)) * 4
    result = ingest(config, capsys, tmp_path, voicemail_mail(FRIDAY_2240, broken), "broken")
    assert result["outcome"] == "ticket"
    ticket = exported(config, capsys)[result["ticket"]]
    assert ticket["channel"] == "phone" and ticket["phone"]["number"] == "3331234567"
    assert "error" in ticket["phone"]["recording"]
    assert [a["filename"] for a in ticket["attachments"]] == ["msg0000.WAV"]  # kept as it came
    audio_hits = [h for h in ticket["rule_hits"] if h["rule"] == "voicemail.audio"]
    assert audio_hits and audio_hits[0]["value"] == "unreadable"


def test_same_voicemail_twice_makes_one_ticket(config, capsys, tmp_path, gsm_wav):
    raw = voicemail_mail(FRIDAY_2240, gsm_wav)
    first = ingest(config, capsys, tmp_path, raw, "once")
    second = ingest(config, capsys, tmp_path, raw, "twice")
    assert first["outcome"] == "ticket" and second["outcome"] == "duplicate"
    assert len(exported(config, capsys)) == 1


def test_ordinary_mail_keeps_its_channel_and_no_phone(config, capsys, tmp_path):
    raw = (
        b"From: Mario Rossi <mario@example.org>\r\nSubject: Lampione spento\r\n"
        b"Message-ID: <x1@example.org>\r\nDate: Fri, 04 Dec 2026 10:00:00 +0100\r\n\r\n"
        b"Il lampione di via Roma 12 e' spento.\r\n"
    )
    result = ingest(config, capsys, tmp_path, raw, "mail")
    ticket = exported(config, capsys)[result["ticket"]]
    assert ticket["channel"] == "email" and ticket["phone"] is None


def test_voicemail_recognition_can_be_switched_off(tmp_path, capsys, gsm_wav):
    config = tmp_path / "config.toml"
    config.write_text(BASE_CONFIG + "[voicemail]\nprofiles = []\n", encoding="utf-8")
    result = ingest(config, capsys, tmp_path, voicemail_mail(FRIDAY_2240, gsm_wav), "off")
    assert exported(config, capsys)[result["ticket"]]["channel"] == "email"


def test_daemon_with_a_worker_process_stores_the_normalised_recording(tmp_path, capsys, gsm_wav):
    """`run --once` on a drop folder, analysis in a worker process: the WAV made there
    reaches the store whole, under the sha256 the export names."""
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "vm.eml").write_bytes(voicemail_mail(FRIDAY_2240, gsm_wav, received=SATURDAY_0915))
    config = tmp_path / "config.toml"
    config.write_text(
        BASE_CONFIG + f'[processing]\nworkers = 1\n[[sources]]\nname = "drop"\nkind = "folder"\n'
        f'path = "{drop}"\n',
        encoding="utf-8",
    )
    assert cli.run(config, capsys, "run", "--once")[0] == 0
    [ticket] = exported(config, capsys).values()
    assert ticket["channel"] == "phone" and ticket["source"] == "drop"
    assert datetime.fromisoformat(ticket["deemed_received_at"]) == MONDAY_0830
    wav = BlobStore(tmp_path / "store").get("attachments", ticket["phone"]["recording"]["sha256"])
    assert hashlib.sha256(wav).hexdigest() == ticket["phone"]["recording"]["sha256"]
    with wave.open(io.BytesIO(wav)) as reader:
        assert reader.getnframes() / reader.getframerate() > 3
