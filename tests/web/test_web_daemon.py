"""The web source in the real daemon process (`inbox-daemon run`): a report sent over HTTP is
registered by the daemon's own main loop, the answer page shows its number, the citizen's
e-mail gets the usual acknowledgement, and SIGTERM stops the daemon cleanly."""

from __future__ import annotations

import re
import signal
import time

import pytest

from tests.conftest import BASE_CONFIG
from tests.smtp.conftest import ack_sink, free_port, make_sink  # noqa: F401 - fixtures
from tests.smtp.test_smtp_kill import counts, start_daemon
from tests.web.client import Client
from tests.web.conftest import REPORT

pytestmark = pytest.mark.integration


def wait_for_port(client: Client, deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if client.get("/").status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the daemon's web form never answered")


def test_the_daemon_serves_the_form_registers_and_acknowledges(tmp_path, ack_sink):  # noqa: F811
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        BASE_CONFIG
        + f'[[sources]]\nname = "web"\nkind = "web"\nlisten = "127.0.0.1:{port}"\n'
        + 'base_url = "https://segnalazioni.example.it"\n'
        + '[acknowledgements]\nenabled = true\nfrom = "segnalazioni@example.it"\n'
        + f'smtp = {{ host = "127.0.0.1", port = {ack_sink.port}, tls = "none" }}\n'
    )
    daemon = start_daemon(config, tmp_path / "daemon.log")
    try:
        client = Client(port)
        wait_for_port(client)
        token = client.get("/").token
        posted = client.post({"token": token, **REPORT})
        assert posted.status == 303, posted.body
        answer = client.get(posted.header("location"))
        deadline = time.monotonic() + 120  # a busy machine: the page says "received", reloads
        while answer.status == 202 and time.monotonic() < deadline:
            answer = client.get(posted.header("location"))
        assert answer.status == 200, answer.body
        number = answer.by_id("ticket-number")
        assert counts(f"sqlite:///{tmp_path}/tickets.db")[0] == 1
        deadline = time.monotonic() + 120
        while not ack_sink.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        [ack] = ack_sink.messages
        assert ack.rcpt_tos == ["maria.bianchi@example.org"]
        assert number in ack.message["Subject"]
        text = ack.message.get_content()
        assert "modulo web" in text
        # the acknowledgement's status link is the answer page's, and it opens
        link = re.search(r"https://segnalazioni\.example\.it(/stato/\S+)", text).group(1)
        assert answer.by_id("status-link").endswith(link)
        assert client.get(link).by_id("ticket-number") == number
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=120) == 0, (tmp_path / "daemon.log").read_text()
