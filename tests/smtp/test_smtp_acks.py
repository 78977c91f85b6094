"""Acknowledgement planning: the text, who gets one, who never does, and header safety."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

import parsers.mime
from inbox_daemon import acks
from inbox_daemon.config import AcknowledgementsConfig, Config, SmtpRelay
from inbox_daemon.drafts import JobDraft, TicketDraft
from inbox_daemon.header_text import one_line
from inbox_daemon.outbox import build_message, send
from inbox_daemon.registration import acks_queued_since
from inbox_daemon.store.db import open_store, transaction
from inbox_daemon.store.models import Outbox
from parsers.message import ParsedMessage

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)  # Tuesday, 10:15 in Rome
CFG = AcknowledgementsConfig(
    enabled=True,
    from_="segnalazioni@example.it",
    emergency_phone="800 123 456",
    own_addresses=["centrale@example.it", "@interno.example.it"],
    max_per_sender_per_hour=3,
)


def parsed(**fields: Any) -> ParsedMessage:
    values: dict[str, Any] = {
        "subject": "Lampione spento",
        "from_address": "mario.rossi@example.org",
        "from_name": "Mario Rossi",
        "reply_to": None,
        "to": ("segnalazioni@example.it",),
        "cc": (),
        "message_id": "<req-1@example.org>",
        "in_reply_to": None,
        "references": (),
        "date": NOW,
        "top_received_at": NOW,
        "headers": (),
        "body_text": "Il lampione IP-001234 è spento.",
        "new_text": "Il lampione IP-001234 è spento.",
    }
    values.update(fields)
    return ParsedMessage(**values)


def ticket(**fields: Any) -> TicketDraft:
    values: dict[str, Any] = {
        "year": 2026, "seq": 123, "number": "2026/000123", "message_pk": 1, "source": "ingress",
        "channel": "email", "status": "open", "sender": "mario.rossi@example.org",
        "sender_name": None, "subject": "Lampione spento", "request_type": "manutenzione",
        "urgency": "ordinaria", "criminal_event": False, "pole_codes": ("IP-001234",),
        "competence": "fornitore",
        "received_at": NOW, "deemed_received_at": NOW, "deemed_reason": None,
        "registered_at": NOW, "sent_at": None, "message_id": None, "thread_root": None,
        "queue": None, "text": "",
    }  # fmt: skip
    values.update(fields)
    return TicketDraft(**values)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_store(f"sqlite:///{tmp_path}/t.db")


@pytest.fixture
def plan(engine: Engine) -> Callable[..., list[JobDraft]]:
    """Plan with the acknowledgements already in the database counted as registration counts
    them; `own` adds the addresses that only the whole config knows."""

    def run(
        t: TicketDraft | None = None,
        p: ParsedMessage | None = None,
        cfg: AcknowledgementsConfig = CFG,
        own: frozenset[str] = frozenset(),
    ) -> list[JobDraft]:
        policy = acks.AckPolicy.of(cfg, ROME, own)
        with Session(engine) as session:

            def recent(recipient: str, since: datetime) -> int:
                return acks_queued_since(session, recipient, since)

            job = acks.plan(policy, t or ticket(), p or parsed(), recent)
        return [job] if job else []

    return run


def test_ack_carries_number_registration_time_type_and_urgency(plan):
    [job] = plan()
    assert job.recipient == "mario.rossi@example.org" and job.state == "pending"
    assert job.subject == "Registrazione richiesta n. 2026/000123 - Lampione spento"
    assert "2026/000123" in job.body
    assert "Data e ora di registrazione: 24/11/2026 10:15" in job.body  # Rome time
    assert "Tipo di richiesta: richiesta di manutenzione" in job.body
    assert "Urgenza: ordinaria" in job.body
    assert "IP-001234" in job.body
    assert "si considera ricevuta" not in job.body  # in hours: nothing moved
    assert "112" not in job.body and "800 123 456" not in job.body
    assert job.headers == {"In-Reply-To": "<req-1@example.org>",
                           "References": "<req-1@example.org>"}  # fmt: skip


def test_out_of_hours_request_states_when_it_counts_as_received(plan):
    saturday = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
    monday = datetime(2026, 11, 30, 8, 30, tzinfo=ROME)
    t = ticket(received_at=saturday, deemed_received_at=monday, deemed_reason="fuori_orario")
    [job] = plan(t)
    assert "Data e ora di ricezione:     28/11/2026 22:00" in job.body
    assert "fuori dall'orario di servizio" in job.body
    assert "si considera ricevuta il 30/11/2026 alle ore 08:30" in job.body


def test_holiday_is_named(plan):
    christmas = datetime(2026, 12, 25, 10, 0, tzinfo=ROME)
    opening = datetime(2026, 12, 28, 8, 30, tzinfo=ROME)
    t = ticket(received_at=christmas, deemed_received_at=opening, deemed_reason="festivo",
               holiday_name="Natale")  # fmt: skip
    [job] = plan(t)
    assert "in un giorno festivo (Natale)" in job.body


def test_crime_report_is_told_to_call_112_and_emergency_gets_the_phone(plan):
    [crime] = plan(ticket(criminal_event=True, request_type="manutenzione"))
    assert "112" in crime.body and "Forze dell'Ordine" in crime.body
    [emergency] = plan(ticket(urgency="emergenza"))
    assert "EMERGENZA" in emergency.body and "800 123 456" in emergency.body
    assert "24 ore su 24" in emergency.body


def test_template_from_config_overrides_the_shipped_one(plan, tmp_path):
    template = tmp_path / "ack.txt"
    template.write_text("N. $number del $registered_date ore $registered_time ($channel)\n")
    [job] = plan(cfg=CFG.model_copy(update={"template": template}))
    assert job.body == "N. 2026/000123 del 24/11/2026 ore 10:15 (email)\n"


@pytest.mark.parametrize(
    ("why", "message"),
    [
        ("bounce", parsed(is_bounce=True)),
        ("auto-submitted", parsed(is_auto_submitted=True)),
        ("bulk or list", parsed(is_bulk=True)),
        ("no-reply", parsed(from_address="noreply@comune.example.org")),
        ("no-reply, dashed", parsed(from_address="No-Reply@comune.example.org")),
        ("do-not-reply", parsed(from_address="do_not_reply@servizi.example.org")),
        ("mailer-daemon", parsed(from_address="MAILER-DAEMON@mx.example.org")),
        ("list bounces", parsed(from_address="bounces+123@lists.example.org")),
        ("list owner", parsed(from_address="owner-lista@lists.example.org")),
        ("our own from", parsed(from_address="segnalazioni@example.it")),
        ("own_addresses", parsed(from_address="Centrale@example.it")),
        ("own domain", parsed(from_address="tizio@interno.example.it")),
        ("reply-to ours", parsed(reply_to="segnalazioni@example.it")),
        ("from ours", parsed(from_address="centrale@example.it", reply_to="a@example.org")),
        ("no address", parsed(from_address=None)),
        ("not an address", parsed(from_address="mario rossi")),
    ],
)
def test_no_acknowledgement_to_machines_or_ourselves(plan, why, message):
    assert plan(p=message) == [], why


def test_own_addresses_include_ingress_recipients_and_imap_mailboxes(
    make_config: Callable[..., Config], plan, monkeypatch
):
    monkeypatch.setenv("PEC_TEST_PASSWORD", "x")
    config = make_config(
        '[[sources]]\nname = "ingress"\nkind = "smtp"\n'
        'recipients = ["fax@example.it", "@comune.example.it"]\n'
        '[[sources]]\nname = "pec"\nkind = "imap"\nhost = "127.0.0.1"\n'
        'username = "segnalazioni@pec.example.it"\npassword_env = "PEC_TEST_PASSWORD"\n'
    )
    own = acks.own_addresses(config)
    assert {"fax@example.it", "segnalazioni@pec.example.it"} <= own
    assert "@comune.example.it" not in own  # citizens may write from the same domain
    assert plan(p=parsed(from_address="fax@example.it"), own=own) == []
    assert plan(p=parsed(from_address="segnalazioni@pec.example.it"), own=own) == []
    assert len(plan(p=parsed(from_address="ufficio@comune.example.it"), own=own)) == 1


def test_reply_to_is_preferred_to_from(plan):
    [job] = plan(p=parsed(reply_to="Ufficio.Tecnico@Comune.example.org"))
    assert job.recipient == "ufficio.tecnico@comune.example.org"


def test_fax_is_never_answered_by_fax_but_fax_ack_to_gets_it(plan):
    fax = ticket(channel="fax", sender=None)
    assert plan(fax, parsed(from_address="fax-gateway@example.it")) == []
    cfg = CFG.model_copy(update={"fax_ack_to": "centrale-fax@example.it"})
    [job] = plan(fax, parsed(from_address="fax-gateway@example.it"), cfg=cfg)
    assert job.recipient == "centrale-fax@example.it"


def test_more_than_the_hourly_limit_per_sender_is_suppressed(plan, engine):
    with transaction(engine) as session:
        for minutes in (5, 20, 50):  # three in the last hour: the limit
            session.add(Outbox(kind="ack", recipient="mario.rossi@example.org",
                               created_at=NOW - timedelta(minutes=minutes)))  # fmt: skip
        session.add(Outbox(kind="ack", recipient="mario.rossi@example.org",
                           created_at=NOW - timedelta(minutes=61)))  # fmt: skip
        session.add(Outbox(kind="ack", recipient="altro@example.org", created_at=NOW))
    [job] = plan()
    assert job.state == "suppressed" and "in an hour" in (job.last_error or "")
    [other] = plan(p=parsed(from_address="anna.bianchi@example.org"))
    assert other.state == "pending"


def test_suppressed_jobs_do_not_count_towards_the_limit(plan, engine):
    with transaction(engine) as session:
        for _ in range(5):
            session.add(Outbox(kind="ack", recipient="mario.rossi@example.org",
                               state="suppressed", created_at=NOW))  # fmt: skip
    [job] = plan()
    assert job.state == "pending"


def _encoded(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


@pytest.mark.parametrize("decoded_by_parser", [True, False])
def test_header_injection_from_subject_and_message_ids_reaches_no_header(
    plan, ack_sink, decoded_by_parser
):
    """Through the real parser, and with the line breaks reaching `plan` as they are (the
    parser flattens them today; the acknowledgement must not depend on it)."""
    evil_subject = "Guasto\r\nBcc: victim@evil.example\r\nX-Injected: 1"
    if decoded_by_parser:
        raw = (
            "From: mario.rossi@example.org\r\nTo: segnalazioni@example.it\r\n"
            f"Subject: {_encoded(evil_subject)}\r\nMessage-ID: <req-9@example.org>\r\n"
            f"References: {_encoded('<a@b>' + chr(10) + 'Bcc: other@evil.example')}\r\n"
            "\r\nTesto\r\n"
        ).encode()
        message = parsers.mime.parse(raw)
    else:
        message = parsed(
            subject=evil_subject,
            message_id="<req-9@example.org>\r\nBcc: third@evil.example",
            references=("<a@b>\nBcc: other@evil.example", "<ok@example.org>"),
        )
    [job] = plan(ticket(subject=message.subject), message)
    assert "\n" not in job.subject and "\r" not in job.subject
    outgoing = Outbox(**job.row(ticket_id=1))
    send(SmtpRelay(port=ack_sink.port), build_message(outgoing, "segnalazioni@example.it"))
    [captured] = ack_sink.messages
    assert captured.rcpt_tos == ["mario.rossi@example.org"]
    mail = captured.message
    assert mail["Bcc"] is None and mail["X-Injected"] is None
    assert mail["Subject"].startswith("Registrazione richiesta n. 2026/000123 - Guasto")
    assert b"\nBcc:" not in captured.raw and b"\nX-Injected:" not in captured.raw
    names = {name for name, _ in mail.items()}
    assert names <= {"From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted",
                     "X-Auto-Response-Suppress", "In-Reply-To", "References", "Content-Type",
                     "Content-Transfer-Encoding", "MIME-Version"}  # fmt: skip
    if decoded_by_parser:
        assert mail["In-Reply-To"] == "<req-9@example.org>"
        assert "evil" not in mail["References"]
    else:  # a malformed Message-ID is not copied at all
        assert mail["In-Reply-To"] is None and mail["References"] is None


def test_one_line_strips_every_kind_of_line_break():
    assert one_line("a\r\nb\rc\nd\x85e\u2028f\u2029g\x00h\tj") == "a b c d e f g h j"


def test_subject_without_original_subject_has_no_dangling_dash(plan):
    [job] = plan(ticket(subject=""), parsed(subject=""))
    assert job.subject == "Registrazione richiesta n. 2026/000123"
    assert "Oggetto: (senza oggetto)" in job.body
