"""From an SMTP client to the acknowledgement: the ingress (built as the daemon builds it)
stores, the pipeline makes the ticket and its outbox job, the outbox delivers to ack_sink."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import select

from inbox_daemon import outbox, pipeline
from inbox_daemon.context import Context
from inbox_daemon.sources import build_sources
from inbox_daemon.sources.base import PushSource
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message, Outbox, Ticket
from inbox_daemon.store.types import utcnow

pytestmark = pytest.mark.integration


def request(n: int, sender: str = "mario.rossi@example.org", headers: str = "") -> bytes:
    return (
        f"From: Mario Rossi <{sender}>\r\n"
        "To: segnalazioni@example.it\r\n"
        f"Subject: Lampione spento in via Roma {n}\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
        f"Message-ID: <e2e-{n}@example.org>\r\n"
        f"{headers}"
        "\r\n"
        f"Il lampione IP-00123{n % 10} di via Roma {n} e' spento da ieri sera.\r\n"
    ).encode()


@dataclass
class Site:
    ctx: Context
    ingress: PushSource
    wakeups: list[int]

    def send(
        self, raw: bytes, mail_from: str = "mario.rossi@example.org", helo: str = "mx.example.org"
    ) -> None:
        port = self.ingress.port  # type: ignore[attr-defined]
        with smtplib.SMTP("127.0.0.1", port, local_hostname=helo) as client:
            assert client.sendmail(mail_from, ["segnalazioni@example.it"], raw) == {}

    def process(self) -> list[pipeline.Outcome]:
        return list(pipeline.process_pending(self.ctx))

    def outbox(self) -> list[Outbox]:
        with transaction(self.ctx.engine) as session:
            return list(session.exec(select(Outbox).order_by(Outbox.id)))


@pytest.fixture
def site(make_context: Callable[..., Context], ack_sink) -> Iterator[Site]:
    ctx = make_context(
        '[[sources]]\nname = "ingress"\nkind = "smtp"\nlisten = "127.0.0.1:0"\n'
        'recipients = ["segnalazioni@example.it", "fax@example.it"]\n'
        'channels = { "fax@example.it" = "fax" }\n'
        '[acknowledgements]\nenabled = true\nfrom = "segnalazioni@example.it"\n'
        f'smtp = {{ host = "127.0.0.1", port = {ack_sink.port}, tls = "none" }}\n'
        'emergency_phone = "800 123 456"\nmax_per_sender_per_hour = 3\n'
    )
    wakeups: list[int] = []
    polled, [ingress] = build_sources(ctx.config, ctx.spool, lambda: wakeups.append(1))
    assert polled == []
    ingress.start()
    yield Site(ctx, ingress, wakeups)
    ingress.stop()


def test_mail_to_the_ingress_is_acknowledged_with_its_number_and_time(site, ack_sink):
    site.send(request(1))
    assert site.wakeups == [1]
    [outcome] = site.process()
    assert outcome.outcome == "ticket" and outcome.ticket
    assert outbox.deliver_due(site.ctx) == 1
    with transaction(site.ctx.engine) as session:
        ticket = session.exec(select(Ticket)).one()
        message = session.get(Message, ticket.message_pk)
        assert message is not None and ticket.received_at == message.received_at
        assert "smtp session: peer 127.0.0.1" in (message.origin or "")
    [ack] = ack_sink.messages
    assert ack.mail_from == "<>" and ack.rcpt_tos == ["mario.rossi@example.org"]
    mail = ack.message
    assert ticket.number in mail["Subject"]
    assert mail["In-Reply-To"] == "<e2e-1@example.org>"
    assert mail["References"] == "<e2e-1@example.org>"
    assert mail["Auto-Submitted"] == "auto-replied"
    body = mail.get_content()
    registered = ticket.registered_at.astimezone(site.ctx.tz)
    assert ticket.number in body
    assert f"Data e ora di registrazione: {registered:%d/%m/%Y %H:%M}" in body


def test_a_retried_delivery_makes_no_second_ticket_or_ack(site, ack_sink):
    """The MTA did not see our 250 and sends again, here from its second MX: new bytes (a
    different Received: line), the same Message-ID, so the pipeline calls it a duplicate."""
    site.send(request(2), helo="mx1.example.org")
    site.send(request(2), helo="mx2.example.org")
    outcomes = [o.outcome for o in site.process()]
    assert outcomes == ["ticket", "duplicate"]
    outbox.deliver_due(site.ctx)
    assert len(ack_sink.messages) == 1


@pytest.mark.parametrize(
    ("why", "raw", "mail_from"),
    [
        ("auto-submitted", request(3, headers="Auto-Submitted: auto-replied\r\n"), "a@x.org"),
        ("bulk", request(4, headers="Precedence: bulk\r\n"), "a@x.org"),
        ("list", request(5, headers="List-Id: <lista.example.org>\r\n"), "a@x.org"),
        ("bounce: empty reverse path", request(6), "<>"),
        ("no-reply", request(7, sender="noreply@servizi.example.org"), "a@x.org"),
        ("our own address", request(8, sender="segnalazioni@example.it"), "a@x.org"),
        ("an ingress address", request(9, sender="fax@example.it"), "a@x.org"),
    ],
)
def test_loop_protection_end_to_end(site, ack_sink, why, raw, mail_from):
    site.send(raw, mail_from=mail_from)
    [outcome] = site.process()
    assert outcome.outcome in {"ticket", "bounce", "auto_reply"}, why
    outbox.deliver_due(site.ctx)
    assert ack_sink.messages == [], why
    assert [job.state for job in site.outbox()] == [], why


def test_flood_limit_per_sender_per_hour(site, ack_sink):
    for n in range(10, 15):
        site.send(request(n))
    site.send(request(20, sender="anna.bianchi@example.org"))
    assert len([o for o in site.process() if o.outcome == "ticket"]) == 6
    assert outbox.deliver_due(site.ctx) == 4
    states = [(job.recipient, job.state) for job in site.outbox()]
    assert states.count(("mario.rossi@example.org", "sent")) == 3
    assert states.count(("mario.rossi@example.org", "suppressed")) == 2
    assert ("anna.bianchi@example.org", "sent") in states
    assert sorted(m.rcpt_tos[0] for m in ack_sink.messages).count("mario.rossi@example.org") == 3


def test_outage_then_recovery_loses_nothing(site, ack_sink):
    ack_sink.stop()
    for n in (30, 31):
        site.send(request(n, sender=f"utente{n}@example.org"))
    site.process()
    now = utcnow()
    assert outbox.deliver_due(site.ctx, now=now) == 0
    assert {job.state for job in site.outbox()} == {"pending"}
    ack_sink.start()
    assert outbox.deliver_due(site.ctx, now=now + timedelta(hours=1)) == 2
    assert outbox.deliver_due(site.ctx, now=now + timedelta(days=3)) == 0
    assert sorted(m.rcpt_tos[0] for m in ack_sink.messages) == [
        "utente30@example.org",
        "utente31@example.org",
    ]


# Broken From: headers: the recovered sender is acknowledged, with the same protections.
OUTLOOK = "=?utf-8?q?Ufficio:_Rossi?= <mario19@example.org>"


def broken_request(n: int, from_header: str) -> bytes:
    """A request whose From: the address-list parser cannot read (issue 13)."""
    return (
        f"From: {from_header}\r\nTo: segnalazioni@example.it\r\n"
        f"Subject: Lampione spento in via Verdi {n}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
        f"Message-ID: <senders-{n}@example.org>\r\n\r\n"
        f"Il lampione IP-00456{n % 10} di via Verdi e' spento.\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("from_header", "envelope", "expected"),
    [
        (OUTLOOK, "relay-bounces@mta.example.org", "mario19@example.org"),
        ("Ufficio Rossi", "anna.bianchi@example.org", "anna.bianchi@example.org"),  # envelope
    ],
)
def test_a_broken_sender_is_recovered_and_acknowledged(site, ack_sink, from_header, envelope,
                                                       expected):  # fmt: skip
    site.send(broken_request(1, from_header), mail_from=envelope)
    [outcome] = site.process()
    assert outcome.outcome == "ticket"
    assert outbox.deliver_due(site.ctx) == 1
    with transaction(site.ctx.engine) as session:
        assert session.exec(select(Ticket.sender)).one() == expected
    [ack] = ack_sink.messages
    assert ack.rcpt_tos == [expected] and outcome.ticket in ack.message["Subject"]


@pytest.mark.parametrize(
    "envelope", ["noreply@servizi.example.org", "segnalazioni@example.it", "<>"]
)
def test_loop_protection_holds_for_a_recovered_sender(site, ack_sink, envelope):
    """A robot's, our own or a bounce's envelope sender recovered from behind a broken From:
    gets no acknowledgement, as it would not in a readable From:."""
    site.send(broken_request(2, "Ufficio Rossi"), mail_from=envelope)
    [outcome] = site.process()
    assert outcome.outcome in {"ticket", "bounce"}
    outbox.deliver_due(site.ctx)
    assert ack_sink.messages == [] and site.outbox() == []


def test_flood_limit_holds_for_a_recovered_sender(site, ack_sink):
    for n in range(10, 14):  # max_per_sender_per_hour = 3 in the site's config
        site.send(broken_request(n, OUTLOOK), mail_from="mario19@example.org")
    assert [o.outcome for o in site.process()] == ["ticket"] * 4
    assert outbox.deliver_due(site.ctx) == 3
    assert sorted(job.state for job in site.outbox()) == ["sent"] * 3 + ["suppressed"]
