"""The CLI around the pipeline: the drop folder daemon pass, listing, showing, explaining."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from inbox_daemon.cli import main
from inbox_daemon.errors import ExitCode
from tests.conftest import BASE_CONFIG, DEMO_MESSAGES

FOLDER_SOURCE = '\n[[sources]]\nname = "drop"\nkind = "folder"\npath = "drop"\n'


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE_CONFIG + FOLDER_SOURCE, encoding="utf-8")
    return path


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), "-q", *args])


def test_run_once_ingests_the_drop_folder_and_moves_files_aside(config_file, tmp_path, capsys):
    drop = tmp_path / "drop"
    drop.mkdir()
    for f in sorted(DEMO_MESSAGES.glob("*.eml"))[:3]:
        shutil.copy(f, drop / f.name)
    (drop / ".half-written.eml").write_text("From: x\n")  # hidden: a writer is not done yet
    assert run(config_file, "run", "--once") == ExitCode.ok
    assert sorted(p.name for p in drop.iterdir()) == [".done", ".half-written.eml"]
    assert len(list((drop / ".done").iterdir())) == 3
    capsys.readouterr()
    assert run(config_file, "tickets", "list") == ExitCode.ok
    assert len(capsys.readouterr().out.splitlines()) == 3
    for f in sorted(DEMO_MESSAGES.glob("*.eml"))[:3]:  # dropped again: nothing new
        shutil.copy(f, drop / f.name)
    assert run(config_file, "run", "--once") == ExitCode.ok
    assert run(config_file, "tickets", "list") == ExitCode.ok
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_run_removes_what_a_crashed_writer_left_in_the_store(config_file, tmp_path):
    leftovers = tmp_path / "store" / "tmp"
    leftovers.mkdir(parents=True)
    stale, fresh = leftovers / "ab12-99-1", leftovers / "cd34-99-2"
    for path in (stale, fresh):
        path.write_bytes(b"half a message")
    os.utime(stale, (time.time() - 2 * 3600, time.time() - 2 * 3600))
    assert run(config_file, "run", "--once") == ExitCode.ok
    assert [p.name for p in leftovers.iterdir()] == ["cd34-99-2"]  # may still be written


def test_tickets_show_gives_the_reasons(config_file, capsys):
    run(config_file, "ingest", str(DEMO_MESSAGES / "01-palo-abbattuto.eml"))
    capsys.readouterr()
    year_number = json.loads(_export(config_file, capsys)[0])["number"]
    assert run(config_file, "tickets", "show", year_number.split("/")[0] + "/1") == ExitCode.ok
    out = capsys.readouterr().out
    assert "emergenza" in out and "IP-004512" in out and "rule hits:" in out
    assert run(config_file, "tickets", "show", "2026/999999") == ExitCode.usage
    assert run(config_file, "tickets", "show", "not-a-number") == ExitCode.usage


def _export(config: Path, capsys) -> list[str]:
    run(config, "tickets", "export", "--format", "jsonl")
    return capsys.readouterr().out.splitlines()


def test_rules_explain_a_text_and_a_file(config_file, capsys):
    text = "Il palo IP-000123 è stato abbattuto da un'auto, cavi scoperti a terra"
    assert run(config_file, "rules", "explain", text) == ExitCode.ok
    out = capsys.readouterr().out
    assert "urgency:        emergenza" in out and "IP-000123" in out and "because:" in out
    message = DEMO_MESSAGES / "04-furto-cavi.eml"
    assert run(config_file, "rules", "explain", "--file", str(message)) == ExitCode.ok
    assert "criminal_event: True" in capsys.readouterr().out
    assert run(config_file, "rules", "explain") == ExitCode.usage


def test_rules_explain_shows_the_learned_stage(config_file, capsys):
    text = "Ci serve copia del certificato di collaudo dell'impianto del parcheggio comunale."
    assert run(config_file, "rules", "explain", "--subject", "dichiarazione", text) == ExitCode.ok
    out = capsys.readouterr().out
    assert "request_type:   informazione" in out and "request_type.learned: 'p 0." in out


def test_messages_show_points_at_the_raw_file(config_file, capsys):
    run(config_file, "ingest", str(DEMO_MESSAGES / "02-lampione-spento.eml"))
    capsys.readouterr()
    assert run(config_file, "messages", "show", "1") == ExitCode.ok
    out = capsys.readouterr().out
    raw = Path(next(line for line in out.splitlines() if line.startswith("raw file:")).split()[-1])
    assert raw.read_bytes() == (DEMO_MESSAGES / "02-lampione-spento.eml").read_bytes()
    assert run(config_file, "messages", "show", "42") == ExitCode.usage
