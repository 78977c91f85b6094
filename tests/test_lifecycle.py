"""A ticket's life through the CLI: assigned, started, closed, reopened, imported from the
field crews' system; every change kept as history; a reminder about a closed ticket flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inbox_daemon.cli import main
from inbox_daemon.errors import ExitCode
from tests.conftest import BASE_CONFIG


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE_CONFIG + '[[routing]]\nqueue = "manutenzione"\n', encoding="utf-8")
    return path


def cli(config: Path, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), "-q", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ticket(config: Path, tmp_path: Path, capsys, n: int, text: str, subject: str = "") -> str:
    path = tmp_path / f"m{n}.eml"
    path.write_text(
        f"From: Anna Verdi <anna{n}@example.org>\nSubject: {subject or f'Guasto {n}'}\n"
        f"Message-ID: <life-{n}@example.org>\nDate: Tue, 24 Nov 2026 10:00:00 +0100\n\n{text}\n",
        encoding="utf-8",
    )
    code, out, _ = cli(config, capsys, "ingest", "--json", str(path))
    assert code == ExitCode.ok
    return json.loads(out)["ticket"]


def shown(config: Path, capsys, number: str) -> dict:
    code, out, _ = cli(config, capsys, "tickets", "show", number, "--json")
    assert code == ExitCode.ok
    return json.loads(out)


def test_assign_start_close_reopen_each_kept_in_the_history(config_file, tmp_path, capsys):
    number = ticket(config_file, tmp_path, capsys, 1, "Il lampione IP-004512 è spento.")
    assert cli(config_file, capsys, "tickets", "assign", number, "--to", "squadra-nord",
               "--by", "rossi")[0] == ExitCode.ok  # fmt: skip
    assert cli(config_file, capsys, "tickets", "start", number, "--by", "rossi")[0] == 0
    code, out, _ = cli(config_file, capsys, "tickets", "close", number, "--note",
                       "lampada sostituita", "--at", "2099-01-01 10:00")  # fmt: skip
    assert code == ExitCode.usage  # not in the future
    code, out, _ = cli(config_file, capsys, "tickets", "close", number, "--note",
                       "lampada sostituita", "--by", "bianchi")  # fmt: skip
    assert code == ExitCode.ok and "in_progress -> closed" in out
    row = shown(config_file, capsys, number)
    assert (row["status"], row["assigned_to"]) == ("closed", "squadra-nord")
    assert row["closed_at"] is not None
    code, _, err = cli(config_file, capsys, "tickets", "close", number, "--note", "ancora")
    assert code == ExitCode.usage and "is closed" in err  # a closed ticket is not closed again
    code, _, err = cli(config_file, capsys, "tickets", "reopen", number, "--note", " ")
    assert code == ExitCode.usage and "needs --note" in err
    assert (
        cli(config_file, capsys, "tickets", "reopen", number, "--note", "di nuovo spento")[0] == 0
    )
    row = shown(config_file, capsys, number)
    assert row["status"] == "open" and row["closed_at"] is None
    moves = [(e["action"], e["from_status"], e["to_status"], e["actor"]) for e in row["history"]]
    assert moves == [
        ("assign", "open", "open", "rossi"),
        ("start", "open", "in_progress", "rossi"),
        ("close", "in_progress", "closed", "bianchi"),
        ("reopen", "closed", "open", moves[3][3]),
    ]
    code, out, _ = cli(config_file, capsys, "tickets", "show", number)
    assert "history:" in out and "lampada sostituita" in out and "squadra-nord" in out


def test_closing_time_is_the_crews_and_cannot_precede_the_request(config_file, tmp_path, capsys):
    number = ticket(config_file, tmp_path, capsys, 2, "Il lampione IP-004513 è spento.")
    code, _, err = cli(config_file, capsys, "tickets", "close", number, "--note", "x",
                       "--at", "2026-11-24 09:00")  # fmt: skip
    assert code == ExitCode.usage and "not between" in err  # before 10:00 that day
    assert cli(config_file, capsys, "tickets", "close", number, "--note", "fatto",
               "--at", "2026-11-25 16:30")[0] == ExitCode.ok  # fmt: skip
    assert shown(config_file, capsys, number)["closed_at"] == "2026-11-25T16:30:00+01:00"


def test_import_status_applies_each_row_once_and_names_wrong_lines(config_file, tmp_path, capsys):
    first = ticket(config_file, tmp_path, capsys, 3, "Il lampione IP-004514 è spento.")
    second = ticket(config_file, tmp_path, capsys, 4, "Il lampione IP-004515 è spento.")
    csv_file = tmp_path / "chiusure.csv"
    csv_file.write_text(
        "number,status,time,note\n"
        f"{first},closed,2026-11-26 11:00,sostituito alimentatore\n"
        f"{second},in_progress,2026-11-26 12:00,\n"
        "2026/999999,closed,2026-11-26 12:00,\n"
        f"{second},chiuso,2026-11-26 12:00,\n",
        encoding="utf-8",
    )
    code, out, err = cli(config_file, capsys, "tickets", "import-status", str(csv_file))
    assert code == ExitCode.usage and "2 changed, 0 already so, 2 refused" in out
    assert "chiusure.csv:4: no ticket 2026/999999" in err
    assert "chiusure.csv:5: status 'chiuso'" in err
    code, out, _ = cli(config_file, capsys, "tickets", "import-status", str(csv_file))
    assert "0 changed, 2 already so" in out  # imported twice: nothing doubled
    row = shown(config_file, capsys, first)
    assert row["status"] == "closed" and row["closed_at"] == "2026-11-26T11:00:00+01:00"
    assert [e["actor"] for e in row["history"]] == ["import:chiusure.csv"]
    jsonl = tmp_path / "stati.jsonl"
    jsonl.write_text(json.dumps({"number": second, "status": "closed",
                                 "time": "2026-11-27T08:00:00+01:00"}) + "\n")  # fmt: skip
    code, out, _ = cli(config_file, capsys, "tickets", "import-status", str(jsonl))
    assert code == ExitCode.ok and "1 changed" in out
    assert shown(config_file, capsys, second)["status"] == "closed"


def test_list_filters_by_status_and_date(config_file, tmp_path, capsys):
    a = ticket(config_file, tmp_path, capsys, 5, "Il lampione IP-004516 è spento.")
    b = ticket(config_file, tmp_path, capsys, 6, "Il lampione IP-004517 è spento.")
    cli(config_file, capsys, "tickets", "start", b)
    _, out, _ = cli(config_file, capsys, "tickets", "list", "--status", "in_progress")
    assert b in out and a not in out
    _, out, _ = cli(config_file, capsys, "tickets", "list", "--since", "2026-11-24",
                    "--until", "2026-11-24", "--queue", "manutenzione")  # fmt: skip
    assert a in out and b in out
    _, out, _ = cli(config_file, capsys, "tickets", "list", "--since", "2026-11-25")
    assert out == ""


def test_a_reminder_about_a_closed_ticket_is_linked_and_flagged(config_file, tmp_path, capsys):
    first = ticket(config_file, tmp_path, capsys, 7, "Il lampione IP-004518 è spento.")
    cli(config_file, capsys, "tickets", "close", first, "--note", "riparato")
    reminder = ticket(config_file, tmp_path, capsys, 8,
                      f"Sollecito: la richiesta n. {first} risulta chiusa ma il lampione "
                      "IP-004518 è ancora spento.", subject="Sollecito")  # fmt: skip
    row = shown(config_file, capsys, reminder)
    assert row["request_type"] == "sollecito" and row["related_ticket"] == first
    assert row["details"] == {"chases": first, "chases_status": "closed"}
    assert ("linking.closed", first) in {(h["rule"], h["value"]) for h in row["rule_hits"]}
