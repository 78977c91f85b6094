"""Fax-gateway profiles: the caller's number, station id, pages and receive time, from the
notification mail a fax-to-email gateway sends (HylaFAX, Asterisk/FreePBX, generic).

Pure: takes the subject, the body and a timezone, returns a `FaxCall`.

    call = read_call(PROFILES["hylafax"], parsed.subject, parsed.body_text, tz)
"""

from __future__ import annotations

from parsers.fax import asterisk, generic, hylafax
from parsers.fax.call import FaxCall, Profile, phone_number, read_call

PROFILES: dict[str, Profile] = {
    "hylafax": hylafax.PROFILE,
    "asterisk": asterisk.PROFILE,
    "generic": generic.PROFILE,
}

__all__ = ["PROFILES", "FaxCall", "Profile", "phone_number", "read_call"]
