"""A PBX that mails its voicemails straight to the SMTP ingress (as app_voicemail's
`mailcmd` does through the local MTA): a real SMTP client, the ingress built as the daemon
builds it, and the ticket timed by the call, not by the SMTP session."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from inbox_daemon import pipeline
from inbox_daemon.context import Context
from inbox_daemon.sources import build_sources
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message, Ticket
from tests.phone.recordings import voicemail_mail

pytestmark = pytest.mark.integration
ROME = ZoneInfo("Europe/Rome")
SUNDAY_0310 = datetime(2026, 11, 29, 3, 10, 44, tzinfo=ROME)


def test_voicemail_over_smtp_is_a_phone_ticket(make_context: Callable[..., Context], gsm_wav):
    ctx = make_context(
        '[[sources]]\nname = "ingress"\nkind = "smtp"\nlisten = "127.0.0.1:0"\n'
        'recipients = ["segreteria@example.it"]\n'
    )
    _, [ingress] = build_sources(ctx.config, ctx.spool, lambda: None)
    ingress.start()
    try:
        with smtplib.SMTP("127.0.0.1", ingress.port, local_hostname="pbx.example.it") as client:  # type: ignore[attr-defined]
            raw = voicemail_mail(SUNDAY_0310, gsm_wav, cidnum="0612345678", cidname="")
            assert client.sendmail("asterisk@pbx.example.it", ["segreteria@example.it"], raw) == {}
    finally:
        ingress.stop()
    [outcome] = pipeline.process_pending(ctx)
    assert outcome.outcome == "ticket"
    with transaction(ctx.engine) as session:
        ticket = session.exec(select(Ticket)).one()
        message = session.get_one(Message, ticket.message_pk)
    assert ticket.channel == "phone" and ticket.phone is not None
    assert ticket.phone["number"] == "0612345678" and ticket.phone["name"] is None
    assert ticket.received_at == SUNDAY_0310  # the call; the SMTP session came later
    assert message.received_at > ticket.received_at
    assert ticket.deemed_received_at == datetime(2026, 11, 30, 8, 30, tzinfo=ROME)
