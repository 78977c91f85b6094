"""The SMTP ingress's per-connection shortcuts give the answers of the long way."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import SMTP

from inbox_daemon.header_text import one_line
from inbox_daemon.sources.smtp import IngressHandler, _one_line, _rfc5322_date
from inbox_daemon.sources.smtp_gate import Gate, Limits, Session

LIMITS = Limits(max_connections=10, per_client=5, idle_timeout_s=10, data_timeout_s=10)
TEXTS = [
    "gateway.example.org", "mario.rossi@example.org", "", " padded", "padded ", "two  spaces",
    "tab\there", "cr\rlf\n", "nbsp\u00a0here", "line\u2028separator", "città.example.it",
    "x" * 300, "x" * 255, "ctrl\x00\x1b", "\u3000ideographic",
]  # fmt: skip


@pytest.mark.parametrize("text", TEXTS)
def test_one_line_shortcut_gives_what_one_line_gives(text: str) -> None:
    assert _one_line(text) == one_line(text, limit=255)


def test_received_date_is_format_datetime_of_its_second() -> None:
    for at in (
        datetime(2026, 12, 4, 3, 5, 9, 999_999, UTC),
        datetime(2026, 12, 4, 3, 5, 10, tzinfo=UTC),
    ):
        assert _rfc5322_date(at) == format_datetime(at)


def test_client_admission_is_remembered_and_stays_right() -> None:
    gate = Gate("cc.example.it", LIMITS, ["10.0.0.0/8", "::1/128"])
    for _ in range(2):  # asked again: the remembered answer, the same
        assert gate.client_allowed(("10.1.2.3", 1025))
        assert not gate.client_allowed(("127.0.0.1", 1026))
        assert gate.client_allowed(("::ffff:10.0.0.9", 1027, 0, 0))  # IPv4-mapped
        assert gate.client_allowed(("::1", 1028, 0, 0))
        assert not gate.client_allowed(("not an address", 1))


def test_a_session_lists_every_public_name_aiosmtpd_has() -> None:
    """aiosmtpd finds its commands and AUTH mechanisms by listing a session's names: the
    shorter list (`Session.__dir__`) must keep every one it could look for."""
    loop = asyncio.new_event_loop()
    try:
        gate = Gate("cc.example.it", LIMITS, ["127.0.0.0/8"])
        session = Session(gate, Sink(), hostname="cc.example.it", loop=loop)
        bare = SMTP(Sink(), hostname="cc.example.it", loop=loop)
    finally:
        loop.close()
    public = {name for name in dir(bare) if not name.startswith("_")}
    assert public <= set(dir(session))
    assert {name for name in dir(session) if name.startswith(("smtp_", "auth_"))} == {
        name for name in dir(bare) if name.startswith(("smtp_", "auth_"))
    }
    assert "gate" in dir(session) and "_reader" not in dir(session)


def test_handler_lists_its_hooks_and_its_ehlo_signature_is_the_five_argument_one() -> None:
    handler = IngressHandler.__new__(IngressHandler)
    hooks = {name for name in dir(handler) if name.startswith("handle_")}
    assert hooks == {"handle_HELO", "handle_EHLO", "handle_MAIL", "handle_RCPT", "handle_DATA"}
    bound = inspect.signature(handler.handle_EHLO).parameters
    assert list(bound) == ["server", "session", "envelope", "hostname", "responses"]
