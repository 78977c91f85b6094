"""The command line as an operator runs it, for the phone tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inbox_daemon.cli import main


def run(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """(exit code, standard output, standard error) of one command."""
    code = main(["--config", str(config), "-q", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def exported(config: Path, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    code, out, _ = run(config, capsys, "tickets", "export", "--format", "jsonl")
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def ingest(config: Path, capsys, folder: Path, raw: bytes, name: str = "vm") -> dict:
    """`ingest --json` of one message file: its result object."""
    path = folder / f"{name}.eml"
    path.write_bytes(raw)
    code, out, _ = run(config, capsys, "ingest", "--json", str(path))
    assert code == 0, out
    return json.loads(out)
