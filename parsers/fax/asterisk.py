"""Asterisk fax-to-email: FreePBX's fax module, and the usual ReceiveFAX dialplan scripts.

FreePBX writes:

    Subject: New fax from: "PARROCCHIA S MARCO" <0612345678>
    Enclosed, please find a new fax from: "PARROCCHIA S MARCO" <0612345678>
    Received & processed: Thu, 03 Dec 2026 10:15:42 +0100
    On: pbx.example.it
    Via: 0698765432

and, without a caller id, the remote station id in its place. Scripts built on ReceiveFAX
mail the channel variables: `Remote station: ${REMOTESTATIONID}`, `Pages: ${FAXPAGES}`.
"""

from __future__ import annotations

from parsers.fax.call import Profile

_FROM = r"(?i)new fax from:[ \t]*"

PROFILE = Profile(
    name="asterisk",
    recognise=r"(?i)new fax (?:from|received)|please find a new fax|remote ?station",
    number=(
        _FROM + r'(?:"[^"\n]*"[ \t]*)?<(?P<value>\+?\d[\d \-./]*)>',
        _FROM + r"(?P<value>\+?\d[\d \-./]{3,}\d)\b",
        r"(?im)^[ \t]*(?:caller ?id|from number)[ \t]*:[ \t]*(?P<value>\+?\d[\d \-./]*\d)",
    ),
    station_id=(r"(?im)^[ \t]*remote ?station(?: ?id)?[ \t]*:[ \t]*(?P<value>.+?)[ \t]*$",),
    pages=(r"(?im)^[ \t]*(?:total )?pages[ \t]*:[ \t]*(?P<value>\d+)",),
    received=(r"(?im)^[ \t]*received(?: & processed)?[ \t]*:[ \t]*(?P<value>.+?)[ \t]*$",),
    time_formats=("%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M"),
)
