"""The service calendar: when a request counts as received.

A request that arrives outside the service hours, on a public holiday or during a closure
counts as received when the service next opens (``deemed_received_at`` in DESIGN.md).
Deadlines run from that instant, so it must be exact: opening hours are wall-clock times in
the configured timezone and every instant is handled through UTC, which keeps the DST nights
(last Sunday of March and of October in Europe/Rome) correct.

Pure module: no configuration objects and no other part of inbox_daemon.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inbox_daemon import cache_files

if TYPE_CHECKING:
    from holidays import HolidayBase

__all__ = ["CalendarError", "Deemed", "ServiceCalendar"]

#: How far ahead next_opening looks before deciding the calendar never opens.
SEARCH_DAYS = 400
DAYS_REMEMBERED = 4096  # days whose closure and opening instants a calendar keeps

FUORI_ORARIO = "fuori_orario"
FESTIVO = "festivo"
CHIUSURA = "chiusura"

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ITALIAN_DAYS = ("lun", "mar", "mer", "gio", "ven", "sab", "dom")
_DAY_INDEX = {name: i for names in (DAY_NAMES, _ITALIAN_DAYS) for i, name in enumerate(names)}

_HOURS_FORMAT = '"DAYS HH:MM-HH:MM[,HH:MM-HH:MM]", e.g. "mon-fri 08:30-13:00,14:00-17:30"'
_CLOSURE_FORMAT = '"MM-DD/MM-DD", "YYYY-MM-DD/YYYY-MM-DD", "MM-DD" or "YYYY-MM-DD"'
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_MONTH_DAY_RE = re.compile(r"(\d{2})-(\d{2})")
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DAY = timedelta(days=1)


class CalendarError(ValueError):
    """A calendar setting is invalid, or the calendar never opens."""


@dataclass(frozen=True)
class Deemed:
    """When a request counts as received, and why it was moved (None: it was not)."""

    at: datetime  # aware, in the calendar's timezone
    reason: str | None  # None | "fuori_orario" | "festivo" | "chiusura"
    holiday_name: str | None = None  # e.g. "Natale", when reason == "festivo"


# An opening range on one weekday: offsets from local midnight, [start, end).
Span = tuple[timedelta, timedelta]


@dataclass(frozen=True)
class _Closure:
    """An inclusive closure range, recurring every year (dates in year 2000) or dated."""

    start: date
    end: date
    recurring: bool
    text: str

    def covers(self, day: date) -> bool:
        if not self.recurring:
            return self.start <= day <= self.end
        key = (day.month, day.day)
        start, end = (self.start.month, self.start.day), (self.end.month, self.end.day)
        if start <= end:
            return start <= key <= end
        return key >= start or key <= end  # wraps the year end, e.g. 12-24/01-02


class ServiceCalendar:
    """Opening hours, public holidays and closures of one service, in one timezone."""

    def __init__(
        self,
        timezone: str = "Europe/Rome",
        opening_hours: str | Sequence[str] = "mon-fri 08:30-17:30",
        holidays: str | None = "IT",
        closures: Sequence[str] = (),
    ) -> None:
        self.tz = _parse_timezone(timezone)
        self._hours = _parse_opening_hours(opening_hours)
        self._holiday_spec = (holidays or "").strip()
        self._holidays = _load_holidays(self._holiday_spec)
        if isinstance(closures, str):  # a lone string would be split into characters
            closures = [closures]
        self._closures = tuple(_parse_closure(text) for text in closures)
        # What a day is, worked out once: registration asks about the same few days again
        # and again (closed? when does it open?), for every request. Pure functions of the
        # calendar's configuration and the day, the most recent `DAYS_REMEMBERED` kept.
        self._closed_reason = lru_cache(maxsize=DAYS_REMEMBERED)(self._day_closed_reason)
        self._opening_starts = lru_cache(maxsize=DAYS_REMEMBERED)(self._day_opening_starts)

    # -- public API ---------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """Whether the service is open at this instant (any timezone; aware)."""
        local = self._local(at)
        return self._closed_reason(local.date()) is None and self._in_hours(local)

    def next_opening(self, at: datetime) -> datetime:
        """The earliest instant >= ``at`` when the service is open (``at`` itself if open).

        Returned in the calendar's timezone. Raises CalendarError when nothing opens within
        SEARCH_DAYS days, so a calendar closed for good fails loudly instead of looping.
        """
        local = self._local(at)
        if self.is_open(local):
            return local
        instant = local.astimezone(UTC)  # compare in UTC: same-zone comparisons ignore DST folds
        for offset in range(SEARCH_DAYS + 1):
            found = self._first_start_on(local.date() + offset * _DAY, instant)
            if found is not None:
                return found.astimezone(self.tz)
        raise CalendarError(
            f"the calendar never opens: nothing open within {SEARCH_DAYS} days after "
            f"{local.isoformat()}; expected opening_hours, holidays and closures "
            "that leave some opening time"
        )

    def deemed_received(self, received_at: datetime) -> Deemed:
        """When a request received at ``received_at`` counts as received, and why.

        The reason is the one that applied at ``received_at``: closure beats holiday beats
        out-of-hours, so a request on Christmas Day during the Christmas closure is
        "chiusura", and one on a Saturday that is also 25 April is "festivo".
        """
        local = self._local(received_at)
        reason = self._closed_reason(local.date())
        if reason is None and self._in_hours(local):
            return Deemed(local, None)
        holiday = self._holiday_name(local.date()) if reason == FESTIVO else None
        return Deemed(self.next_opening(local), reason or FUORI_ORARIO, holiday)

    def open_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much of [start, end) the service was open: a target in service hours («16 ore
        lavorative») is measured with this, not with the clock."""
        if end <= start:
            return timedelta(0)
        begin, finish = start.astimezone(UTC), end.astimezone(UTC)
        total = timedelta(0)
        day = self._local(start).date()
        while day <= self._local(end).date():
            if self._closed_reason(day) is None:
                for span_start, span_end in self._hours[day.weekday()]:
                    opens = self._instants(datetime.combine(day, time()) + span_start)[0]
                    closes = self._instants(datetime.combine(day, time()) + span_end)[-1]
                    overlap = min(closes, finish) - max(opens, begin)
                    total += max(overlap, timedelta(0))
            day += _DAY
        return total

    def describe(self) -> str:
        """One line for logs and check-config."""
        hours = "; ".join(_describe_hours(self._hours))
        holidays = self._holiday_spec or "none"
        closures = ", ".join(c.text for c in self._closures) or "none"
        return f"{self.tz.key}: open {hours}; holidays {holidays}; closures {closures}"

    def __repr__(self) -> str:
        return f"ServiceCalendar({self.describe()!r})"

    # -- internals ----------------------------------------------------------------------

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"{at.isoformat()} is naive: expected a timezone-aware datetime")
        return at.astimezone(self.tz)

    def _in_hours(self, local: datetime) -> bool:
        wall = local.replace(tzinfo=None)
        since_midnight = wall - datetime.combine(wall.date(), time())
        return any(start <= since_midnight < end for start, end in self._hours[wall.weekday()])

    def _day_closed_reason(self, day: date) -> str | None:
        """Why the whole day is closed: "chiusura" beats "festivo"; None if neither
        (`_closed_reason` remembers it)."""
        if any(closure.covers(day) for closure in self._closures):
            return CHIUSURA
        if self._holiday_name(day) is not None:
            return FESTIVO
        return None

    def _holiday_name(self, day: date) -> str | None:
        return None if self._holidays is None else self._holidays.get(day)

    def _first_start_on(self, day: date, after: datetime) -> datetime | None:
        """The first opening range start on ``day`` at or after the UTC instant ``after``."""
        if self._closed_reason(day) is not None:
            return None
        return next((i for i in self._opening_starts(day) if i >= after), None)

    def _day_opening_starts(self, day: date) -> tuple[datetime, ...]:
        """The UTC instants at which the day's opening ranges start, in order
        (`_opening_starts` remembers them)."""
        return tuple(
            instant
            for start, _end in self._hours[day.weekday()]
            for instant in self._instants(datetime.combine(day, time()) + start)
        )

    def _instants(self, wall: datetime) -> list[datetime]:
        """The UTC instants showing this naive wall-clock time, in order.

        Two in the repeated hour when DST ends; none in the skipped hour when it starts,
        where the range effectively opens at the jump, so that instant is returned.
        """
        found = set()
        for fold in (0, 1):
            instant = wall.replace(tzinfo=self.tz, fold=fold).astimezone(UTC)
            if self._wall(instant) == wall:
                found.add(instant)
        return sorted(found) or [self._first_instant_showing(wall)]

    def _first_instant_showing(self, wall: datetime) -> datetime:
        """The first UTC instant whose wall-clock time is >= ``wall`` (``wall`` in a DST gap)."""
        guesses = [wall.replace(tzinfo=self.tz, fold=fold).astimezone(UTC) for fold in (0, 1)]
        low, high = min(guesses), max(guesses)  # low shows a time before wall, high one after
        while high - low > timedelta(seconds=1):
            middle = low + (high - low) / 2
            low, high = (low, middle) if self._wall(middle) >= wall else (middle, high)
        return high.replace(microsecond=0)

    def _wall(self, instant: datetime) -> datetime:
        return instant.astimezone(self.tz).replace(tzinfo=None)


# -- parsing ------------------------------------------------------------------------------


def _parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise CalendarError(
            f"timezone {name!r} is unknown: expected an IANA name such as 'Europe/Rome'"
        ) from None


def _parse_opening_hours(spec: str | Sequence[str]) -> tuple[tuple[Span, ...], ...]:
    """Opening ranges per weekday (Monday first), each day's ranges sorted."""
    entries = [spec] if isinstance(spec, str) else list(spec)
    if not any(str(entry).strip() for entry in entries):
        raise CalendarError(f"opening_hours is empty: expected {_HOURS_FORMAT}")
    week: list[list[Span]] = [[] for _ in DAY_NAMES]
    for entry in entries:
        days, spans = _parse_hours_entry(str(entry))
        for day in days:
            week[day].extend(spans)
    return tuple(tuple(sorted(spans)) for spans in week)


def _parse_hours_entry(entry: str) -> tuple[list[int], list[Span]]:
    parts = entry.split(None, 1)
    if len(parts) != 2:
        raise CalendarError(f"opening_hours entry {entry!r} is malformed: expected {_HOURS_FORMAT}")
    days = _parse_days(parts[0], entry)
    spans = [_parse_span(piece.strip(), entry) for piece in parts[1].split(",")]
    return days, spans


def _parse_days(text: str, entry: str) -> list[int]:
    """Weekday indexes from "mon-fri", "sat,sun", "lun-ven"...; ranges may wrap ("fri-mon")."""
    days: list[int] = []
    for item in text.lower().split(","):
        first, _, last = item.partition("-")
        start = _day_index(first, entry)
        end = _day_index(last, entry) if last else start
        days.extend((start + i) % 7 for i in range((end - start) % 7 + 1))
    return days


def _day_index(name: str, entry: str) -> int:
    try:
        return _DAY_INDEX[name.strip()]
    except KeyError:
        raise CalendarError(
            f"opening_hours entry {entry!r}: day {name!r} is unknown: expected one of "
            f"{' '.join(DAY_NAMES)} (or {' '.join(_ITALIAN_DAYS)}), a range such as mon-fri, "
            "or a comma list"
        ) from None


def _parse_span(text: str, entry: str) -> Span:
    start_text, sep, end_text = text.partition("-")
    if not sep:
        raise CalendarError(
            f"opening_hours entry {entry!r}: {text!r} is not a time range: expected HH:MM-HH:MM"
        )
    start = _parse_time(start_text.strip(), entry, allow_24=False)
    end = _parse_time(end_text.strip(), entry, allow_24=True)
    if end <= start:
        raise CalendarError(
            f"opening_hours entry {entry!r}: range {text!r} ends before it starts: "
            "expected HH:MM-HH:MM with the end after the start"
        )
    return start, end


def _parse_time(text: str, entry: str, *, allow_24: bool) -> timedelta:
    """HH:MM as an offset from midnight; 24:00 allowed as an end (open until midnight)."""
    match = _TIME_RE.fullmatch(text)
    hour, minute = (int(match[1]), int(match[2])) if match else (-1, -1)
    valid = 0 <= hour <= 23 and 0 <= minute <= 59
    if not valid and not (allow_24 and (hour, minute) == (24, 0)):
        raise CalendarError(
            f"opening_hours entry {entry!r}: time {text!r} is invalid: expected HH:MM "
            "between 00:00 and 23:59 (24:00 allowed as an end)"
        )
    return timedelta(hours=hour, minutes=minute)


def _parse_closure(text: str) -> _Closure:
    """ "MM-DD/MM-DD" recurs every year (may wrap the year end); "YYYY-MM-DD/..." is dated."""
    spec = str(text).strip()
    first, sep, last = (part.strip() for part in spec.partition("/"))
    if not sep:
        last = first
    start, start_recurring = _parse_closure_date(first, spec)
    end, end_recurring = _parse_closure_date(last, spec)
    if start_recurring != end_recurring:
        raise CalendarError(
            f"closure {spec!r} mixes a recurring and a dated bound: expected both MM-DD "
            "or both YYYY-MM-DD"
        )
    if not start_recurring and end < start:
        raise CalendarError(f"closure {spec!r} ends before it starts: expected start <= end")
    shown = f"{first}/{last}" if sep else first
    return _Closure(start, end, start_recurring, shown)


def _parse_closure_date(text: str, spec: str) -> tuple[date, bool]:
    """A date and whether it recurs; recurring ones live in leap year 2000 (so 02-29 is valid)."""
    dated = _DATE_RE.fullmatch(text)
    month_day = _MONTH_DAY_RE.fullmatch(text)
    try:
        if dated:
            return date(int(dated[1]), int(dated[2]), int(dated[3])), False
        if month_day:
            return date(2000, int(month_day[1]), int(month_day[2])), True
    except ValueError:
        raise CalendarError(
            f"closure {spec!r}: {text!r} is not a real date: expected {_CLOSURE_FORMAT}"
        ) from None
    raise CalendarError(f"closure {spec!r}: {text!r} is malformed: expected {_CLOSURE_FORMAT}")


@lru_cache(maxsize=8)
def _load_holidays(spec: str) -> Holidays | None:
    """Holidays for "IT" or "IT/RM" (country/subdivision), named in Italian when available.

    Cached: checking the configuration and running it build the same calendar. Raises
    CalendarError for a country or subdivision the holidays package does not know."""
    if not spec:
        return None
    return Holidays.cached(spec) or Holidays.computed(spec)


class Holidays:
    """A country's holidays by day, as the holidays package names them: a table of the
    years around now, which an earlier start left in a cache file (`cache_files`), and the
    package itself, loaded only for another year. Loading the package's countries costs a
    tenth of a second of CPU at every start (it imports all 279 of them) for a table of a
    few dozen days; the file's name covers the package's version and `spec`."""

    YEARS = (-1, 2)  # the years tabled, from this one: back one, ahead two

    def __init__(
        self,
        spec: str,
        table: dict[date, str],
        years: frozenset[int],
        library: HolidayBase | None = None,
    ) -> None:
        self._spec, self._table, self._years, self._library = spec, table, years, library

    def get(self, day: date) -> str | None:
        if day.year in self._years:
            return self._table.get(day)
        if self._library is None:
            self._library = _library_holidays(self._spec)
        return self._library.get(day)

    @classmethod
    def wanted_years(cls) -> frozenset[int]:
        this = date.today().year
        return frozenset(range(this + cls.YEARS[0], this + cls.YEARS[1] + 1))

    @classmethod
    def cached(cls, spec: str) -> Holidays | None:
        """From the cache file, when it tables the years wanted now."""
        data = cache_files.read(_holidays_file(spec))
        if data is None:
            return None
        try:
            found = json.loads(data)
            years = frozenset(int(year) for year in found["years"])
            table = {date.fromisoformat(day): str(name) for day, name in found["days"].items()}
        except (ValueError, TypeError, KeyError, AttributeError):  # corrupt: loaded again
            return None
        return cls(spec, table, years) if cls.wanted_years() <= years else None

    @classmethod
    def computed(cls, spec: str) -> Holidays:
        """From the holidays package, tabled into the cache file for the next start."""
        library = _library_holidays(spec)
        years = cls.wanted_years()
        for year in sorted(years):  # each year's holidays worked out (`expand`)
            library.get(date(year, 1, 1))
        table = {day: library[day] for day in sorted(library) if day.year in years}
        days = {day.isoformat(): name for day, name in table.items()}
        cache_files.write(
            _holidays_file(spec), json.dumps({"years": sorted(years), "days": days}).encode()
        )
        return cls(spec, table, years, library)


def _holidays_file(spec: str) -> Path:
    """Named by the installed package's version (read from its metadata: importing the
    package costs 20 ms more) and `spec`."""
    try:
        version = metadata.version("holidays")
    except metadata.PackageNotFoundError:  # not installed as a distribution: as imported
        import holidays

        version = holidays.__version__
    key = hashlib.sha256(f"{version}\0{spec}".encode()).hexdigest()[:32]
    return cache_files.cache_folder() / f"holidays-{key}.json"


def _library_holidays(spec: str) -> HolidayBase:
    import holidays as holidays_pkg  # only without the table, or for a year outside it

    country, _, subdiv = (part.strip() for part in spec.partition("/"))
    try:
        probe = holidays_pkg.country_holidays(country.upper())
        supported = getattr(probe, "supported_languages", ())
        language = next((lang for lang in ("it", "it_IT") if lang in supported), None)
        return holidays_pkg.country_holidays(
            country.upper(), subdiv=subdiv.upper() or None, language=language
        )
    except NotImplementedError:
        raise CalendarError(
            f"holidays {spec!r} is not supported: expected an ISO country code known to the "
            "holidays package, optionally with a subdivision (e.g. 'IT' or 'IT/RM'), "
            "or empty to disable"
        ) from None


def _describe_hours(week: tuple[tuple[Span, ...], ...]) -> Iterator[str]:
    """Runs of consecutive weekdays with the same ranges, e.g. "mon-fri 08:30-17:30"."""
    day = 0
    while day < 7:
        last = day
        while last + 1 < 7 and week[last + 1] == week[day]:
            last += 1
        if week[day]:
            days = DAY_NAMES[day] if last == day else f"{DAY_NAMES[day]}-{DAY_NAMES[last]}"
            yield f"{days} {','.join(_format_span(span) for span in week[day])}"
        day = last + 1


def _format_span(span: Span) -> str:
    return "-".join(_format_offset(offset) for offset in span)


def _format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
