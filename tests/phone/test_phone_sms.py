"""A voicemail's request number by SMS, through an e-mail-to-SMS gateway: the outbox sends it
to a real SMTP server (aiosmtpd) standing in for the gateway; landlines, withheld numbers
and operators' calls get none; the flood limit per recipient holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from inbox_daemon import outbox
from inbox_daemon.config import load_config
from inbox_daemon.context import build_context
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Outbox
from parsers.phone.callers import italian_mobile
from tests.conftest import BASE_CONFIG
from tests.phone.cli import ingest, run
from tests.phone.recordings import voicemail_mail
from tests.smtp.conftest import AckSink, free_port

ROME = ZoneInfo("Europe/Rome")
SATURDAY_NIGHT = datetime(2026, 11, 28, 23, 5, tzinfo=ROME)


@pytest.fixture
def gateway() -> Iterator[AckSink]:
    sink = AckSink(free_port())
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def site(tmp_path: Path, gateway: AckSink) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        BASE_CONFIG + '[voicemail]\nsms_gateway = "{number}@sms.example.it"\n'
        '[acknowledgements]\nenabled = true\nfrom = "segnalazioni@example.it"\n'
        f'smtp = {{ host = "127.0.0.1", port = {gateway.port}, tls = "none" }}\n'
        "max_per_sender_per_hour = 2\n",
        encoding="utf-8",
    )
    return path


def jobs(config: Path) -> list[Outbox]:
    ctx = build_context(load_config(config))
    with transaction(ctx.engine) as session:
        return list(session.exec(select(Outbox).order_by(Outbox.id)))


def test_a_mobile_caller_gets_the_number_by_sms(site, gateway, capsys, tmp_path, gsm_wav):
    raw = voicemail_mail(SATURDAY_NIGHT, gsm_wav, cidnum="+39 333 1234567")
    result = ingest(site, capsys, tmp_path, raw)
    assert outbox.deliver_due(build_context(load_config(site))) == 1
    [sms] = gateway.messages
    assert sms.rcpt_tos == ["393331234567@sms.example.it"]
    text = sms.message.get_content()
    assert result["ticket"] in text and "30/11/2026 alle 08:30" in text  # deemed: Monday
    assert len(text.strip()) <= 160


@pytest.mark.parametrize("cidnum", ["0612345678", "+44 7700 900123", ""])
def test_no_sms_to_a_landline_a_foreign_or_a_withheld_number(site, capsys, tmp_path, cidnum):
    raw = voicemail_mail(SATURDAY_NIGHT, None, cidnum=cidnum, cidname="" if not cidnum else "X")
    assert ingest(site, capsys, tmp_path, raw)["outcome"] == "ticket"
    assert jobs(site) == []


def test_an_operators_call_gets_no_sms(site, capsys):
    run(site, capsys, "tickets", "add", "--channel", "phone", "--from", "3331234567",
        "--text", "Lampione spento in via Dante 3", "--at", "2026-11-27 11:00")  # fmt: skip
    assert jobs(site) == []


def test_the_flood_limit_holds_for_sms_too(site, capsys, tmp_path):
    for n in range(3):
        raw = voicemail_mail(SATURDAY_NIGHT + timedelta(minutes=n), None, msgnum=n)
        ingest(site, capsys, tmp_path, raw, f"vm{n}")
    assert [job.state for job in jobs(site)] == ["pending", "pending", "suppressed"]


@pytest.mark.parametrize(
    ("number", "mobile"),
    [("3331234567", "393331234567"), ("+39 333 1234567", "393331234567"),
     ("00393331234567", "393331234567"), ("0612345678", None), ("+390612345678", None),
     ("+447700900123", None), (None, None)],
)  # fmt: skip
def test_italian_mobiles(number, mobile):
    assert italian_mobile(number) == mobile
