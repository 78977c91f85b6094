"""ffmpeg, the one program that reads what PBXs attach: GSM-in-WAV ("WAV49"), µ-law and
PCM WAV, MP3, Ogg. Everything goes out as one standard: mono 16-bit PCM WAV at 8 kHz (16 kHz
when the recording has the bandwidth), so that every recording plays anywhere and a
transcriber gets one format.

Bounded: the input is refused above `max_bytes` before any program runs, the output is cut at
`max_seconds` (and says so), and each program is killed after `timeout_s`. Broken audio is an
`AudioError` naming what ffmpeg said, never a crash.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

WIDE_RATE = 16_000
NARROW_RATE = 8_000


class AudioError(Exception):
    """The recording cannot be read (broken, not audio, too large) or ffmpeg is missing."""


@dataclass(frozen=True)
class Normalised:
    wav: bytes  # RIFF WAVE, mono, 16-bit PCM
    sample_rate: int
    duration_s: float  # of the output
    source_format: str  # ffmpeg's name of what came in: "wav", "mp3", …
    source_codec: str  # "gsm_ms" for WAV49, "pcm_s16le", "mp3", …
    source_duration_s: float | None
    truncated: bool  # cut at max_seconds


def available() -> str | None:
    """ffmpeg's version line, or None when it (or ffprobe) is not installed."""
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        return None
    done = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False)
    if done.returncode != 0 or not done.stdout:
        return None
    return done.stdout.splitlines()[0].split(" Copyright")[0]


def normalise(
    data: bytes, *, max_seconds: float = 600, max_bytes: int = 20 << 20, timeout_s: float = 30
) -> Normalised:
    """`data` as standard WAV; AudioError when it is empty, too large or not readable audio."""
    if not data:
        raise AudioError("the recording is empty")
    if len(data) > max_bytes:
        raise AudioError(f"the recording has {len(data)} bytes, more than the {max_bytes} allowed")
    with tempfile.TemporaryDirectory(prefix="inbox-audio-") as folder:
        source, target = Path(folder, "in"), Path(folder, "out.wav")
        source.write_bytes(data)
        fmt, codec, rate, duration = _probe(source, timeout_s)
        out_rate = WIDE_RATE if rate >= WIDE_RATE else NARROW_RATE
        _convert(source, target, out_rate, max_seconds, timeout_s)
        wav = target.read_bytes()
    out_duration = _frames(wav) / out_rate
    if out_duration <= 0:
        raise AudioError(f"no sound could be decoded from the {fmt}/{codec} recording")
    truncated = duration is not None and duration > max_seconds + 0.5
    return Normalised(wav, out_rate, round(out_duration, 3), fmt, codec, duration, truncated)


def _run(args: list[str], timeout_s: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(args, capture_output=True, timeout=timeout_s, check=False)
    except FileNotFoundError:
        raise AudioError(f"{args[0]} is not installed (Debian package ffmpeg)") from None
    except subprocess.TimeoutExpired:
        raise AudioError(f"{args[0]} took more than {timeout_s:g} s: stopped") from None


def _probe(source: Path, timeout_s: float) -> tuple[str, str, int, float | None]:
    """Container, codec, sample rate and duration of the first audio stream."""
    done = _run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "format=format_name,duration:stream=codec_name,sample_rate", "-of", "json", str(source)],
        timeout_s,
    )  # fmt: skip
    if done.returncode != 0:
        raise AudioError(f"not readable audio: {_said(done.stderr, source)}")
    info = json.loads(done.stdout or b"{}")
    streams = info.get("streams") or []
    if not streams:
        raise AudioError("no audio stream in the recording")
    stream, container = streams[0], info.get("format", {})
    duration = container.get("duration")
    return (
        str(container.get("format_name", "?")),
        str(stream.get("codec_name", "?")),
        int(stream.get("sample_rate") or 0),
        float(duration) if duration not in (None, "N/A") else None,
    )


def _convert(source: Path, target: Path, rate: int, max_seconds: float, timeout_s: float) -> None:
    done = _run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), "-map", "0:a:0", "-t",
         f"{max_seconds:g}", "-ac", "1", "-ar", str(rate), "-c:a", "pcm_s16le",
         "-map_metadata", "-1", "-fflags", "+bitexact", "-f", "wav", "-y", str(target)],
        timeout_s,
    )  # fmt: skip
    if done.returncode != 0 or not target.exists():
        raise AudioError(f"the recording could not be decoded: {_said(done.stderr, source)}")


def _frames(wav: bytes) -> int:
    try:
        with wave.open(io.BytesIO(wav)) as reader:
            return reader.getnframes()
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"ffmpeg wrote no valid WAV: {exc}") from None


def _said(stderr: bytes, source: Path) -> str:
    """ffmpeg's last words, short, without our temporary path: what an operator can act on."""
    text = stderr.decode("utf-8", "replace").replace(f"{source}: ", "")
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "no reason given")[:300]
