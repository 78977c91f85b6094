"""A backlog processed late links its reminders as it would have on the day (issue #18).

The reminder window (`reminder_window_days`, 60 by default) counts back from the reminder's
`received_at`, not from when it is registered: two messages a week apart, ingested a year later,
still link. Real files through the real `ingest` command and SQLite store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inbox_daemon.cli import main
from tests.conftest import BASE_CONFIG


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE_CONFIG, encoding="utf-8")
    return path


def mail(folder: Path, name: str, received: str, subject: str, body: str) -> Path:
    path = folder / name
    path.write_text(
        f"Received: from mx.example.it by relay; {received}\n"
        f"From: cittadino@example.it\nTo: segnalazioni@example.it\n"
        f"Subject: {subject}\nMessage-ID: <{name}@example.it>\n\n{body}\n",
        encoding="utf-8",
    )
    return path


def run(config: Path, capsys, *args: str) -> list[dict]:
    assert main(["--config", str(config), "-q", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_late_backlog_links_a_reminder_to_the_report_a_week_before(config_file, tmp_path, capsys):
    first = mail(
        tmp_path,
        "first",
        "Tue, 14 Jan 2025 09:00:00 +0100",
        "lampione spento",
        "Il lampione IP-044120 in via dei Mille è spento.",
    )
    reminder = mail(
        tmp_path,
        "again",
        "Tue, 21 Jan 2025 09:00:00 +0100",
        "lampione spento",
        "Sollecito: il lampione IP-044120 è ancora spento, nessuno è venuto.",
    )
    results = run(config_file, capsys, "ingest", "--json", str(first), str(reminder))
    rows = {
        r["number"]: r for r in run(config_file, capsys, "tickets", "export", "--format", "jsonl")
    }
    later = rows[results[1]["ticket"]]
    assert later["request_type"] == "sollecito"
    assert later["related_ticket"] == results[0]["ticket"]
