"""Call records (CDR) as a PBX writes them, and what each call was for the service levels.

Asterisk's `cdr_csv` writes `Master.csv` without a header: accountcode, src, dst, dcontext,
clid, channel, dstchannel, lastapp, lastdata, start, answer, end, duration, billsec,
disposition, amaflags, then uniqueid and userfield when configured; times are local
("%Y-%m-%d %H:%M:%S", GMT under `usegmtime`), an unanswered call's `answer` is empty. Other
PBXs' exports are read by a column mapping (a header row naming the columns).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

ASTERISK_COLUMNS = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
                    "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
                    "disposition", "amaflags", "uniqueid", "userfield")  # fmt: skip
UTC = ZoneInfo("UTC")
DISPOSITIONS = {"ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"}


@dataclass(frozen=True)
class CallRecord:
    key: str  # sha256 of the record's fields: the same record imported twice is one
    start: datetime  # timezone-aware
    answer: datetime | None
    end: datetime | None
    src: str | None
    dst: str | None
    disposition: str  # ANSWERED | NO ANSWER | BUSY | FAILED | CONGESTION
    lastapp: str | None
    duration_s: int | None
    billsec_s: int | None


@dataclass(frozen=True)
class BadRecord:
    line: int
    reason: str


@dataclass(frozen=True)
class Layout:
    """How to read a file: Asterisk's positions, or a header row with `columns` mapping our
    names (start, answer, end, src, dst, disposition, lastapp, duration, billsec) to its."""

    columns: Mapping[str, str] | None = None  # None: Asterisk's Master.csv
    time_format: str = "%Y-%m-%d %H:%M:%S"
    tz: ZoneInfo = UTC


def read_records(text: str, layout: Layout) -> Iterator[CallRecord | BadRecord]:
    """Each record of the file, or why a line is not one (the rest are still read)."""
    rows = csv.reader(text.splitlines())
    names: Mapping[str, int]
    if layout.columns is None:
        names = {name: i for i, name in enumerate(ASTERISK_COLUMNS)}
    else:
        header = next(rows, [])
        position = {name.strip(): i for i, name in enumerate(header)}
        missing = sorted(v for v in layout.columns.values() if v not in position)
        if missing:
            yield BadRecord(1, f"the header has no column {', '.join(missing)}")
            return
        names = {ours: position[theirs] for ours, theirs in layout.columns.items()}
    first = 1 if layout.columns is None else 2
    for number, row in enumerate(rows, start=first):
        if not any(cell.strip() for cell in row):
            continue
        try:
            yield _record(row, names, layout)
        except ValueError as exc:
            yield BadRecord(number, str(exc))


def _record(row: list[str], names: Mapping[str, int], layout: Layout) -> CallRecord:
    def cell(name: str) -> str:
        i = names.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    start = _time(cell("start"), layout, "start")
    if start is None:
        raise ValueError("no start time")
    disposition = cell("disposition").upper()
    if disposition not in DISPOSITIONS:
        raise ValueError(
            f"disposition {disposition!r} is not one of {', '.join(sorted(DISPOSITIONS))}"
        )
    fields = [start.isoformat(), *(cell(n) for n in sorted(names) if n != "start")]
    return CallRecord(
        key=hashlib.sha256("\x1f".join(fields).encode()).hexdigest(),
        start=start,
        answer=_time(cell("answer"), layout, "answer"),
        end=_time(cell("end"), layout, "end"),
        src=cell("src") or None,
        dst=cell("dst") or None,
        disposition=disposition,
        lastapp=cell("lastapp") or None,
        duration_s=_int(cell("duration"), "duration"),
        billsec_s=_int(cell("billsec"), "billsec"),
    )


def _time(text: str, layout: Layout, name: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.strptime(text, layout.time_format)
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a time as {layout.time_format}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=layout.tz)


def _int(text: str, name: str) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"{name} {text!r} is not a number of seconds")
    return int(text)


@dataclass(frozen=True)
class Levels:
    """What counts as answered, and as lost (the contracts' phone service levels)."""

    operator_apps: frozenset[str] = frozenset({"dial", "queue"})
    message_apps: frozenset[str] = frozenset({"playback", "background"})
    voicemail_apps: frozenset[str] = frozenset({"voicemail"})
    answered_within_s: int = 20
    lost_after_s: int = 90


OUTCOMES = ("answered_in_time", "answered", "answered_late", "unanswered", "busy", "message",
            "voicemail", "other")  # fmt: skip
LOST = frozenset({"answered_late", "unanswered", "busy", "message", "voicemail"})


def outcome(call: CallRecord, levels: Levels) -> str:
    """What a call in service hours was: answered by an operator in time, later, or too late
    (lost); unanswered, busy, answered by a recorded message or by the answering machine
    (lost); `other` when its last application is none of those the levels name."""
    app = (call.lastapp or "").lower()
    if call.disposition in {"BUSY", "CONGESTION"}:
        return "busy"
    if app in levels.voicemail_apps:
        return "voicemail"
    if call.disposition != "ANSWERED" or call.answer is None:
        return "unanswered"
    if app in levels.message_apps:
        return "message"
    if app not in levels.operator_apps:
        return "other"
    wait = (call.answer - call.start).total_seconds()
    if wait <= levels.answered_within_s:
        return "answered_in_time"
    return "answered" if wait <= levels.lost_after_s else "answered_late"
