"""Real recordings and voicemail mails for the phone tests.

The recordings are spoken by espeak-ng and encoded by ffmpeg, as a PBX would store them: GSM
6.10 in WAV ("WAV49", Asterisk's `format=wav49`), MP3, plain PCM. The mails are laid out as
Asterisk's app_voicemail writes them (apps/app_voicemail.c, make_email_file, with the default
`emailsubject`/`emailbody` and `emaildateformat`), or with FreePBX's body.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

SPEECH = "Buonasera, il lampione davanti al civico dodici di via Roma è spento da tre giorni."


def need(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/setup.sh test installs them)")


def speak(folder: Path, text: str = SPEECH, seconds: float | None = None) -> Path:
    """A spoken WAV (22.05 kHz PCM, as espeak-ng writes it); `seconds`: padded with the same
    speech repeated up to that length."""
    need("espeak-ng", "ffmpeg")
    path = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "it", "-w", str(path), text], check=True)
    if seconds:
        longer = folder / "long.wav"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(path), "-t",
             f"{seconds:g}", str(longer)],
            check=True,
        )  # fmt: skip
        return longer
    return path


def encode(source: Path, kind: str) -> bytes:
    """`source` as a PBX stores it: wav49 (GSM in WAV, 8 kHz), mp3, or wav (8 kHz PCM)."""
    codec = {"wav49": ["-ar", "8000", "-ac", "1", "-c:a", "libgsm_ms"],
             "mp3": ["-ar", "8000", "-ac", "1", "-c:a", "libmp3lame", "-f", "mp3"],
             "wav": ["-ar", "8000", "-ac", "1", "-c:a", "pcm_s16le"]}[kind]  # fmt: skip
    target = source.with_name(f"{source.stem}-{kind}.{'mp3' if kind == 'mp3' else 'wav'}")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), *codec, str(target)], check=True
    )
    return target.read_bytes()


def asterisk_date(moment: datetime) -> str:
    """emaildateformat's default, "%A, %B %d, %Y at %r"."""
    return moment.strftime("%A, %B %d, %Y at %I:%M:%S %p")


def voicemail_mail(
    at: datetime,
    audio: bytes | None,
    *,
    cidnum: str = "3331234567",
    cidname: str = "Mario Rossi",
    mailbox: str = "100",
    duration: int = 42,
    msgnum: int = 0,
    body: str = "asterisk",
    received: datetime | None = None,
    fmt: str = "WAV",
) -> bytes:
    """A voicemail mail as app_voicemail sends it (attach=yes; `fmt` WAV for wav49)."""
    dur = f"{duration // 60}:{duration % 60:02d}"
    caller = f'"{cidname}" <{cidnum}>' if cidname else cidnum
    bound = f"----voicemail_{msgnum + 1}{mailbox}4242{1804289383 + msgnum}"
    lines = []
    if received:
        lines.append(
            f"Received: from pbx.example.it (pbx.example.it [192.0.2.10]) by mx.example.it "
            f"with ESMTP id 4Xy; {received.strftime('%a, %d %b %Y %H:%M:%S %z')}"
        )
    lines += [
        f"Date: {at.strftime('%a, %d %b %Y %H:%M:%S %z')}",
        "From: Asterisk PBX <asterisk@pbx.example.it>",
        'To: "Centralino" <segreteria@example.it>',
        f"Subject: [PBX]: New message {msgnum + 1} in mailbox {mailbox}",
        f"Message-ID: <Asterisk-{msgnum + 1}-{1804289383 + msgnum}-{mailbox}-4242@pbx.example.it>",
        f"X-Asterisk-CallerID: {cidnum}",
    ]
    if cidname:
        lines.append(f"X-Asterisk-CallerIDName: {cidname}")
    lines.append("MIME-Version: 1.0")
    if audio is not None:
        lines += [f'Content-Type: multipart/mixed; boundary="{bound}"', "", "",
                  "This is a multi-part message in MIME format.", "", f"--{bound}"]  # fmt: skip
    lines += ["Content-Type: text/plain; charset=ISO-8859-1", "Content-Transfer-Encoding: 8bit", ""]
    when = asterisk_date(at)
    if body == "asterisk":
        lines += [
            "Dear Centralino:", "",
            f"\tJust wanted to let you know you were just left a {dur} long message "
            f"(number {msgnum + 1})",
            f"in mailbox {mailbox} from {cidname or cidnum}, on {when} so you might",
            "want to check it when you get a chance.  Thanks!", "", "\t\t\t\t--Asterisk", "",
        ]  # fmt: skip
    else:  # FreePBX's emailbody
        lines += [
            "Centralino,", "", f"There is a new voicemail in mailbox {mailbox}:", "",
            f"\tFrom:\t{caller}", f"\tLength:\t{dur} seconds", f"\tDate:\t{when}", "",
            "Dial *98 to access your voicemail by phone.",
            "Visit http://pbx.example.it/ucp to check your voicemail with a web browser.", "",
        ]  # fmt: skip
    if audio is not None:
        name = f"msg{msgnum:04d}.{fmt}"
        encoded = base64.b64encode(audio).decode()
        lines += [
            f"--{bound}",
            f'Content-Type: audio/x-{fmt}; name="{name}"',
            "Content-Transfer-Encoding: base64",
            "Content-Description: Voicemail sound attachment.",
            f'Content-Disposition: attachment; filename="{name}"',
            "",
            *(encoded[i : i + 72] for i in range(0, len(encoded), 72)),
            "", "", f"--{bound}--",
        ]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")
