"""`fax_profile` and `fax_patterns` in the configuration: validated, and given to the stage."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from inbox_daemon.config import load_config
from inbox_daemon.errors import ConfigError
from inbox_daemon.read_pages import settings
from parsers.fax import read_call
from tests.conftest import BASE_CONFIG

ROME = ZoneInfo("Europe/Rome")
SOURCE = """
[[sources]]
name = "fax"
kind = "folder"
path = "drop"
channel = "fax"
fax_profile = "generic"

[sources.fax_patterns]
number = ['FAX DA (?P<value>\\d+)']
received = ['Ricevuto: (?P<value>.+)']
time_formats = ["%d.%m.%Y %H.%M"]
"""


def load(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(BASE_CONFIG + text, encoding="utf-8")
    return load_config(path)


def test_the_sources_own_regexes_reach_the_stage(tmp_path):
    config = load(tmp_path, SOURCE)
    profile = settings(config.sources, ROME).profiles["fax"]
    call = read_call(profile, "FAX DA 0498765432", "Ricevuto: 03.12.2026 07.30", ROME)
    assert call.number == "0498765432"
    assert call.received_at == datetime(2026, 12, 3, 7, 30, tzinfo=ROME)


def test_each_source_gets_its_profile(tmp_path):
    text = SOURCE + SOURCE.replace('"fax"', '"h"', 1).replace('"generic"', '"hylafax"')
    profiles = settings(load(tmp_path, text).sources, ROME).profiles
    assert (profiles["fax"].name, profiles["h"].name) == ("generic", "hylafax")


@pytest.mark.parametrize(
    ("regex", "why"),
    [("FAX DA (\\\\d+)", "no group named 'value'"), ("FAX (?P<value>", "bad regex")],
)
def test_a_bad_regex_is_refused_by_its_key(tmp_path, regex, why):
    text = SOURCE.replace("'FAX DA (?P<value>\\d+)'", f"'{regex}'")
    assert text != SOURCE
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text)
    problem = "\\n".join(raised.value.problems)
    assert "sources[0].fax_patterns.number" in problem and why in problem
