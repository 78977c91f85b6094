"""Optional transcription: a real command gets the normalised WAV and prints the words, which
join the rules (spoken pole codes too); a failing or hanging transcriber leaves the ticket
made without them. The vosk path runs where a model is configured."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from parsers.phone.transcribe import TranscribeError, by_command, by_vosk, spoken_codes
from tests.conftest import BASE_CONFIG
from tests.phone.cli import exported, ingest
from tests.phone.recordings import speak, voicemail_mail

ROME = ZoneInfo("Europe/Rome")
MONDAY_1000 = datetime(2026, 11, 30, 10, 0, tzinfo=ROME)
# What a recogniser would write for the caller's words: the test script prints it once it
# has checked that it got a real WAV (mono, 16 bit).
SAID = "il palo i pi zero zero quattro cinque uno due sta per cadere sulla strada c'è pericolo"
SCRIPT = f"""import sys, wave
with wave.open(sys.argv[1]) as w:
    assert (w.getnchannels(), w.getsampwidth()) == (1, 2) and w.getnframes() > 0
print({SAID!r})
"""


def config_with(tmp_path: Path, transcriber: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE_CONFIG + "[voicemail]\n" + transcriber, encoding="utf-8")
    return path


def ticket_of(config: Path, capsys, tmp_path: Path, raw: bytes) -> dict:
    ingest(config, capsys, tmp_path, raw)
    [row] = exported(config, capsys)
    return row


def test_command_transcript_joins_the_rules(tmp_path, capsys, gsm_wav):
    script = tmp_path / "transcribe.py"
    script.write_text(SCRIPT, encoding="utf-8")
    command = json.dumps([sys.executable, str(script), "{wav}"])
    config = config_with(tmp_path, f'transcriber = "command"\ntranscriber_command = {command}\n')
    ticket = ticket_of(config, capsys, tmp_path, voicemail_mail(MONDAY_1000, gsm_wav))
    assert ticket["channel"] == "phone"
    assert ticket["request_type"] == "manutenzione" and ticket["urgency"] == "emergenza"
    assert ticket["pole_codes"] == ["IP-004512"]  # spoken, then read by the pole rule
    assert ticket["phone"]["transcript"].startswith("il palo IP 004512")


def test_a_hanging_transcriber_is_killed_and_the_ticket_made(tmp_path, capsys, gsm_wav):
    script = tmp_path / "hang.sh"
    script.write_text("#!/bin/sh\nsleep 60 &\nsleep 60\n", encoding="utf-8")
    script.chmod(0o755)
    config = config_with(
        tmp_path,
        f'transcriber = "command"\ntranscriber_command = ["{script}"]\ntranscriber_timeout_s = 1\n',
    )
    started = time.monotonic()
    ticket = ticket_of(config, capsys, tmp_path, voicemail_mail(MONDAY_1000, gsm_wav))
    assert time.monotonic() - started < 30  # not the minute the script wanted
    assert ticket["request_type"] == "da_classificare" and ticket["phone"]["transcript"] is None
    [hit] = [h for h in ticket["rule_hits"] if h["rule"] == "voicemail.transcript"]
    assert hit["value"] == "failed" and "killed" in hit["evidence"]
    assert len(ticket["attachments"]) == 2  # the recording is kept all the same


def test_a_failing_command_says_why(tmp_path):
    script = tmp_path / "fail.sh"
    script.write_text("#!/bin/sh\necho 'modello non trovato' >&2\nexit 3\n", encoding="utf-8")
    script.chmod(0o755)
    with pytest.raises(TranscribeError, match="exited with 3: modello non trovato"):
        by_command(b"RIFF", [str(script)], timeout_s=10)


def test_a_missing_command_says_so(tmp_path):
    with pytest.raises(TranscribeError, match="No such file"):
        by_command(b"RIFF", [str(tmp_path / "nowhere")], timeout_s=10)


@pytest.mark.parametrize(
    ("heard", "written"),
    [
        ("palo i pi zero zero quattro cinque uno due", "palo IP 004512"),
        ("il numero è tre tre tre uno due tre quattro", "il numero è 3331234"),
        ("i lampioni e i pali di via roma", "i lampioni e i pali di via roma"),
        ("un palo e due lampioni", "un palo e due lampioni"),
    ],
)
def test_spoken_codes(heard, written):
    assert spoken_codes(heard) == written


def test_vosk_with_a_configured_model(tmp_path):
    model = os.environ.get("INBOX_VOSK_MODEL")
    if not model:
        pytest.skip("no vosk model: set INBOX_VOSK_MODEL to an Italian model's folder (README)")
    pytest.importorskip("vosk", reason="the vosk extra is not installed")
    wav = tmp_path / "speech-16k.wav"
    source = speak(tmp_path, "il palo è caduto")
    import subprocess

    subprocess.run(["ffmpeg", "-v", "error", "-i", str(source), "-ar", "16000", "-ac", "1",
                    str(wav)], check=True)  # fmt: skip
    assert "palo" in by_vosk(wav.read_bytes(), model)
