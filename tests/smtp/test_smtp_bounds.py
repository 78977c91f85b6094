"""The ingress is bounded: connection caps, idle and data timeouts, 421 while it stops, a
greeting that names the service. Real smtplib clients and raw sockets on loopback."""

from __future__ import annotations

import smtplib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.smtp.test_smtp_ingress import RAW, stored

pytestmark = pytest.mark.integration


@contextmanager
def held(port: int, count: int, source: str = "127.0.0.1") -> Iterator[list[bytes]]:
    """`count` raw connections from `source`, each past its greeting line; yields the lines."""
    socks, greetings = [], []
    try:
        for _ in range(count):
            sock = socket.create_connection(
                ("127.0.0.1", port), timeout=10, source_address=(source, 0)
            )
            socks.append(sock)
            greetings.append(sock.recv(512))
        yield greetings
    finally:
        for sock in socks:
            sock.close()


def greeting(port: int, source: str = "127.0.0.1") -> bytes:
    with held(port, 1, source) as lines:
        return lines[0]


def send(port: int, raw: bytes = RAW, source: str = "127.0.0.1") -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10, source_address=(source, 0)) as client:
        client.ehlo()
        client.mail("mario.rossi@example.org")
        client.rcpt("segnalazioni@example.it")
        return client.data(raw)


def until(check, seconds: float = 10.0):
    """Poll `check` until it is truthy (the server handles a close asynchronously)."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_greeting_names_the_service_not_the_library(smtp_ingress):
    run = smtp_ingress()
    line = greeting(run.port)
    assert line.startswith(b"220 cc.example.it ESMTP inbox-daemon")
    assert b"Python" not in line and b"aiosmtpd" not in line


def test_beyond_max_connections_421_and_mail_goes_through_after(smtp_ingress):
    run = smtp_ingress("max_connections = 3\n")
    with held(run.port, 3) as greetings:
        assert all(line.startswith(b"220 ") for line in greetings)
        refused = greeting(run.port)
        assert refused.startswith(b"421 4.7.0 cc.example.it Too many connections")
        with pytest.raises(smtplib.SMTPConnectError) as caught:
            send(run.port)
        assert caught.value.smtp_code == 421
    assert stored(run.spool) == []
    code, _ = until(lambda: _try_send(run.port))
    assert code == 250
    assert len(stored(run.spool)) == 1


def _try_send(port: int) -> tuple[int, bytes] | None:
    try:
        return send(port)
    except smtplib.SMTPConnectError:  # the held connections are still being closed
        return None


def test_per_client_cap_refuses_that_address_only(smtp_ingress):
    run = smtp_ingress("max_connections = 10\nmax_connections_per_client = 2\n")
    with held(run.port, 2, "127.0.0.1"):
        refused = greeting(run.port, "127.0.0.1")
        assert refused.startswith(b"421 4.7.0 cc.example.it Too many connections from your")
        code, _ = send(run.port, source="127.0.0.2")  # another client address still gets in
        assert code == 250
    assert len(stored(run.spool)) == 1


def test_idle_session_is_closed_after_idle_timeout(smtp_ingress):
    run = smtp_ingress("idle_timeout_s = 0.5\n")
    with socket.create_connection(("127.0.0.1", run.port), timeout=20) as sock:
        assert sock.recv(512).startswith(b"220 ")
        sock.sendall(b"EHLO client.example.org\r\n")
        _reply(sock)
        # closed by the server (our 20 s socket timeout would raise instead)
        assert _read_to_eof(sock).startswith(b"421 4.4.2 cc.example.it Timeout exceeded")


def test_stalled_data_is_closed_after_data_timeout_and_nothing_is_stored(smtp_ingress):
    run = smtp_ingress("idle_timeout_s = 30\ndata_timeout_s = 0.5\n")
    with socket.create_connection(("127.0.0.1", run.port), timeout=20) as sock:
        for line in (b"", b"EHLO c\r\n", b"MAIL FROM:<a@example.org>\r\n",
                     b"RCPT TO:<segnalazioni@example.it>\r\n", b"DATA\r\n"):  # fmt: skip
            sock.sendall(line)
            _reply(sock)
        sock.sendall(b"Subject: half a message\r\n")
        assert _read_to_eof(sock).startswith(b"421 4.4.2")
    assert stored(run.spool) == []


def test_a_slow_but_moving_data_transfer_outlives_the_idle_timeout(smtp_ingress):
    run = smtp_ingress("idle_timeout_s = 0.5\ndata_timeout_s = 30\n")
    with smtplib.SMTP("127.0.0.1", run.port, timeout=20) as client:
        client.ehlo()
        client.mail("mario.rossi@example.org")
        client.rcpt("segnalazioni@example.it")
        client.putcmd("DATA")
        assert client.getreply()[0] == 354
        for part in RAW.split(b"\r\n\r\n", 1):
            client.send(part + b"\r\n\r\n")
            time.sleep(1.0)  # twice the idle timeout, well within the data timeout
        client.send(b".\r\n")
        assert client.getreply()[0] == 250
    assert len(stored(run.spool)) == 1


def test_stop_refuses_new_sessions_with_421_and_finishes_the_one_under_way(smtp_ingress):
    run = smtp_ingress()
    client = smtplib.SMTP("127.0.0.1", run.port, timeout=20)
    client.ehlo()
    client.mail("mario.rossi@example.org")
    client.rcpt("segnalazioni@example.it")  # a transaction under way: stop waits for it
    stopper = threading.Thread(target=run.ingress.stop)
    stopper.start()
    assert until(lambda: run.ingress.gate.stopping)
    assert greeting(run.port).startswith(b"421 4.3.2 cc.example.it Service shutting down")
    code, _ = client.data(RAW)
    assert code == 250
    client.close()
    stopper.join(timeout=30)
    assert not stopper.is_alive()
    assert len(stored(run.spool)) == 1
    with pytest.raises(OSError):  # stopped: nothing listens any more
        greeting(run.port)


def test_stop_answers_421_to_a_new_transaction_in_an_open_session(smtp_ingress):
    run = smtp_ingress()
    with smtplib.SMTP("127.0.0.1", run.port, timeout=20) as client:
        client.ehlo()
        run.ingress.gate.stopping = True  # what stop() sets first (the loop reads it next)
        code, reply = client.mail("mario.rossi@example.org")
        assert code == 421 and b"shutting down" in reply


def _read_to_eof(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def _reply(sock: socket.socket) -> bytes:
    """One whole reply, multi-line ones included (the last line has a space after the code)."""
    data = b""
    while not any(line[3:4] == b" " for line in data.split(b"\r\n")):
        data += sock.recv(4096)
    return data
