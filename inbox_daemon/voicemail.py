"""The voicemail stage: a PBX's voicemail mail becomes a request on channel `phone`.

Runs after `screen` and before `classify`, on mail from any source. A mail that no profile
knows passes untouched. One that a profile knows gets: channel `phone`, the time of the call
(the ticket's `received_at`, so the service calendar deems it as the contracts say of the
answering machine), the caller, and the recording normalised to standard WAV and stored beside
the original. The PBX's own text ("Dear …, you were just left a message …") is not the
caller's request, so it is not classified: without a transcript the ticket is
`da_classificare`, with the recording kept. The PBX's address gets no acknowledgement.

A call an operator registered (`tickets add --channel phone`, spooled by the daemon itself on
channel `phone`) goes through here too: its caller and time are read, its text classified.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import rules
from parsers.message import Attachment
from parsers.phone import ASTERISK, GenericProfile, Profile, Voicemail, recognise
from parsers.phone.audio import AudioError, normalise
from parsers.phone.operator import OperatorCall, read_operator_call
from parsers.phone.transcribe import TranscribeError, by_command, by_vosk, spoken_codes

if TYPE_CHECKING:
    from inbox_daemon.analysis import Analysis, Tools
    from inbox_daemon.config import Config

CLOCK_SLACK = timedelta(minutes=5)  # a PBX clock this far ahead of ours is not believed
DEFAULT_ZONE = ZoneInfo("Europe/Rome")
NO_AUDIO = rules.Hit("voicemail.audio", "recording", "none", "nessun allegato audio")


@dataclass(frozen=True)
class VoicemailTools:
    """What the stage needs, plain and picklable: it travels to the worker processes."""

    profiles: tuple[Profile, ...] = ()
    tz: ZoneInfo = DEFAULT_ZONE
    max_seconds: int = 600
    max_bytes: int = 20 << 20
    timeout_s: float = 30
    transcriber: str | None = None  # "command" | "vosk"
    command: tuple[str, ...] = ()
    vosk_model: str | None = None
    transcriber_timeout_s: float = 120


NO_VOICEMAIL = VoicemailTools()


@dataclass(frozen=True)
class Call:
    """What the stage read: the export's `phone` object, the time of the call, and why."""

    details: dict[str, Any]  # number, name, duration_s, mailbox, recording, profile
    called_at: datetime | None
    hits: tuple[rules.Hit, ...] = ()


def voicemail_tools(config: Config) -> VoicemailTools:
    vm = config.voicemail
    builtin = {"asterisk": ASTERISK}
    generic = tuple(
        GenericProfile(
            g.name,
            _compile(g.subject),
            tuple(_compile(f) for f in g.fields),
            _compile(g.sender) if g.sender else None,
            tuple(g.date_formats),
        )
        for g in vm.generic
    )
    return VoicemailTools(
        profiles=(*generic, *(builtin[name] for name in vm.profiles)),
        tz=ZoneInfo(config.calendar.timezone),
        max_seconds=vm.max_seconds,
        max_bytes=vm.max_mb << 20,
        timeout_s=vm.timeout_s,
        transcriber=vm.transcriber,
        command=tuple(vm.transcriber_command),
        vosk_model=str(vm.vosk_model) if vm.vosk_model else None,
        transcriber_timeout_s=vm.transcriber_timeout_s,
    )


def _compile(pattern: str) -> Any:
    import re

    return re.compile(pattern, re.I | re.M)


def read_voicemail(work: Analysis, tools: Tools) -> Analysis:
    """A voicemail mail as a phone call; any other mail as it was."""
    parsed, settings = work.parsed, tools.voicemail
    if parsed is None:
        return work
    if work.pending.channel == "phone":  # spooled by `tickets add`: only we write these
        return _operator_call(work, read_operator_call(parsed))
    if not settings.profiles:
        return work
    found = recognise(parsed, settings.profiles, settings.tz)
    if found is None:
        return work
    recording, stored, wav, audio_hits = _recording(found, tools, len(parsed.attachments))
    transcript, heard_hits = transcribe(wav, settings)
    heard = rules.Hit(f"voicemail.{found.profile}", "channel", "phone", parsed.subject[:200])
    parsed = replace(
        parsed,
        subject=summary(found),
        from_address=None,  # the PBX's: never acknowledged
        reply_to=None,
        from_name=found.name or "",
        new_text=transcript,  # the PBX's own text is not the request
        attachments=(*parsed.attachments, *stored),
    )
    details = {
        "number": found.number,
        "name": found.name,
        "duration_s": found.duration_s,
        "mailbox": found.mailbox,
        "recording": recording,
        "profile": found.profile,
        "via": "voicemail",
        "transcript": transcript or None,
    }
    return replace(
        work,
        parsed=parsed,
        pending=replace(work.pending, channel="phone"),
        phone=Call(details, found.called_at, (heard, *audio_hits, *heard_hits)),
    )


def _operator_call(work: Analysis, call: OperatorCall | None) -> Analysis:
    """A call an operator registered: the operator's words are the request, and classified."""
    if call is None or work.parsed is None:
        return work
    details = {
        "number": call.number,
        "name": call.name,
        "duration_s": None,
        "mailbox": None,
        "recording": None,
        "via": "operator",
        "operator": call.operator,
    }
    parsed = replace(work.parsed, from_address=None, reply_to=None, from_name=call.name or "")
    return replace(work, parsed=parsed, phone=Call(details, call.called_at))


def summary(found: Voicemail) -> str:
    """The ticket's subject, in Italian for the operators."""
    who = found.number or "numero nascosto"
    if found.name:
        who = f"{who} ({found.name})"
    parts = [f"Messaggio in segreteria da {who}"]
    if found.mailbox:
        parts.append(f"casella {found.mailbox}")
    if found.duration_s is not None:
        parts.append(f"durata {found.duration_s // 60}:{found.duration_s % 60:02d}")
    return ", ".join(parts)


def transcribe(wav: bytes | None, settings: VoicemailTools) -> tuple[str, tuple[rules.Hit, ...]]:
    """The recording's words, spoken codes written as codes; "" without a transcriber or
    when it fails (then a hit says why, and the ticket is made all the same)."""
    if wav is None or settings.transcriber is None:
        return "", ()
    try:
        if settings.transcriber == "vosk":
            text = by_vosk(wav, settings.vosk_model or "")
        else:
            text = by_command(wav, settings.command, settings.transcriber_timeout_s)
    except TranscribeError as exc:
        return "", (rules.Hit("voicemail.transcript", "text", "failed", str(exc)[:500]),)
    text = spoken_codes(text)
    return text, (rules.Hit("voicemail.transcript", "text", settings.transcriber, text[:200]),)


def _recording(
    found: Voicemail, tools: Tools, next_index: int
) -> tuple[dict[str, Any] | None, tuple[Attachment, ...], bytes | None, tuple[rules.Hit, ...]]:
    """The normalised recording (the export's `recording`), its attachment, and a hit when
    it could not be made (the original stays attached: nothing is lost)."""
    original = found.recording
    if original is None:
        return None, (), None, (NO_AUDIO,)
    settings = tools.voicemail
    data = original.payload or (
        tools.blobs.get("attachments", original.sha256) if original.sha256 else b""
    )
    try:
        if original.truncated:
            raise AudioError(f"the attachment was cut at {len(data)} bytes on receipt")
        audio = normalise(
            data,
            max_seconds=settings.max_seconds,
            max_bytes=settings.max_bytes,
            timeout_s=settings.timeout_s,
        )
    except AudioError as exc:
        why = rules.Hit("voicemail.audio", "recording", "unreadable", f"{original.filename}: {exc}")
        return {"original": original.filename, "error": str(exc)}, (), None, (why,)
    # Stored with the other attachments (by the worker, or before the ticket's transaction),
    # under the sha256 of its bytes, which the export can name already.
    sha = hashlib.sha256(audio.wav).hexdigest()
    stem = original.filename.rsplit(".", 1)[0] or "recording"
    size = len(audio.wav)
    part = Attachment(next_index, f"{stem}.pcm.wav", None, "audio/wav", audio.wav, size)
    recording = {
        "filename": part.filename,
        "sha256": sha,
        "content_type": "audio/wav",
        "sample_rate": audio.sample_rate,
        "duration_s": audio.duration_s,
        "truncated": audio.truncated,
        "original": original.filename,
        "original_codec": audio.source_codec,
    }
    return recording, (part,), audio.wav, ()


def call_received_at(call: Call | None, received_at: datetime) -> datetime:
    """The ticket's `received_at`: the time of the call, unless the PBX's clock runs ahead of
    ours (a call cannot come after its mail reached us), then the mail's receipt."""
    if call is None or call.called_at is None or call.called_at > received_at + CLOCK_SLACK:
        return received_at
    return call.called_at


def config_problems(config: Config) -> list[str]:
    """What `check-config` refuses: a transcriber that cannot run."""
    import shutil

    vm = config.voicemail
    if vm.transcriber == "command" and not shutil.which(vm.transcriber_command[0]):
        return [f"voicemail.transcriber_command: {vm.transcriber_command[0]!r} not found"]
    if vm.transcriber == "vosk" and vm.vosk_model and not vm.vosk_model.is_dir():
        return [f"voicemail.vosk_model: no such folder: {vm.vosk_model}"]
    return []


def describe(config: Config) -> str:
    """One line for `check-config`: which voicemails are recognised, and with what."""
    from parsers.phone.audio import available

    vm = config.voicemail
    names = [*(g.name for g in vm.generic), *vm.profiles]
    if not names:
        return "voicemail: no profile (no mail is read as a voicemail)"
    audio = available() or "ffmpeg not installed: recordings kept as sent, not normalised"
    return f"voicemail: {', '.join(names)}; {audio}; transcriber: {vm.transcriber or 'none'}"
