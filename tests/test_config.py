"""Configuration: the contract keys load, and every mistake is named by its key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from inbox_daemon.cli import main
from inbox_daemon.config import FolderSource, ImapSource, SmtpSource, load_config
from inbox_daemon.errors import ConfigError, ExitCode

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads_with_every_contract_key(tmp_path, monkeypatch):
    monkeypatch.setenv("INBOX_PEC_PASSWORD", "s3cret")
    (tmp_path / "fax.secret").write_text("fax-pass\n")
    text = (REPO / "config.example.toml").read_text()
    text = text.replace("/etc/inbox-daemon/fax.secret", str(tmp_path / "fax.secret"))
    config = load_config(write(tmp_path, text))
    kinds = [type(s) for s in config.sources]
    assert kinds == [ImapSource, ImapSource, SmtpSource, FolderSource]
    pec = config.source("pec")
    assert pec.password == "s3cret" and pec.channel == "pec" and pec.after == "move:Processed"
    assert config.source("fax").password == "fax-pass"
    assert config.poles.formats[0].canonical == "IP-{num}"
    assert config.calendar.closures == ["12-24/01-02", "2027-08-09/2027-08-22"]
    assert config.routing[0].queue == "reperibilita" and config.routing[-1].match == {}
    assert config.acknowledgements.from_ == "segnalazioni@example.it"
    assert config.source("ingress").channels == {"fax@example.it": "fax"}


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    config = load_config(write(tmp_path, '[database]\nurl = "sqlite:///db/t.db"\n'))
    assert config.database.url == f"sqlite:///{tmp_path}/db/t.db"
    assert config.storage.dir == tmp_path / "store"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[[sources]]\nname = "x"\nkind = "pop3"\n', "sources[0]: kind must be one of"),
        ('[[sources]]\nname = "x"\n', "sources[0]: missing key 'kind'"),
        (
            '[[sources]]\nname="a"\nkind="imap"\nhost="h"\nusername="u"\n'
            'password_env="NOPE_NOT_SET"\nport=99999\n',
            "sources[0].port:",
        ),
        (
            '[[sources]]\nname="a"\nkind="imap"\nhost="h"\nusername="u"\npassword="x"\n',
            "sources[0].password: inline passwords are not accepted",
        ),
        (
            '[[sources]]\nname="a"\nkind="imap"\nhost="h"\nusername="u"\n'
            'password_env="NOPE_NOT_SET"\n',
            "sources[0].password_env: environment variable NOPE_NOT_SET is not set",
        ),
        (
            '[[sources]]\nname="a"\nkind="imap"\nhost="imap.example.it"\nusername="u"\n'
            'password_file="pw"\ntls="none"\n',
            "sources[0].tls: 'none' sends the password in clear",
        ),
        (
            '[[sources]]\nname="a"\nkind="imap"\nhost="h"\nusername="u"\npassword_file="pw"\n'
            'after="archive"\n',
            "sources[0].after: expected 'keep', 'move:FOLDER' or 'flag:FLAG'",
        ),
        ('[[sources]]\nname="d"\nkind="smtp"\nrecipients=[]\nlisten="nope"\n', "HOST:PORT"),
        ("[[poles.formats]]\nregex = 'IP(?P<num>\\d{6}'\n", "poles.formats[0].regex: not a valid"),
        (
            "[[poles.formats]]\nregex = 'IP(?P<n>\\d{6})'\ncanonical = 'IP-{num}'\n",
            "poles.formats[0].canonical: names groups not in regex: num",
        ),
        ("[databse]\nurl = 'x'\n", "databse: unknown key"),
        ('[calendar]\nopening_hours = "someday 25:00-26:00"\n', "calendar:"),
        ("[acknowledgements]\nenabled = true\n", "acknowledgements.from: an e-mail address"),
        ('[storage]\nsync = "sometimes"\n', "storage.sync:"),
    ],
)
def test_mistakes_are_named_by_their_key(tmp_path, toml, expected):
    (tmp_path / "pw").write_text("x")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, toml))
    assert any(expected in problem for problem in err.value.problems), err.value.problems


def test_every_problem_is_reported_at_once(tmp_path):
    toml = (
        '[[sources]]\nname="a"\nkind="folder"\npath="d"\n'
        '[[sources]]\nname="a"\nkind="folder"\npath="e"\n'
        "[processing]\nmax_attempts = 0\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, toml))
    assert any("processing.max_attempts" in p for p in err.value.problems)


def test_duplicate_source_names_are_refused(tmp_path):
    toml = '[[sources]]\nname="a"\nkind="folder"\npath="d"\n' * 1
    toml += '[[sources]]\nname="a"\nkind="folder"\npath="e"\n'
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, toml))
    assert err.value.problems == ["sources[1].name: 'a' is used by another source"]


def test_password_file_is_read_and_stripped(tmp_path):
    (tmp_path / "secret").write_text("hunter2\n")
    toml = '[[sources]]\nname="a"\nkind="imap"\nhost="h"\nusername="u"\npassword_file="secret"\n'
    assert load_config(write(tmp_path, toml)).sources[0].password == "hunter2"


def test_check_config_exit_codes(tmp_path, capsys):
    good = write(tmp_path, '[[sources]]\nname="drop"\nkind="folder"\npath="drop"\n')
    assert main(["--config", str(good), "check-config"]) == ExitCode.ok
    assert "source drop: folder" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\n")
    assert main(["--config", str(bad), "check-config"]) == ExitCode.bad_config
    assert "not valid TOML" in capsys.readouterr().err
    missing = tmp_path / "missing.toml"
    assert main(["--config", str(missing), "check-config"]) == ExitCode.bad_config


def test_unusable_database_is_a_store_error(tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    path = write(tmp_path, f'[database]\nurl = "sqlite:///{blocker}/sub/t.db"\n')
    assert main(["--config", str(path), "tickets", "list"]) == ExitCode.store_unavailable
    assert "not usable" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "store", ignore_errors=True)
