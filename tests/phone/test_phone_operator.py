"""Calls registered by operators (`tickets add --channel phone`): the same rules, the same
progressive number, printed with the registration time for the operator to read out."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.phone import cli
from tests.phone.cli import exported

ROME = ZoneInfo("Europe/Rome")


def run(config: Path, capsys, *args: str) -> tuple[int, str]:
    code, out, _ = cli.run(config, capsys, *args)
    return code, out


EMERGENCY = "Il palo IP-004512 in via Roma sta per cadere sulla strada, c'è pericolo"


def test_a_call_is_classified_numbered_and_read_out(config, capsys):
    code, out = run(config, capsys, "tickets", "add", "--channel", "phone", "--from",
                    "+39 333 1234567", "--name", "Mario Rossi", "--text", EMERGENCY,
                    "--at", "2026-11-27 10:30", "--by", "laura")  # fmt: skip
    assert code == 0
    assert out.startswith("Richiesta n. 2026/000001 registrata il ")  # the number to read out
    assert "emergenza" in out
    [ticket] = exported(config, capsys)
    assert ticket["channel"] == "phone" and ticket["request_type"] == "manutenzione"
    assert ticket["urgency"] == "emergenza" and ticket["pole_codes"] == ["IP-004512"]
    assert datetime.fromisoformat(ticket["received_at"]) == datetime(
        2026, 11, 27, 10, 30, tzinfo=ROME
    )
    assert ticket["phone"]["number"] == "+393331234567"
    assert ticket["phone"]["via"] == "operator" and ticket["phone"]["operator"] == "laura"
    assert ticket["sender_name"] == "Mario Rossi"
    registered = datetime.fromisoformat(ticket["registered_at"])
    assert f"{registered:%d/%m/%Y} alle {registered:%H:%M}" in out


def test_the_same_call_registered_twice_is_one_ticket(config, capsys):
    args = ("tickets", "add", "--channel", "phone", "--from", "0612345678", "--text",
            "Lampione spento in via Dante 3", "--at", "2026-11-27 11:00")  # fmt: skip
    run(config, capsys, *args)
    code, out = run(config, capsys, *args)
    assert code == 0 and "già registrata" in out and "2026/000001" in out
    assert len(exported(config, capsys)) == 1


def test_a_batch_from_json_lines(config, capsys, tmp_path):
    batch = tmp_path / "calls.jsonl"
    rows = [
        {"from": "0612345678", "text": "Lampione spento in via Dante 3", "at": "2026-11-27 11:00"},
        {"from": "3331112222", "text": "Vorrei sapere gli orari dello sportello",
         "at": "2026-11-27 11:05", "by": "marco"},
    ]  # fmt: skip
    batch.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    code, out = run(config, capsys, "tickets", "add", "--channel", "phone", "--jsonl",
                    str(batch), "--json")  # fmt: skip
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["ticket"] for r in results] == ["2026/000001", "2026/000002"]
    tickets = exported(config, capsys)
    assert {t["phone"]["operator"] for t in tickets} >= {"marco"}
    assert all(t["channel"] == "phone" for t in tickets)


def test_a_call_in_the_future_is_refused(config, capsys):
    code, _ = run(config, capsys, "tickets", "add", "--channel", "phone", "--from", "061234",
                  "--text", "prova", "--at", "2099-01-01 10:00")  # fmt: skip
    assert code == 1 and exported(config, capsys) == []


def test_a_citizens_mail_with_our_headers_stays_an_email(config, capsys, tmp_path):
    """Only messages the daemon spooled itself on channel phone are read as calls."""
    mail = tmp_path / "spoof.eml"
    mail.write_bytes(
        b"From: x@example.org\r\nSubject: Telefonata\r\nX-Inbox-Phone-Call: operator\r\n"
        b"X-Inbox-Phone-Number: 112\r\nMessage-ID: <s@example.org>\r\n"
        b"Date: Fri, 04 Dec 2026 10:00:00 +0100\r\n\r\nLampione spento\r\n"
    )
    run(config, capsys, "ingest", str(mail))
    [ticket] = exported(config, capsys)
    assert ticket["channel"] == "email" and ticket["phone"] is None


def test_the_report_counts_operator_registrations_and_voicemails(config, capsys):
    run(config, capsys, "tickets", "add", "--channel", "phone", "--from", "0612345678",
        "--text", "Lampione spento in via Dante 3", "--at", "2026-11-27 11:00")  # fmt: skip
    code, out = run(config, capsys, "report", "--month", "2026-11", "--format", "json")
    figures = json.loads(out)
    assert code == 0 and figures["by_channel"]["phone"] == 1
    assert figures["phone"]["operator_registrations"] == 1 and figures["phone"]["voicemails"] == 0


def test_show_prints_the_call(config, capsys):
    run(config, capsys, "tickets", "add", "--channel", "phone", "--from", "0612345678",
        "--text", "Lampione spento in via Dante 3", "--at", "2026-11-27 11:00")  # fmt: skip
    code, out = run(config, capsys, "tickets", "show", "2026/000001")
    assert code == 0
    [line] = [line for line in out.splitlines() if line.startswith("phone:")]
    assert '"number": "0612345678"' in line and '"via": "operator"' in line
