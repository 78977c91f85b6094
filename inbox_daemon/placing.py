"""The stages after the pure ones, in the main process: locate, then route.

They need what only the main process holds — the pole register, whose codes stay loaded
once instead of once per worker (a regional register would cost each worker tens of
megabytes) — and they are cheap: a few set look-ups and at most two small queries per
request. Routing follows locating because it may match on where the pole stands
(municipality, zone).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import rules
from inbox_daemon.analysis import Analysis, Placement, Stage, run_stages
from inbox_daemon.register import LoadedRegister, Snapshot, location
from inbox_daemon.routing import RouteRule, route
from rules.addresses import find_streets
from rules.register import Located


@dataclass(frozen=True)
class Places:
    """What the placing stages need, for one batch: the register as it stands now."""

    register: LoadedRegister
    snapshot: Snapshot
    routing: tuple[RouteRule, ...]


def locate(work: Analysis, places: Places) -> Analysis:
    """Each code read, as the register knows it (a slip corrected when only one registered
    code is one edit away); without a code, the poles of a street the text names."""
    if work.verdict is None or not len(places.snapshot.index):
        return work  # no register: nothing to say, and a location is never invented
    read = work.verdict.pole_codes
    if not read:
        return replace(work, placement=_by_street(work, places))
    found = [places.snapshot.index.locate(code) for code in read]
    known = [f for f in found if f.code is not None]
    poles = places.register.poles([known[0].code]) if known else {}
    first = poles.get(known[0].code) if known else None
    placement = Placement(
        pole_codes=tuple(dict.fromkeys(f.code or f.read for f in found)),
        location=location(first, known[0]) if first is not None else None,
        unknown=tuple(f.read for f in found if f.code is None),
        hits=tuple(_hit(f) for f in found if f.match != "exact"),
    )
    return replace(work, placement=placement)


def _by_street(work: Analysis, places: Places) -> Placement | None:
    assert work.parsed is not None
    text = f"{work.parsed.subject}\n{work.parsed.new_text}"
    mentions = find_streets(text, places.snapshot.streets)
    if not mentions:
        return None
    first = mentions[0]
    candidates = tuple(places.register.nearest(first.street, first.civic))
    why = rules.Hit("locate.street", "candidate_poles", first.street, first.raw)
    return Placement((), None, candidates=candidates, hits=(why,))


def _hit(found: Located) -> rules.Hit:
    if found.match == "corrected":
        return rules.Hit("locate.corrected", "pole_codes", found.code or "", f"letto {found.read}")
    if found.match == "ambiguous":
        could = ", ".join(found.alternatives)
        return rules.Hit("locate.ambiguous", "unknown_poles", found.read, f"forse {could}")
    return rules.Hit("locate.unknown", "unknown_poles", found.read, "non nel registro")


def route_request(work: Analysis, places: Places) -> Analysis:
    """Smistamento: the first `[[routing]]` rule that fits the request (`routing.py`)."""
    if work.verdict is None or work.parsed is None:
        return work
    verdict, sender = work.verdict, work.parsed.from_address or ""
    where = work.placement.location if work.placement else None
    facts = {
        "request_type": verdict.request_type,
        "urgency": verdict.urgency,
        "channel": work.pending.channel,
        "criminal_event": verdict.criminal_event,
        "sender_domain": sender.rpartition("@")[2] or None,
        "municipality": where["municipality"] if where else None,
        "zone": where["extra"].get("zone") if where else None,
    }
    return replace(work, route=route(facts, places.routing))


STAGES: tuple[tuple[str, Stage[Places]], ...] = (
    ("locate", locate),
    ("route", route_request),
)


def place(
    analyses: list[Analysis], register: LoadedRegister, routing: tuple[RouteRule, ...]
) -> list[Analysis]:
    """Run the placing stages on a batch, with the register as it stands now."""
    places = Places(register, register.current(), routing)
    return [work if work.ended else run_stages(work, STAGES, places) for work in analyses]
