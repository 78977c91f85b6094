"""The service calendar: deemed reception time across hours, holidays, closures and DST.

Expected times are ISO strings with the Rome offset written by hand (+01:00 in winter, +02:00
in summer; weekdays checked against a real calendar), so each case fails if the calendar drifts
by a day, an hour or an offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from inbox_daemon.calendar import CalendarError, ServiceCalendar

ROME = ZoneInfo("Europe/Rome")
SPLIT_WEEK = ["mon-fri 08:30-13:00,14:00-17:30", "sat 09:00-12:00"]
CLOSURES = ["12-24/01-02", "2027-08-09/2027-08-22"]


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


@pytest.fixture(scope="module")
def default() -> ServiceCalendar:
    return ServiceCalendar("Europe/Rome", "mon-fri 08:30-17:30", "IT", CLOSURES)


def check(cal: ServiceCalendar, received: str, expected: str, reason: str | None) -> None:
    deemed = cal.deemed_received(at(received))
    assert (deemed.at.isoformat(), deemed.reason) == (expected, reason)
    assert deemed.at.tzinfo == ROME  # the deemed time keeps the calendar's timezone


# received, deemed, reason (weekdays noted by hand)
DEFAULT_CASES = [
    # Fri 15 May 2026 after closing -> Mon 18 May.
    ("2026-05-15T17:45:00+02:00", "2026-05-18T08:30:00+02:00", "fuori_orario"),
    ("2026-05-16T11:00:00+02:00", "2026-05-18T08:30:00+02:00", "fuori_orario"),  # Saturday
    ("2026-05-17T23:59:59+02:00", "2026-05-18T08:30:00+02:00", "fuori_orario"),  # Sunday
    ("2026-05-18T08:30:00+02:00", "2026-05-18T08:30:00+02:00", None),  # exactly opening: in
    ("2026-05-18T08:29:59+02:00", "2026-05-18T08:30:00+02:00", "fuori_orario"),
    ("2026-05-18T17:29:59+02:00", "2026-05-18T17:29:59+02:00", None),
    ("2026-05-18T17:30:00+02:00", "2026-05-19T08:30:00+02:00", "fuori_orario"),  # exactly closing
    ("2026-05-18T06:00:00+02:00", "2026-05-18T08:30:00+02:00", "fuori_orario"),  # same day
    # Easter Monday 2026 is 6 April -> Tuesday 7 April.
    ("2026-04-06T10:00:00+02:00", "2026-04-07T08:30:00+02:00", "festivo"),
    # Sunday evening before Easter Monday skips the holiday too.
    ("2026-04-05T20:00:00+02:00", "2026-04-07T08:30:00+02:00", "festivo"),  # Easter Sunday
    # 25 April 2026 is a Saturday: out of hours AND a holiday -> festivo; Monday 27 opens.
    ("2026-04-25T10:00:00+02:00", "2026-04-27T08:30:00+02:00", "festivo"),
    ("2026-06-02T09:00:00+02:00", "2026-06-03T08:30:00+02:00", "festivo"),  # Tue 2 June
    # Ferragosto 2025 is a Friday: Thursday evening skips it and the weekend.
    ("2025-08-14T18:00:00+02:00", "2025-08-18T08:30:00+02:00", "fuori_orario"),
    ("2025-08-15T09:00:00+02:00", "2025-08-18T08:30:00+02:00", "festivo"),
    # Christmas closure 12-24/01-02: Thu 24 Dec 2026 .. Sat 2 Jan 2027, Sun 3 -> Mon 4 Jan
    # (Epiphany, Wed 6 Jan, comes after the reopening); winter time.
    ("2026-12-24T10:00:00+01:00", "2027-01-04T08:30:00+01:00", "chiusura"),
    ("2026-12-25T10:00:00+01:00", "2027-01-04T08:30:00+01:00", "chiusura"),  # beats Natale
    ("2026-12-23T17:30:00+01:00", "2027-01-04T08:30:00+01:00", "fuori_orario"),
    ("2027-01-02T23:00:00+01:00", "2027-01-04T08:30:00+01:00", "chiusura"),
    ("2027-01-06T10:00:00+01:00", "2027-01-07T08:30:00+01:00", "festivo"),  # Epifania
    # Dated summer closure Mon 9 .. Sun 22 Aug 2027 -> Mon 23 Aug.
    ("2027-08-09T08:30:00+02:00", "2027-08-23T08:30:00+02:00", "chiusura"),
    ("2027-08-22T12:00:00+02:00", "2027-08-23T08:30:00+02:00", "chiusura"),
    ("2027-08-06T17:30:00+02:00", "2027-08-23T08:30:00+02:00", "fuori_orario"),  # Friday
    # The dated closure does not recur: Wed 9 Aug 2028 is an ordinary working day.
    ("2028-08-09T10:00:00+02:00", "2028-08-09T10:00:00+02:00", None),
    # UTC on the night DST starts (Sun 29 Mar 2026 at 01:00Z): Monday opens at +02:00.
    ("2026-03-29T00:30:00+00:00", "2026-03-30T08:30:00+02:00", "fuori_orario"),
    # Sat 24 Oct 2026 20:00Z = 22:00 +02:00; DST ends Sunday; Monday 26 opens at +01:00.
    ("2026-10-24T20:00:00Z", "2026-10-26T08:30:00+01:00", "fuori_orario"),
    # Fri 23 Oct 2026 after closing, still summer time -> Monday at +01:00.
    ("2026-10-23T16:00:00Z", "2026-10-26T08:30:00+01:00", "fuori_orario"),
    # During hours the instant is kept, shown in Rome time.
    ("2026-10-23T07:00:00Z", "2026-10-23T09:00:00+02:00", None),
    ("2026-10-26T07:30:00Z", "2026-10-26T08:30:00+01:00", None),
    ("2026-10-26T07:29:59Z", "2026-10-26T08:30:00+01:00", "fuori_orario"),
    # Other input zones are converted first: 08:00 in New York = 14:00 in Rome.
    ("2026-05-18T08:00:00-04:00", "2026-05-18T14:00:00+02:00", None),
    ("2026-05-18T12:00:00-04:00", "2026-05-19T08:30:00+02:00", "fuori_orario"),
]


@pytest.mark.parametrize(("received", "expected", "reason"), DEFAULT_CASES)
def test_deemed_received(
    default: ServiceCalendar, received: str, expected: str, reason: str | None
) -> None:
    check(default, received, expected, reason)


@pytest.mark.parametrize(
    ("received", "expected", "reason"),
    [
        ("2026-05-18T12:59:59+02:00", "2026-05-18T12:59:59+02:00", None),
        ("2026-05-18T13:00:00+02:00", "2026-05-18T14:00:00+02:00", "fuori_orario"),
        ("2026-05-18T13:30:00+02:00", "2026-05-18T14:00:00+02:00", "fuori_orario"),  # lunch
        ("2026-05-18T14:00:00+02:00", "2026-05-18T14:00:00+02:00", None),
        ("2026-05-15T17:45:00+02:00", "2026-05-16T09:00:00+02:00", "fuori_orario"),  # Fri->Sat
        ("2026-05-16T10:00:00+02:00", "2026-05-16T10:00:00+02:00", None),  # Saturday open
        ("2026-05-16T12:00:00+02:00", "2026-05-18T08:30:00+02:00", "fuori_orario"),
    ],
)
def test_split_hours_and_saturday(received: str, expected: str, reason: str) -> None:
    check(ServiceCalendar("Europe/Rome", SPLIT_WEEK), received, expected, reason)


def test_holiday_names_are_italian(default: ServiceCalendar) -> None:
    easter = default.deemed_received(at("2026-04-06T10:00:00+02:00"))
    assert easter.holiday_name == "Lunedì dell'Angelo"
    christmas = ServiceCalendar().deemed_received(at("2026-12-25T10:00:00+01:00"))
    assert (christmas.reason, christmas.holiday_name) == ("festivo", "Natale")
    closed = default.deemed_received(at("2026-12-25T10:00:00+01:00"))
    assert (closed.reason, closed.holiday_name) == ("chiusura", None)
    weekend = default.deemed_received(at("2026-05-16T10:00:00+02:00"))
    assert (weekend.reason, weekend.holiday_name) == ("fuori_orario", None)


def test_closure_ending_right_before_epiphany() -> None:
    """Closed 24 Dec .. Tue 5 Jan; Wed 6 Jan 2027 is Epiphany, so Thu 7 Jan opens."""
    cal = ServiceCalendar(closures=["12-24/01-05"])
    check(cal, "2026-12-24T09:00:00+01:00", "2027-01-07T08:30:00+01:00", "chiusura")
    no_holidays = ServiceCalendar(holidays=None, closures=["12-24/01-05"])
    check(no_holidays, "2026-12-24T09:00:00+01:00", "2027-01-06T08:30:00+01:00", "chiusura")


@pytest.mark.parametrize("holidays", [None, ""])
def test_holidays_disabled(holidays: str | None) -> None:
    cal = ServiceCalendar(holidays=holidays)
    check(cal, "2026-04-06T10:00:00+02:00", "2026-04-06T10:00:00+02:00", None)


def test_subdivision_holiday() -> None:
    """Rome's patron saints, 29 June (a Monday in 2026), only with the IT/RM subdivision."""
    roma = ServiceCalendar(holidays="IT/RM")
    check(roma, "2026-06-29T10:00:00+02:00", "2026-06-30T08:30:00+02:00", "festivo")
    assert roma.deemed_received(at("2026-06-29T10:00:00+02:00")).holiday_name == (
        "Santi Pietro e Paolo"
    )
    assert ServiceCalendar(holidays="IT").is_open(at("2026-06-29T10:00:00+02:00"))


@pytest.mark.parametrize(
    ("hours", "when", "is_open"),
    [
        ("lun-ven 08:30-17:30", "2026-05-15T09:00:00+02:00", True),  # Italian names, Friday
        ("lun-ven 08:30-17:30", "2026-05-16T09:00:00+02:00", False),
        ("mon,wed,fri 09:00-12:00", "2026-05-19T10:00:00+02:00", False),  # Tuesday
        ("mon,wed,fri 09:00-12:00", "2026-05-20T10:00:00+02:00", True),
        ("fri-mon 09:00-12:00", "2026-05-17T10:00:00+02:00", True),  # wraps over the weekend
        ("fri-mon 09:00-12:00", "2026-05-19T10:00:00+02:00", False),
        ("MON-FRI 08:30-17:30", "2026-05-18T09:00:00+02:00", True),
        ("mon-fri 08:30-13:00, 14:00-17:30", "2026-05-18T14:30:00+02:00", True),
        ("sat 20:00-24:00", "2026-05-16T23:59:59+02:00", True),
        ("sat 20:00-24:00", "2026-05-17T00:00:00+02:00", False),
    ],
)
def test_opening_hours_syntax(hours: str, when: str, is_open: bool) -> None:
    assert ServiceCalendar("Europe/Rome", hours, holidays=None).is_open(at(when)) is is_open


@pytest.mark.parametrize(
    ("closure", "closed", "open_"),
    [
        ("08-10", "2026-08-10T10:00:00+02:00", "2026-08-11T10:00:00+02:00"),
        ("08-10", "2027-08-10T10:00:00+02:00", "2027-08-11T10:00:00+02:00"),  # recurs
        ("2026-08-10", "2026-08-10T10:00:00+02:00", "2027-08-10T10:00:00+02:00"),
        ("07-27/08-07", "2027-08-06T10:00:00+02:00", "2027-08-09T10:00:00+02:00"),
        (" 12-31 / 01-01 ", "2026-12-31T10:00:00+01:00", "2027-01-04T10:00:00+01:00"),
        ("02-29", "2028-02-29T10:00:00+01:00", "2028-03-01T10:00:00+01:00"),  # leap day
    ],
)
def test_closure_syntax(closure: str, closed: str, open_: str) -> None:
    cal = ServiceCalendar(holidays=None, closures=[closure])
    assert not cal.is_open(at(closed))
    assert cal.is_open(at(open_))


def test_next_opening_in_dst_gap() -> None:
    """A range starting at 02:30 on the night the clock jumps 02:00 -> 03:00 opens at 03:00."""
    cal = ServiceCalendar("Europe/Rome", "sun 02:30-04:00", holidays=None)
    opening = cal.next_opening(at("2026-03-29T00:00:00Z"))
    assert opening.isoformat() == "2026-03-29T03:00:00+02:00"
    assert cal.is_open(opening)
    assert not cal.is_open(opening.astimezone(UTC) - timedelta(seconds=1))  # 01:59:59 +01:00


def test_next_opening_in_repeated_hour() -> None:
    """When 02:00-03:00 happens twice (25 Oct 2026) the second pass reopens the range."""
    cal = ServiceCalendar("Europe/Rome", "sun 02:00-02:30", holidays=None)
    after_first_pass = at("2026-10-25T00:45:00Z")  # 02:45 +02:00
    assert not cal.is_open(after_first_pass)
    assert cal.next_opening(after_first_pass).isoformat() == "2026-10-25T02:00:00+01:00"


def test_other_timezone_and_country() -> None:
    cal = ServiceCalendar("America/New_York", "mon-fri 09:00-17:00", holidays="US")
    deemed = cal.deemed_received(at("2026-07-03T14:00:00Z"))  # Independence Day (observed)
    assert (deemed.at.isoformat(), deemed.reason) == ("2026-07-06T09:00:00-04:00", "festivo")


def test_next_opening_keeps_an_open_instant(default: ServiceCalendar) -> None:
    when = at("2026-05-18T08:00:00Z")
    assert default.next_opening(when) == when
    assert default.next_opening(when).isoformat() == "2026-05-18T10:00:00+02:00"


def test_long_closure_within_search_window() -> None:
    cal = ServiceCalendar(closures=["2026-01-01/2026-12-31"])
    # 1-2 Jan 2027 Fri/Sat (1 Jan is a holiday anyway), Sun 3 -> Mon 4 Jan.
    assert cal.next_opening(at("2026-01-01T00:00:00+01:00")).isoformat() == (
        "2027-01-04T08:30:00+01:00"
    )


@pytest.mark.parametrize("closures", [["2026-01-01/2028-12-31"], ["01-01/12-31"]])
def test_calendar_that_never_opens(closures: list[str]) -> None:
    cal = ServiceCalendar(closures=closures)
    with pytest.raises(CalendarError, match="never opens"):
        cal.deemed_received(at("2026-05-18T10:00:00+02:00"))


@pytest.mark.parametrize("method", ["is_open", "next_opening", "deemed_received"])
def test_naive_datetime_rejected(default: ServiceCalendar, method: str) -> None:
    with pytest.raises(ValueError, match="naive"):
        getattr(default, method)(datetime(2026, 5, 18, 10, 0))


@pytest.mark.parametrize(
    ("kwargs", "bad_piece"),
    [
        ({"timezone": "Europe/Nowhere"}, "'Europe/Nowhere'"),
        ({"opening_hours": "mox-fri 08:30-17:30"}, "'mox'"),
        ({"opening_hours": "mon-fry 08:30-17:30"}, "'fry'"),
        ({"opening_hours": "mon-fri 17:30-08:30"}, "'17:30-08:30'"),
        ({"opening_hours": "mon-fri 08:30-08:30"}, "'08:30-08:30'"),
        ({"opening_hours": "mon-fri 25:00-26:00"}, "'25:00'"),
        ({"opening_hours": "mon-fri 08:61-17:30"}, "'08:61'"),
        ({"opening_hours": "mon-fri 24:00-24:00"}, "'24:00'"),
        ({"opening_hours": "mon-fri 8.30-17.30"}, "'8.30'"),
        ({"opening_hours": ["sat 09:00-12:00", "mon-fri 08:30-13:00,14:00-1730"]}, "'1730'"),
        ({"opening_hours": "mon-fri"}, "'mon-fri'"),
        ({"opening_hours": []}, "empty"),
        ({"holidays": "XX"}, "'XX'"),
        ({"holidays": "IT/ZZ"}, "'IT/ZZ'"),
        ({"closures": ["02-30"]}, "'02-30'"),
        ({"closures": ["2027-02-29/2027-03-01"]}, "'2027-02-29'"),
        ({"closures": ["13-01/13-05"]}, "'13-01'"),
        ({"closures": ["12-24/2027-01-02"]}, "'12-24/2027-01-02'"),
        ({"closures": ["2027-08-22/2027-08-09"]}, "'2027-08-22/2027-08-09'"),
        ({"closures": ["christmas"]}, "'christmas'"),
        ({"closures": ["12/24-01/02"]}, "'12'"),
    ],
)
def test_invalid_specs(kwargs: dict[str, object], bad_piece: str) -> None:
    with pytest.raises(CalendarError) as excinfo:
        ServiceCalendar(**kwargs)  # type: ignore[arg-type]
    assert bad_piece in str(excinfo.value)
    assert "expected" in str(excinfo.value)


def test_calendar_error_is_a_value_error() -> None:
    assert issubclass(CalendarError, ValueError)


def test_describe() -> None:
    cal = ServiceCalendar("Europe/Rome", SPLIT_WEEK, "IT", CLOSURES)
    assert cal.describe() == (
        "Europe/Rome: open mon-fri 08:30-13:00,14:00-17:30; sat 09:00-12:00; holidays IT; "
        "closures 12-24/01-02, 2027-08-09/2027-08-22"
    )
    assert ServiceCalendar(holidays=None).describe() == (
        "Europe/Rome: open mon-fri 08:30-17:30; holidays none; closures none"
    )


def test_utc_input_is_accepted_as_timezone_utc() -> None:
    assert ServiceCalendar().is_open(datetime(2026, 5, 18, 7, 0, tzinfo=UTC))


def test_open_time_between_counts_only_opening_hours_and_skips_holidays():
    cal = ServiceCalendar("Europe/Rome", "mon-fri 08:30-17:30", "IT", [])
    friday_16 = datetime(2026, 11, 27, 16, 0, tzinfo=ROME)
    monday_10 = datetime(2026, 11, 30, 10, 0, tzinfo=ROME)
    assert cal.open_time_between(friday_16, monday_10) == timedelta(hours=3)  # 1.5 + 1.5
    christmas_eve = datetime(2026, 12, 24, 9, 0, tzinfo=ROME)  # then 25, 26, a Sunday
    assert cal.open_time_between(christmas_eve, datetime(2026, 12, 28, 9, 0, tzinfo=ROME)) == (
        timedelta(hours=8, minutes=30) + timedelta(minutes=30)
    )
    assert cal.open_time_between(monday_10, friday_16) == timedelta(0)
