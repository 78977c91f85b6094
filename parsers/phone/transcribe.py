"""Transcribing a voicemail, optionally: a command the operator names (it gets the WAV's path
and prints the text), or vosk with an offline model the operator installed. Either can fail
or hang; the caller then makes the ticket without a transcript, so nothing waits on it.

`spoken_codes` turns what a recogniser writes for a spoken pole code («i pi zero zero
quattro cinque uno due») into what the pole rules read («IP 004512»).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

MAX_TRANSCRIPT = 100_000  # characters kept of what a command prints


class TranscribeError(Exception):
    """The transcriber failed, hung, or is not installed: the ticket goes without."""


def by_command(wav: bytes, command: Sequence[str], timeout_s: float) -> str:
    """Run `command` with the WAV's path (in place of `{wav}`, else last); its standard
    output is the transcript. Killed, with everything it started, after `timeout_s`."""
    with tempfile.TemporaryDirectory(prefix="inbox-transcribe-") as folder:
        path = Path(folder, "voicemail.wav")
        path.write_bytes(wav)
        args = [part.replace("{wav}", str(path)) for part in command]
        if not any("{wav}" in part for part in command):
            args.append(str(path))
        try:
            process = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
            )
        except OSError as exc:
            raise TranscribeError(f"{command[0]}: {exc.strerror or exc}") from None
        try:
            out, err = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its children too: a shell script's
            process.communicate()
            raise TranscribeError(f"{command[0]} took more than {timeout_s:g} s: killed") from None
    if process.returncode != 0:
        said = err.decode("utf-8", "replace").strip().splitlines()
        why = said[-1][:300] if said else "no message"
        raise TranscribeError(f"{command[0]} exited with {process.returncode}: {why}")
    return out.decode("utf-8", "replace").strip()[:MAX_TRANSCRIPT]


def by_vosk(wav: bytes, model_path: str) -> str:
    """vosk (the optional `vosk` extra) with the model at `model_path`."""
    try:
        import vosk  # type: ignore[import-not-found]
    except ImportError:
        raise TranscribeError("vosk is not installed (pip install 'inbox-daemon[vosk]')") from None
    if not Path(model_path, "conf").is_dir() and not Path(model_path, "am").is_dir():
        raise TranscribeError(f"{model_path} holds no vosk model")
    import io

    vosk.SetLogLevel(-1)
    with wave.open(io.BytesIO(wav)) as reader:
        recogniser = vosk.KaldiRecognizer(vosk.Model(model_path), reader.getframerate())
        while chunk := reader.readframes(4000):
            recogniser.AcceptWaveform(chunk)
    return str(json.loads(recogniser.FinalResult()).get("text", "")).strip()


DIGITS = {"zero": "0", "uno": "1", "un": "1", "due": "2", "tre": "3", "quattro": "4",
          "cinque": "5", "sei": "6", "sette": "7", "otto": "8", "nove": "9"}  # fmt: skip
LETTERS = {"a": "A", "bi": "B", "ci": "C", "di": "D", "e": "E", "effe": "F", "gi": "G",
           "acca": "H", "i": "I", "elle": "L", "emme": "M", "enne": "N", "o": "O",
           "pi": "P", "cu": "Q", "erre": "R", "esse": "S", "ti": "T", "u": "U", "vu": "V",
           "zeta": "Z"}  # fmt: skip
DIGIT = rf"(?:{'|'.join(DIGITS)}|\d)"
LETTER = rf"(?:{'|'.join(sorted(LETTERS, key=len, reverse=True))})"
CODE = re.compile(
    rf"\b(?P<letters>{LETTER}(?:[\s-]+{LETTER})+)[\s-]+(?P<digits>{DIGIT}(?:[\s-]+{DIGIT}){{2,}})\b",
    re.I,
)
RUN = re.compile(rf"\b{DIGIT}(?:[\s-]+{DIGIT}){{3,}}\b", re.I)


def spoken_codes(text: str) -> str:
    """Spelled letters followed by spoken digits become a code («i pi zero zero quattro» ->
    «IP 004»); a run of four or more spoken digits becomes digits. Single words stay: «e»,
    «i» and «un» are ordinary Italian words too."""

    def digits(run: str) -> str:
        return "".join(DIGITS.get(word.lower(), word) for word in re.split(r"[\s-]+", run))

    def code(match: re.Match[str]) -> str:
        letters = "".join(LETTERS[w.lower()] for w in re.split(r"[\s-]+", match["letters"]))
        return f"{letters} {digits(match['digits'])}"

    return RUN.sub(lambda m: digits(m[0]), CODE.sub(code, text))
