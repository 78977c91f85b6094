"""A test run killed mid-way (SIGKILL: no fixture's stop runs) leaves no test server behind:
each is started with a parent-death signal, so it stops when the process that started it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from integration.dovecot import NotInstalled, program

TESTS = Path(__file__).resolve().parents[1]
STARTER = """
import time
from integration.dovecot import running_dovecot
with running_dovecot() as server:
    print(server.process.pid, server.port, flush=True)
    time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited, and waits for PID 1 to reap it


def test_a_dovecot_stops_when_its_test_process_is_killed():
    try:
        program("dovecot")
    except NotInstalled as exc:
        pytest.skip(str(exc))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        pid, _port = map(int, starter.stdout.readline().split())
        assert alive(pid)
        starter.send_signal(signal.SIGKILL)
        starter.wait()
        deadline = time.monotonic() + 20  # Dovecot's master stops its children, then exits
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid), "the Dovecot of a killed test process is still running"
    finally:
        if starter.poll() is None:
            starter.kill()
