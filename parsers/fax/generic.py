"""The generic profile: the labels most gateways use, in Italian and English; the
configuration may give its own regexes for any fact (`[sources.fax_patterns]`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from parsers.fax.call import Profile

_LINE = r"(?im)^[ \t]*(?:{labels})[ \t]*:[ \t]*(?P<value>.+?)[ \t]*$"

PROFILE = Profile(
    name="generic",
    recognise="",
    number=(
        _LINE.format(labels=r"numero(?: chiamante| mittente)?|chiamante|caller ?id|from number"),
        _LINE.format(labels=r"mittente|da|from|sender"),
    ),
    station_id=(_LINE.format(labels=r"tsi|csid|station(?: id)?|identificativo(?: stazione)?"),),
    pages=(r"(?im)^[ \t]*(?:pagine|pages|n\. pagine|pag\.)[ \t]*:[ \t]*(?P<value>\d+)",),
    received=(_LINE.format(labels=r"ricevuto(?: il)?|data ricezione|received(?: at)?|date"),),
    time_formats=("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M:%S"),
)


def configured(patterns: Mapping[str, Sequence[str]], time_formats: Sequence[str] = ()) -> Profile:
    """The generic profile with the configured regexes put first, fact by fact."""
    facts = {k: (*v, *getattr(PROFILE, k)) for k, v in patterns.items() if k in FACTS}
    return replace(PROFILE, **facts, time_formats=(*time_formats, *PROFILE.time_formats))


FACTS = ("number", "station_id", "pages", "received")
