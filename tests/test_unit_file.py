"""The systemd unit keeps its hardening: `systemd-analyze security` rates it 1.5 or lower."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO

UNIT = REPO / "systemd" / "inbox-daemon.service"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is missing")
def test_the_unit_is_hardened_to_an_exposure_of_at_most_1_5():
    done = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(UNIT)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    found = re.search(r"Overall exposure level for inbox-daemon\.service: (\d+\.\d+)", done.stdout)
    assert found, done.stdout[-2000:] + done.stderr[-2000:]
    assert float(found[1]) <= 1.5


def test_the_watchdog_and_the_stop_bound_are_set():
    text = UNIT.read_text()
    assert re.search(r"^WatchdogSec=\d+s$", text, re.M)
    assert re.search(r"^TimeoutStopSec=40s$", text, re.M)
    assert re.search(r"^LimitNOFILE=\d+$", text, re.M)
