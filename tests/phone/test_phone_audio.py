"""The ffmpeg wrapper on real recordings: WAV49 (GSM in WAV), MP3 and PCM in, standard WAV
out, with its bounds (size, duration) and a clear error for what is not audio."""

from __future__ import annotations

import io
import wave

import pytest

from parsers.phone.audio import AudioError, available, normalise
from tests.phone.recordings import encode, need, speak


def wav_facts(data: bytes) -> tuple[int, int, int, float]:
    with wave.open(io.BytesIO(data)) as reader:
        rate = reader.getframerate()
        return reader.getnchannels(), reader.getsampwidth(), rate, reader.getnframes() / rate


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return speak(tmp_path_factory.mktemp("speech"))


@pytest.mark.parametrize(
    ("kind", "codec"), [("wav49", "gsm_ms"), ("mp3", "mp3"), ("wav", "pcm_s16le")]
)
def test_each_pbx_format_becomes_16_bit_mono_8khz(speech, kind, codec):
    out = normalise(encode(speech, kind))
    assert out.source_codec == codec
    channels, width, rate, seconds = wav_facts(out.wav)
    assert (channels, width, rate) == (1, 2, 8000)
    with wave.open(str(speech)) as reader:
        spoken = reader.getnframes() / reader.getframerate()
    assert seconds == pytest.approx(spoken, abs=0.15)  # MP3 and GSM pad by a frame or two
    assert not out.truncated


def test_a_wideband_recording_keeps_16khz(speech):
    out = normalise(speech.read_bytes())  # espeak-ng writes 22.05 kHz
    assert wav_facts(out.wav)[2] == 16000


def test_a_long_recording_is_cut_at_max_seconds_and_says_so(tmp_path):
    long = encode(speak(tmp_path, seconds=30), "wav49")
    out = normalise(long, max_seconds=10)
    assert out.truncated and out.source_duration_s == pytest.approx(30, abs=0.1)
    assert wav_facts(out.wav)[3] == pytest.approx(10, abs=0.05)


def test_a_recording_over_max_bytes_is_refused_before_ffmpeg_runs(speech):
    data = encode(speech, "wav")
    with pytest.raises(AudioError, match="more than the 1000 allowed"):
        normalise(data, max_bytes=1000)


@pytest.mark.parametrize(
    "data",
    [b"", b"not audio at all, just text" * 20, b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(500)],
    ids=["empty", "text", "broken-wav"],
)
def test_what_is_not_audio_is_a_clear_error(data):
    need("ffmpeg")
    with pytest.raises(AudioError) as caught:
        normalise(data)
    message = str(caught.value)
    assert message and "/tmp/" not in message  # says what, not where our temporary files are


def test_a_cut_gsm_recording_keeps_what_can_be_heard(speech):
    """A transfer that broke off mid-file: the sound before the break is kept."""
    data = encode(speech, "wav49")
    out = normalise(data[: len(data) // 2])
    assert 0.5 < wav_facts(out.wav)[3] < 2.5


def test_version_is_reported_for_check_config():
    need("ffmpeg")
    assert (available() or "").startswith("ffmpeg version")
