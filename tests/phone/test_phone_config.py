"""`[voicemail]` and `[calls]`: what a mistyped key or a transcriber that cannot run looks
like to the operator (the key named, check-config refusing)."""

from __future__ import annotations

from pathlib import Path

from inbox_daemon.cli import main
from inbox_daemon.errors import ExitCode
from tests.conftest import BASE_CONFIG


def check(tmp_path: Path, capsys, extra: str) -> tuple[int, str]:
    path = tmp_path / "config.toml"
    path.write_text(BASE_CONFIG + extra, encoding="utf-8")
    code = main(["--config", str(path), "check-config"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_default_recognises_asterisk_and_names_ffmpeg(tmp_path, capsys):
    code, out = check(tmp_path, capsys, "")
    assert code == ExitCode.ok and "voicemail: asterisk; ffmpeg" in out


def test_generic_profile_needs_named_groups(tmp_path, capsys):
    extra = '[[voicemail.generic]]\nname = "x"\nsubject = "Vocale"\nfields = ["Da: (\\\\d+)"]\n'
    code, out = check(tmp_path, capsys, extra)
    assert code == ExitCode.bad_config and "voicemail.generic[0].fields" in out
    assert "no named group" in out


def test_generic_profile_with_an_unknown_group(tmp_path, capsys):
    extra = '[[voicemail.generic]]\nname = "x"\nsubject = "V"\nfields = ["(?P<numero>\\\\d+)"]\n'
    code, out = check(tmp_path, capsys, extra)
    assert code == ExitCode.bad_config and "unknown group numero" in out


def test_a_transcriber_command_that_is_not_there(tmp_path, capsys):
    extra = '[voicemail]\ntranscriber = "command"\ntranscriber_command = ["/no/such/asr"]\n'
    code, out = check(tmp_path, capsys, extra)
    assert code == ExitCode.bad_config and "voicemail.transcriber_command" in out


def test_a_transcriber_without_its_command(tmp_path, capsys):
    code, out = check(tmp_path, capsys, '[voicemail]\ntranscriber = "command"\n')
    assert code == ExitCode.bad_config and "needs transcriber_command" in out


def test_calls_columns_are_checked(tmp_path, capsys):
    code, out = check(tmp_path, capsys, '[calls]\nformat = "mapped"\ncolumns = { inizio = "A" }\n')
    assert code == ExitCode.bad_config and "calls.columns" in out and "unknown column inizio" in out
