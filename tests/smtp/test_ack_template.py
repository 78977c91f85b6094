"""An operator's acknowledgement template is checked at start-up, not discovered by citizens."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from inbox_daemon.acks import PLACEHOLDERS, placeholders
from inbox_daemon.cli import main
from inbox_daemon.config import AcknowledgementsConfig
from inbox_daemon.errors import ExitCode
from inbox_daemon.store.models import Ticket
from tests.conftest import BASE_CONFIG


def test_the_documented_placeholders_are_the_rendered_ones():
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    ticket = Ticket(year=2026, seq=1, number="2026/000001", message_pk=1, channel="email",
                    request_type="manutenzione", urgency="ordinaria", received_at=now,
                    deemed_received_at=now, registered_at=now)  # fmt: skip
    rendered = placeholders(AcknowledgementsConfig(), ticket, ZoneInfo("Europe/Rome"))
    assert set(rendered) == PLACEHOLDERS


def config_with_template(tmp_path, text: str):
    (tmp_path / "ack.txt").write_text(text, encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(
        BASE_CONFIG + '[acknowledgements]\nenabled = true\nfrom = "cc@example.it"\n'
        'template = "ack.txt"\n'
    )
    return path


def test_a_misspelt_placeholder_stops_the_daemon_with_its_name(tmp_path, capsys):
    path = config_with_template(tmp_path, "Richiesta $number del $registred_at\n")
    assert main(["--config", str(path), "check-config"]) == ExitCode.bad_config
    assert "unknown placeholder $registred_at" in capsys.readouterr().err
    assert main(["--config", str(path), "tickets", "list"]) == ExitCode.bad_config


def test_a_lone_dollar_is_reported(tmp_path, capsys):
    path = config_with_template(tmp_path, "Costo: 5 $ al mese, richiesta $number\n")
    assert main(["--config", str(path), "check-config"]) == ExitCode.bad_config
    assert "write $$" in capsys.readouterr().err


def test_a_good_template_passes(tmp_path, capsys):
    path = config_with_template(tmp_path, "Richiesta ${number}, $registered_at. Costo $$5\n")
    assert main(["--config", str(path), "check-config"]) == ExitCode.ok
