"""HylaFAX and HylaFAX+: the `faxrcvd` notify mail.

    Subject: Facsimile received from +39 06 1234567
    recvq/fax00012.tif (ftp://fax.example.it:4559/recvq/fax00012.tif):
                 Sender: +39 06 1234567          <- the TSI the sending machine gave
                  Pages: 2
               Received: 2026:12:03 10:15:42     <- the server's local time
                CallID1: 0612345678              <- caller id, when the line gives it
                CallID2: PARROCCHIA S MARCO

The older faxrcvd prints `faxinfo -n` (`ReceivedOn:`), the newer templates spell the labels
out (`Received On:`); the lines asked for are the same in both.
"""

from __future__ import annotations

from parsers.fax.call import Profile

_LINE = r"(?im)^[ \t]*{label}:[ \t]*(?P<value>.*?)[ \t]*$"

PROFILE = Profile(
    name="hylafax",
    recognise=r"(?im)^Subject: Facsimile received|^[ \t]*Received ?On:|^[ \t]*CallID1:",
    number=(_LINE.format(label="CallID1"),),
    station_id=(
        _LINE.format(label="Sender"),
        r"(?im)^Subject: Facsimile received from (?P<value>.+)$",
    ),
    pages=(_LINE.format(label="Pages"),),
    received=(_LINE.format(label="Received"),),
    time_formats=("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%a %b %d %H:%M:%S %Y"),
)
