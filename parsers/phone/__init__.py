"""The phone channel's written traces: voicemail mails, call records, their recordings.

Pure like the rest of `parsers/`: messages and bytes in, frozen values out. The one external
program, ffmpeg, sits behind `audio.py`.
"""

from parsers.phone.callers import Caller, parse_caller, parse_duration
from parsers.phone.voicemail import (
    ASTERISK,
    GenericProfile,
    Profile,
    Voicemail,
    recognise,
)

__all__ = [
    "ASTERISK", "Caller", "GenericProfile", "Profile", "Voicemail", "parse_caller",
    "parse_duration", "recognise",
]  # fmt: skip
