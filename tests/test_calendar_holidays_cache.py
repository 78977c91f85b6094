"""A country's holidays tabled in a cache file (`calendar.Holidays`): the same names as the
holidays package gives, every day, without loading its countries at each start."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from inbox_daemon import calendar
from inbox_daemon.calendar import CalendarError, Holidays


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("spec", ["IT", "IT/RM"])
def test_the_table_names_every_day_as_the_package_does(spec: str) -> None:
    computed = Holidays.computed(spec)  # the package, tabled and written
    cached = Holidays.cached(spec)
    assert cached is not None and cached._library is None
    library = calendar._library_holidays(spec)
    this = date.today().year
    day = date(this - 3, 1, 1)
    while day < date(this + 5, 1, 1):
        assert cached.get(day) == computed.get(day) == library.get(day), day
        day += timedelta(days=1)
    assert cached._library is not None  # a year outside the table asked the package


def test_a_wanted_year_is_read_from_the_table_alone() -> None:
    Holidays.computed("IT")
    cached = Holidays.cached("IT")
    assert cached is not None
    assert cached.get(date(date.today().year, 12, 25)) is not None
    assert cached._library is None


def test_a_corrupt_or_foreign_file_is_not_read(cache: Path) -> None:
    Holidays.computed("IT")
    [path] = cache.glob("holidays-*.json")
    path.write_text("{not json")
    assert Holidays.cached("IT") is None
    Holidays.computed("IT")
    path.chmod(0o666)  # anyone may write it: never trusted
    assert Holidays.cached("IT") is None


def test_a_table_without_the_years_wanted_now_is_worked_out_again(cache: Path) -> None:
    Holidays.computed("IT")
    [path] = cache.glob("holidays-*.json")
    path.write_text('{"years": [2001], "days": {"2001-12-25": "Natale"}}')
    assert Holidays.cached("IT") is None


def test_an_unknown_country_is_refused_and_never_tabled(cache: Path) -> None:
    with pytest.raises(CalendarError):
        Holidays.computed("XX")
    assert not list(cache.glob("holidays-*.json"))
