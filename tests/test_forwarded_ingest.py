"""Through the whole pipeline: a forwarded report is the request, a reply's quote names its
pole (issue #18). Real .eml files, the real `ingest` command and SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inbox_daemon.cli import main
from tests.conftest import BASE_CONFIG

FORWARD = """\
From: comando@pl.comune.example.it
To: segnalazioni@example.it
Subject: I: palo abbattuto
Message-ID: <fwd-1@pl.example.it>

Si inoltra per competenza quanto segnalato stanotte da un cittadino.
Comando Polizia Locale

-----Messaggio originale-----
Da: Mario Rossi <mario@example.it>
Inviato: mercoledì 4 novembre 2026 02:15
A: pl@comune.example.it
Oggetto: palo

Un'auto ha abbattuto il palo IP-060412 in viale Europa, è a terra sulla carreggiata.
"""

REPLY = """\
From: marco.pini@example.it
To: segnalazioni@example.it
Subject: Re: lampione spento
Message-ID: <re-1@example.it>

Grazie, ho visto che stamattina avete chiuso il quadro, vedi sotto.

Il giorno 12 ott 2026, alle ore 20:14, Marco Pini <marco.pini@example.it> ha scritto:
> Il quadro del lampione IP-038812 in via Leopardi è aperto, con i fili scoperti.
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE_CONFIG, encoding="utf-8")
    return path


def ingest(config: Path, tmp_path: Path, capsys, name: str, text: str) -> dict:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert main(["--config", str(config), "-q", "ingest", "--json", str(path)]) == 0
    number = json.loads(capsys.readouterr().out)["ticket"]
    assert main(["--config", str(config), "-q", "tickets", "export", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return next(r for r in rows if r["number"] == number)


def test_a_forwarded_report_is_classified_by_what_it_forwards(config_file, tmp_path, capsys):
    row = ingest(config_file, tmp_path, capsys, "fwd.eml", FORWARD)
    assert row["request_type"] == "manutenzione"
    assert row["urgency"] == "emergenza"
    assert row["pole_codes"] == ["IP-060412"]
    assert any(h["evidence"].startswith("[inoltrato]") for h in row["rule_hits"])


def test_a_reply_keeps_the_pole_of_its_quote_but_not_its_words(config_file, tmp_path, capsys):
    row = ingest(config_file, tmp_path, capsys, "re.eml", REPLY)
    assert row["pole_codes"] == ["IP-038812"]
    assert row["urgency"] == "ordinaria"  # the quoted danger is history, not a new one
    assert any(h["rule"] == "poles.quoted" for h in row["rule_hits"])


def test_rules_explain_shows_the_part_and_the_scope_of_each_decision(config_file, tmp_path, capsys):
    path = tmp_path / "fwd.eml"
    path.write_text(FORWARD, encoding="utf-8")
    assert main(["--config", str(config_file), "-q", "rules", "explain", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "urgency:        emergenza" in out and "IP-060412" in out
    assert "[inoltrato]" in out
    question = "Se vedo le scintille da un lampione devo chiamare voi o l'Enel?"
    assert main(["--config", str(config_file), "-q", "rules", "explain", question]) == 0
    out = capsys.readouterr().out
    assert "urgency:        ordinaria" in out and "scope.silenced" in out and "[domanda]" in out
