"""`status`: exit 0 when all is well, 6 with the reason when something needs a person."""

from __future__ import annotations

import json
from pathlib import Path

from inbox_daemon.cli import main
from inbox_daemon.errors import ExitCode
from tests.conftest import BASE_CONFIG, DEMO_MESSAGES


def cli(config: Path, capsys, *args: str) -> tuple[int, str]:
    code = main(["--config", str(config), "-q", *args])
    return code, capsys.readouterr().out


def test_status_is_well_then_names_a_quarantined_message(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(BASE_CONFIG, encoding="utf-8")
    code, out = cli(config, capsys, "status")
    assert code == ExitCode.ok and "all is well" in out and "no tickets" in out
    demo = sorted(DEMO_MESSAGES.glob("*.eml"))[0]
    cli(config, capsys, "ingest", str(demo))
    code, out = cli(config, capsys, "status", "--json")
    report = json.loads(out)
    assert code == ExitCode.ok and report["last_ticket"]["number"].endswith("/000001")
    assert report["messages"] == {"waiting": 0, "retrying": 0, "quarantined": 0,
                                  "waiting_too_long": 0}  # fmt: skip
    broken = tmp_path / "broken.eml"
    broken.write_bytes(b"\r\n\r\n")
    cli(config, capsys, "ingest", str(broken))
    code, out = cli(config, capsys, "status")
    assert code == ExitCode.needs_attention
    assert "1 message(s) quarantined" in out and "needs attention" in out
