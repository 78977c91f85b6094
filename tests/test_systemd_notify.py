"""The daemon as a process tells a real AF_UNIX datagram socket what systemd would hear:
READY=1, then watchdog pings with a status line while it works, STOPPING=1 at SIGTERM."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from inbox_daemon import systemd_notify
from tests.conftest import BASE_CONFIG, DEMO_MESSAGES


def test_ready_watchdog_status_and_stopping_reach_the_notify_socket(tmp_path: Path):
    drop = tmp_path / "drop"
    drop.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(BASE_CONFIG + '[[sources]]\nname = "drop"\nkind = "folder"\npath = "drop"\n'
                      "poll_interval_s = 0.5\n[processing]\nworkers = 0\n")  # fmt: skip
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(1.0)
    env = {**os.environ, "NOTIFY_SOCKET": address}
    command = [sys.executable, "-m", "inbox_daemon.cli", "--config", str(config), "-q", "run"]
    daemon = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    heard: list[str] = []
    try:
        deadline = time.monotonic() + 60
        dropped = False
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                heard.append(listener.recv(4096).decode())
            if "READY=1" in heard and not dropped:
                shutil.copy(sorted(DEMO_MESSAGES.glob("*.eml"))[0], drop / "a.eml")
                dropped = True
            if any("ticket(s) since start" in h for h in heard):
                break
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
        while True:
            try:
                heard.append(listener.recv(4096).decode())
            except (TimeoutError, OSError):
                break
    finally:
        if daemon.poll() is None:
            daemon.kill()
        listener.close()
    lines = [line for datagram in heard for line in datagram.split("\n")]
    assert lines[0] == "READY=1"
    assert lines.count("WATCHDOG=1") >= 2
    assert "STATUS=waiting for mail" in lines
    assert any(
        line.startswith("STATUS=waiting for mail; 1 ticket(s) since start") for line in lines
    )
    assert "STOPPING=1" in lines and lines.index("STOPPING=1") > lines.index("READY=1")


def test_a_notify_socket_nobody_reads_or_that_is_gone_never_blocks_the_daemon(
    tmp_path: Path, monkeypatch
):
    """A real AF_UNIX datagram socket that is never read fills its queue after a few
    notifications; the next ones are dropped, not waited for, and a socket that is gone does
    not raise: the main loop sends these."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        sender = threading.Thread(
            target=lambda: [systemd_notify.notify(f"STATUS={i}") for i in range(500)],
            daemon=True,
        )
        sender.start()
        sender.join(timeout=20)
        assert not sender.is_alive(), "notify() blocked on a full socket"
        assert listener.recv(64) == b"STATUS=0"  # the first ones did arrive
    path.unlink()
    systemd_notify.notify("WATCHDOG=1")  # gone: dropped, no exception
