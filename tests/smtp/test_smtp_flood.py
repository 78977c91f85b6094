"""A connection flood against the daemon as a process, started with systemd's default
descriptor limit (1,024): the ingress answers 421 beyond its cap instead of running out of
descriptors, the drop folder keeps being read, the log stays small, and mail goes through
once the flood is over (issue 13, point 2)."""

from __future__ import annotations

import resource
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import BASE_CONFIG
from tests.smtp.conftest import free_port
from tests.smtp.test_smtp_bounds import until
from tests.smtp.test_smtp_ingress import RAW
from tests.smtp.test_smtp_kill import tickets

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FLOOD = 1100


def start_daemon(config: Path, log: Path, nofile: int) -> subprocess.Popen[bytes]:
    def limit() -> None:  # in the child, as systemd's LimitNOFILE= would
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    command = [sys.executable, "-m", "inbox_daemon.cli", "--config", str(config), "run"]
    with log.open("ab") as stderr:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, preexec_fn=limit)


def write_config(tmp_path: Path, port: int, extra: str = "") -> Path:
    (tmp_path / "drop").mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        BASE_CONFIG
        + "[acknowledgements]\nenabled = false\n"
        + '[[sources]]\nname = "ingress"\nkind = "smtp"\n'
        + f'listen = "127.0.0.1:{port}"\nrecipients = ["segnalazioni@example.it"]\n{extra}'
        + '[[sources]]\nname = "drop"\nkind = "folder"\npath = "drop"\npoll_interval_s = 0.2\n'
    )
    return config


def try_send(port: int) -> int | None:
    """The reply code to the connection or to DATA; None when the daemon is not listening."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("a@example.org", ["segnalazioni@example.it"], RAW)
            return 250
    except smtplib.SMTPConnectError as exc:
        return exc.smtp_code
    except OSError:
        return None


@contextmanager
def flood(port: int, count: int, wait: bool = True) -> Iterator[None]:
    """`count` connections that never say a word, all open at once; `wait=False` only starts
    them (a server that cannot accept leaves them in the kernel's queue, or retrying)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < count + 200:
        pytest.skip(f"this process may open {hard} descriptors, the flood needs {count + 200}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, count + 200), hard))
    socks = []
    try:
        for _ in range(count):
            if wait:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
                continue
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            socks.append(sock)
        yield
    finally:
        for sock in socks:
            sock.close()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, int]]:
    port = free_port()
    config = write_config(tmp_path, port, "max_connections_per_client = 2000\n")
    log = tmp_path / "daemon.log"
    process = start_daemon(config, log, nofile=1024)
    try:
        assert until(lambda: try_send(port) == 250, 60), log.read_text()[-2000:]
        yield process, log, port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def test_flood_of_idle_connections_gets_421_while_the_rest_keeps_working(daemon, tmp_path):
    process, log, port = daemon
    assert until(lambda: tickets(tmp_path) == 1, 60)  # the first message, sent by the fixture
    before = log.stat().st_size
    with flood(port, FLOOD):
        assert try_send(port) == 421  # new mail during the flood: try again later
        (tmp_path / "drop" / "request.eml").write_bytes(RAW.replace(b"ingress-1", b"drop-1"))
        assert until(lambda: tickets(tmp_path) == 2, 60), "the drop folder stopped being read"
        assert process.poll() is None
        during = log.stat().st_size - before
    assert until(lambda: try_send(port) == 250, 30)  # the flood is over: mail goes through
    assert process.poll() is None
    text = log.read_text()
    assert during < 8_000, text[-3000:]  # kilobytes, not one line per refused connection
    assert "max_connections (200) reached" in text
    assert "out of system resource" not in text


def test_accept_failures_for_want_of_descriptors_are_logged_once_per_interval(tmp_path):
    """A cap above the descriptor limit (a misconfiguration) makes accept() fail with EMFILE
    for as long as the flood lasts: the log says so once, with a count, not per failure."""
    port = free_port()
    config = write_config(
        tmp_path, port, "max_connections = 2000\nmax_connections_per_client = 2000\n"
    )
    log = tmp_path / "daemon.log"
    process = start_daemon(config, log, nofile=256)
    try:
        assert until(lambda: try_send(port) == 250, 60), log.read_text()[-2000:]
        before = log.stat().st_size
        with flood(port, 400, wait=False):
            time.sleep(3)  # let accept() fail for a while (asyncio retries once a second)
        assert until(lambda: try_send(port) == 250, 30)
        text = log.read_bytes()[before:].decode(errors="replace")
        assert text.count("out of system resource") == 1, text[-3000:]
        assert "quarantined" not in text, text[-3000:]  # no descriptor: the machine's fault
        assert len(text) < 8_000
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
