"""`ingest` end to end: message files in, classified tickets and the export contract out."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from inbox_daemon import pipeline
from inbox_daemon.cli import main
from inbox_daemon.config import load_config
from inbox_daemon.context import build_context
from inbox_daemon.errors import ExitCode
from inbox_daemon.spool import Incoming, Origin
from inbox_daemon.store.db import open_store, transaction
from inbox_daemon.store.models import Message, Ticket
from tests.conftest import BASE_CONFIG, DEMO_MESSAGES, shared_samples

ROME = ZoneInfo("Europe/Rome")
EXPORT_FIELDS = {
    "number", "channel", "status", "sender", "subject", "request_type", "urgency", "pole_codes",
    "criminal_event", "related_ticket", "received_at", "deemed_received_at", "registered_at",
    "message_id", "pec", "fax", "rule_hits",
}  # fmt: skip
HANDLED = {"ticket", "duplicate", "receipt", "bounce", "auto_reply", "quarantined"}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE_CONFIG, encoding="utf-8")
    return path


def cli(config: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--config", str(config), "-q", *args])
    return code, capsys.readouterr().out


def ingest_json(config: Path, paths: list[Path], capsys, *extra: str) -> tuple[int, list[dict]]:
    code, out = cli(config, "ingest", "--json", *extra, *map(str, paths), capsys=capsys)
    return code, [json.loads(line) for line in out.splitlines()]


def export(config: Path, capsys) -> list[dict]:
    code, out = cli(config, "tickets", "export", "--format", "jsonl", capsys=capsys)
    assert code == ExitCode.ok
    return [json.loads(line) for line in out.splitlines()]


def demo_files() -> list[Path]:
    return sorted(DEMO_MESSAGES.glob("*.eml"))


def test_demo_messages_become_tickets_with_every_contract_field(config_file, capsys):
    code, results = ingest_json(config_file, demo_files(), capsys)
    assert code == ExitCode.ok
    assert [r["outcome"] for r in results] == ["ticket"] * 6
    year = datetime.now(ROME).year
    assert [r["ticket"] for r in results] == [f"{year}/{n:06d}" for n in range(1, 7)]

    rows = {row["message_id"]: row for row in export(config_file, capsys)}
    assert len(rows) == 6
    for row in rows.values():
        assert row.keys() >= EXPORT_FIELDS
        for key in ("received_at", "deemed_received_at", "registered_at"):
            assert datetime.fromisoformat(row[key]).utcoffset() is not None, key
        assert row["channel"] == "email" and row["pec"] is None and row["fax"] is None
        assert row["rule_hits"], row["number"]

    fallen = rows["<demo-0001@example.org>"]
    assert fallen["urgency"] == "emergenza" and fallen["pole_codes"] == ["IP-004512"]
    assert fallen["request_type"] == "manutenzione"
    assert fallen["sender"] == "mario.rossi@example.org"
    # Monday 23 Nov 2026 21:14 is out of hours: deemed received Tuesday at opening.
    assert fallen["received_at"] == "2026-11-23T21:14:05+01:00"
    assert fallen["deemed_received_at"] == "2026-11-24T08:30:00+01:00"

    theft = rows["<demo-0004@polizialocale.example.it>"]
    assert theft["criminal_event"] is True and theft["status"] == "redirected"
    assert theft["pole_codes"] == ["IP-003310", "IP-003318"]

    assert rows["<demo-0002@comune.castelnuovo.example.it>"]["request_type"] == "manutenzione"
    assert rows["<demo-0003@example.net>"]["request_type"] == "sollecito"
    assert rows["<demo-0005@icpascoli.example.edu.it>"]["request_type"] == "informazione"
    assert rows["<demo-0006@example.com>"]["request_type"] == "reclamo"
    # Received on a Tuesday at 10:02, within hours: not moved.
    office = rows["<demo-0002@comune.castelnuovo.example.it>"]
    assert office["deemed_received_at"] == office["received_at"]


def test_a_second_ingest_creates_nothing(config_file, capsys):
    ingest_json(config_file, demo_files(), capsys)
    code, again = ingest_json(config_file, demo_files(), capsys)
    assert code == ExitCode.ok
    assert {r["outcome"] for r in again} == {"duplicate"}
    assert len(export(config_file, capsys)) == 6


def test_same_message_id_with_other_bytes_is_a_duplicate(config_file, tmp_path, capsys):
    original = demo_files()[0]
    resent = tmp_path / "resent.eml"
    resent.write_bytes(b"Received: from relay by mx; Tue, 24 Nov 2026 10:00:00 +0100\n"
                       + original.read_bytes())  # fmt: skip
    _, results = ingest_json(config_file, [original, resent], capsys)
    assert [r["outcome"] for r in results] == ["ticket", "duplicate"]
    assert len(export(config_file, capsys)) == 1


def test_reminder_quoting_a_number_links_to_that_ticket(config_file, tmp_path, capsys):
    _, first = ingest_json(config_file, [demo_files()[1]], capsys)
    number = first[0]["ticket"]
    reminder = tmp_path / "reminder.eml"
    reminder.write_text(
        "From: utc@comune.castelnuovo.example.it\nTo: segnalazioni@example.it\n"
        "Subject: Sollecito\nMessage-ID: <rem-1@x>\n\n"
        f"Con riferimento alla segnalazione n. {number}, si sollecita l'intervento:"
        " il punto luce è ancora spento.\n"
    )
    _, results = ingest_json(config_file, [reminder], capsys)
    row = next(r for r in export(config_file, capsys) if r["number"] == results[0]["ticket"])
    assert row["request_type"] == "sollecito"
    assert row["related_ticket"] == number


def test_csv_export_has_the_contract_columns(config_file, capsys):
    ingest_json(config_file, demo_files(), capsys)
    code, out = cli(config_file, "tickets", "export", "--format", "csv", capsys=capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == ExitCode.ok and len(rows) == 6
    assert EXPORT_FIELDS - {"pec", "fax"} <= set(rows[0])
    assert {r["criminal_event"] for r in rows} == {"True", "False"}


def test_every_cpython_sample_is_handled_and_kept(config_file, tmp_path, capsys):
    folder = shared_samples("email-cpython")
    files = sorted(folder.glob("msg_*.txt"))
    code, results = ingest_json(config_file, files, capsys)
    assert code == ExitCode.ok
    assert len(results) == len(files)
    assert {r["outcome"] for r in results} <= HANDLED, results
    store = tmp_path / "store" / "raw"
    for f in files:
        sha = hashlib.sha256(f.read_bytes()).hexdigest()
        assert (store / sha[:2] / sha).read_bytes() == f.read_bytes()
    assert sum(r["outcome"] == "ticket" for r in results) >= len(files) // 2


def test_every_wild_sample_is_handled_and_kept(config_file, capsys):
    files = sorted(shared_samples("email-wild").glob("*.eml"))
    code, results = ingest_json(config_file, files, capsys)
    assert code == ExitCode.ok
    assert {r["outcome"] for r in results} <= HANDLED, results
    engine = open_store(f"sqlite:///{config_file.parent}/tickets.db")
    with transaction(engine) as s:
        stored = s.exec(select(func.count(Message.id))).one()
        waiting = s.exec(select(func.count(Message.id)).where(Message.status == "received")).one()
    assert stored == len({hashlib.sha256(f.read_bytes()).digest() for f in files})
    assert waiting == 0


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    made: dict[str, bytes] = {
        "empty": b"",
        "binary": bytes(range(256)) * 64,
        "headers-only": b"From: a@example.it\nSubject: solo intestazioni\n",
        "bad-charset": (
            b"From: a@example.it\nSubject: =?x-nonsense?q?caf=E8?=\n"
            b"Content-Type: text/plain; charset=x-nonsense\n\nLampione spento in via Po, caff\xe8\n"
        ),
    }
    paths = {}
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, data in made.items():
        paths[name] = tmp_path / f"{name}.eml"
        paths[name].write_bytes(data)
    traversal = EmailMessage()
    traversal["From"] = "b@example.it"
    traversal["Subject"] = "Lampione spento IP-000123"
    traversal.set_content("Il lampione IP-000123 è spento da ieri sera.")
    for name in ("../../etc/passwd", "..\\..\\boot.ini", "/abs/path.pdf"):
        traversal.add_attachment(
            b"x", maintype="application", subtype="octet-stream", filename=name
        )
    big = EmailMessage()
    big["From"] = "c@example.it"
    big["Subject"] = "Foto del palo"
    big.set_content("In allegato la foto del palo IP-000777 inclinato.")
    big.add_attachment(os.urandom(25 * 1024 * 1024), maintype="image", subtype="jpeg",
                       filename="foto.jpg")  # fmt: skip
    for name, msg in (("traversal", traversal), ("big", big)):
        paths[name] = tmp_path / f"{name}.eml"
        paths[name].write_bytes(msg.as_bytes())
    return paths


def test_bad_input_is_kept_with_a_reason_and_never_crashes(config_file, tmp_path, capsys):
    inputs = _bad_inputs(tmp_path / "in")
    code, results = ingest_json(config_file, list(inputs.values()), capsys)
    assert code == ExitCode.ok
    outcome = {Path(r["file"]).stem: r for r in results}
    assert set(outcome) == set(inputs)
    assert all(r["outcome"] in {"ticket", "quarantined"} for r in results), results
    for r in results:
        if r["outcome"] == "quarantined":
            assert r.get("error"), r
    assert outcome["empty"]["outcome"] == "quarantined"
    assert outcome["bad-charset"]["outcome"] == "ticket"
    assert outcome["traversal"]["outcome"] == "ticket"
    assert outcome["big"]["outcome"] == "ticket"
    rows = {r["number"]: r for r in export(config_file, capsys)}
    names = [a["filename"] for a in rows[outcome["traversal"]["ticket"]]["attachments"]]
    assert len(names) == 3
    assert all("/" not in n and "\\" not in n and not n.startswith("..") for n in names), names
    big = rows[outcome["big"]["ticket"]]["attachments"][0]
    assert big["size"] == 25 * 1024 * 1024
    code, out = cli(config_file, "messages", "list", "--status", "quarantined", capsys=capsys)
    assert "quarantined" in out


def test_a_missing_input_fails_the_command_but_not_the_others(config_file, tmp_path, capsys):
    code, results = ingest_json(config_file, [tmp_path / "nope.eml", demo_files()[0]], capsys)
    assert code == ExitCode.input_not_stored
    assert [r["outcome"] for r in results] == ["error", "ticket"]


def test_a_large_file_is_stored_byte_exact_from_the_open_file(config_file, tmp_path, capsys):
    """`ingest` hands the spool the open file, as the drop folder does (copied in 1 MB chunks,
    never read whole): the stored bytes are the file's, across chunk boundaries, and the time
    of receipt still comes from its top Received: header."""
    message = EmailMessage()
    message["From"] = "ufficio.tecnico@comune.example.it"
    message["Subject"] = "Planimetria dei pali di via Roma"
    message.set_content("Si trasmette la planimetria richiesta.")
    message.add_attachment(random.Random(7).randbytes(3_500_000), "application", "pdf",
                           filename="planimetria.pdf")  # fmt: skip
    raw = b"Received: from mx by relay; Wed, 02 Dec 2026 08:15:00 +0100\n" + message.as_bytes()
    path = tmp_path / "large.eml"
    path.write_bytes(raw)
    code, [result] = ingest_json(config_file, [path], capsys)
    assert code == ExitCode.ok and result["outcome"] in HANDLED
    ctx = build_context(load_config(config_file))
    with transaction(ctx.engine) as session:
        stored = session.get(Message, result["message"])
        assert stored.sha256 == hashlib.sha256(raw).hexdigest() and stored.size == len(raw)
        assert stored.received_at.astimezone(ROME) == datetime(2026, 12, 2, 8, 15, tzinfo=ROME)
    assert ctx.spool.read(stored.sha256) == raw


def test_reprocess_reruns_a_quarantined_message(config_file, tmp_path, capsys):
    class BrokenRules:
        """Fault injection: a rule set that crashes (a bug we cannot cause for real)."""

        def __getattr__(self, name):
            raise RuntimeError("rule engine bug")

    ctx = build_context(load_config(config_file))
    broken = ctx.__class__(**{**ctx.__dict__, "ruleset": BrokenRules(), "max_attempts": 2})
    incoming = Incoming(
        raw=demo_files()[1].read_bytes(),
        origin=Origin(source="test"),
        received_at=datetime(2026, 11, 24, 10, 0, tzinfo=ROME),
        channel="email",
    )
    spooled = ctx.spool.store(incoming)
    assert pipeline.process(broken, spooled.message_pk).outcome == "retry"
    assert pipeline.process(broken, spooled.message_pk).outcome == "quarantined"
    code, out = cli(config_file, "reprocess", capsys=capsys)
    assert code == ExitCode.ok and "1 message(s) queued again" in out
    assert "ticket" in out
    assert len(export(config_file, capsys)) == 1


@pytest.mark.slow
def test_killed_ingest_runs_end_with_one_ticket_per_message(config_file, tmp_path):
    """SIGKILL at random moments, several times; then a full run. Nothing lost, nothing twice."""
    folder = tmp_path / "mails"
    folder.mkdir()
    for i in range(80):
        msg = EmailMessage()
        msg["From"] = f"cittadino{i}@example.org"
        msg["Subject"] = f"Lampione spento n. {i}"
        msg["Message-ID"] = f"<kill-{i}@example.org>"
        msg.set_content(f"Il lampione IP-{i:06d} in via Roma {i} è spento da due giorni.")
        (folder / f"{i:03d}.eml").write_bytes(msg.as_bytes())
    command = [sys.executable, "-m", "inbox_daemon.cli", "--config", str(config_file), "-q",
               "ingest", str(folder)]  # fmt: skip
    rng = random.Random(20261124)
    for _ in range(5):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.8, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    final = subprocess.run(command, capture_output=True, text=True, check=False)
    assert final.returncode == 0, final.stderr
    engine = open_store(f"sqlite:///{config_file.parent}/tickets.db")
    with transaction(engine) as s:
        assert s.exec(select(func.count(Message.id))).one() == 80
        assert s.exec(select(func.count(Ticket.id))).one() == 80
        assert (
            s.exec(select(func.count(Message.id)).where(Message.status != "processed")).one() == 0
        )
        seqs = sorted(s.exec(select(Ticket.seq)))
    assert seqs == list(range(1, 81))  # contiguous: no number lost to a crash


def test_pec_receipts_are_kept_without_a_ticket(config_file, capsys):
    folder = shared_samples("pec")
    receipts = sorted(folder.glob("*receipt*.eml"))
    envelopes = sorted(folder.glob("*envelope*.eml"))
    code, results = ingest_json(config_file, receipts + envelopes, capsys, "--channel", "pec")
    assert code == ExitCode.ok
    outcomes = [r["outcome"] for r in results]
    assert outcomes == ["receipt"] * len(receipts) + ["ticket"] * len(envelopes)
    assert {row["channel"] for row in export(config_file, capsys)} == {"pec"}
