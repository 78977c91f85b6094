"""Configuration: the contract keys load, and every mistake is named by its key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import BaseModel

import rules
from inbox_daemon.addresses import is_among
from inbox_daemon.cli import main
from inbox_daemon.config import (
    FolderSource,
    ImapSource,
    SmtpSource,
    WebSource,
    load_config,
    not_acted_on,
    resolve_secrets,
)
from inbox_daemon.config.base import walk
from inbox_daemon.errors import ConfigError, ExitCode
from tests.conftest import BASE_CONFIG, DEMO_MESSAGES

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
    assert kinds == [ImapSource, ImapSource, SmtpSource, FolderSource, WebSource]
    pec = config.source("pec")
    assert pec.password == "s3cret" and pec.channel == "pec" and pec.after == "move:Processed"
    assert config.source("fax").password == "fax-pass"
    assert config.poles.formats[0].canonical == "IP-{num}"
    assert config.calendar.closures == ["12-24/01-02", "2027-08-09/2027-08-22"]
    assert config.routing[0].queue == "reperibilita" and config.routing[-1].match == {}
    assert config.acknowledgements.from_ == "segnalazioni@example.it"
    assert config.source("ingress").channels == {"fax@example.it": "fax"}


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
            '[acknowledgements.smtp]\nusername="u"\npassword="x"\n',
            "acknowledgements.smtp.password: inline passwords are not accepted",
        ),
        (
            '[[routing]]\nmatch = { urgncy = "emergenza" }\nqueue = "q"\n',
            "routing[0].match: unknown fact urgncy",
        ),
        (
            '[[sources]]\nname="a"\nkind="imap"\nhost="h"\nusername="u"\n',
            "sources[0]: a password is needed: set password_env or password_file",
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


# --- paths: resolved by their field type -------------------------------------------------

EVERY_PATH = """
[database]
url = "sqlite:///db/t.db"
[storage]
dir = "blobs"
sync = "files"
[poles]
register = "poles.csv"
[rules]
files = ["mine.toml"]
[acknowledgements]
template = "ack.txt"
[acknowledgements.smtp]
username = "u"
password_file = "relay.secret"
[pec]
trust_store = "pec-providers.pem"
[voicemail]
vosk_model = "vosk-model-it"
[[sources]]
name = "pec"
kind = "imap"
host = "imap.example.it"
username = "u"
password_file = "pec.secret"
ca_file = "ca.pem"
smtp = { username = "u", password_file = "smtp.secret" }
[[sources]]
name = "ingress"
kind = "smtp"
recipients = ["@example.it"]
tls_cert = "cert.pem"
tls_key = "key.pem"
username = "u"
password_file = "ingress.secret"
[[sources]]
name = "drop"
kind = "folder"
path = "drop"
"""


def every_path_config(tmp_path: Path):
    for name in (
        "ack.txt",
        "ca.pem",
        "relay.secret",
        "pec.secret",
        "smtp.secret",
        "ingress.secret",
        "pec-providers.pem",  # must exist since the trust store is read (issue 14)
    ):
        (tmp_path / name).write_text("x")
    (tmp_path / "mine.toml").write_text("[rules]\n")
    return load_config(write(tmp_path, EVERY_PATH))


def paths_in(value: object) -> list[Path]:
    if isinstance(value, Path):
        return [value]
    if isinstance(value, list | tuple):
        return [p for item in value for p in paths_in(item)]
    if isinstance(value, BaseModel):
        return [p for field in type(value).model_fields for p in paths_in(getattr(value, field))]
    return []


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        (lambda c: c.database.url, "sqlite:///{base}/db/t.db"),
        (lambda c: c.storage.dir, "{base}/blobs"),
        (lambda c: c.storage.sync, "files"),  # was replaced by the default with the paths
        (lambda c: c.poles.register_path, "{base}/poles.csv"),
        (lambda c: c.rules.files[0], "{base}/mine.toml"),
        (lambda c: c.acknowledgements.template, "{base}/ack.txt"),
        (lambda c: c.acknowledgements.smtp.password_file, "{base}/relay.secret"),
        (lambda c: c.pec.trust_store, "{base}/pec-providers.pem"),  # was never resolved
        (lambda c: c.source("pec").ca_file, "{base}/ca.pem"),
        (lambda c: c.source("pec").password_file, "{base}/pec.secret"),
        (lambda c: c.source("pec").smtp.password_file, "{base}/smtp.secret"),
        (lambda c: c.source("ingress").tls_cert, "{base}/cert.pem"),
        (lambda c: c.source("ingress").tls_key, "{base}/key.pem"),
        (lambda c: c.source("drop").path, "{base}/drop"),
    ],
)
def test_relative_paths_resolve_against_the_config_folder_and_keep_their_siblings(
    tmp_path, read, expected
):
    config = every_path_config(tmp_path)
    assert str(read(config)) == expected.format(base=tmp_path)


def test_no_relative_path_survives_loading_whatever_the_field(tmp_path):
    config = every_path_config(tmp_path)
    found = paths_in(config)
    assert found and [p for p in found if not p.is_absolute()] == []
    # Every Path field of the schema is set by EVERY_PATH, so a new one cannot slip past.
    unset = [
        f"{key}.{field}"
        for key, model in walk(config)
        for field, info in type(model).model_fields.items()
        if "Path" in str(info.annotation) and field not in model.model_fields_set
    ]
    assert unset == []


def test_defaults_resolve_too_when_a_table_is_left_out(tmp_path):
    config = load_config(write(tmp_path, "[calendar]\ntimezone = 'Europe/Rome'\n"))
    assert config.storage.dir == tmp_path / "store"
    assert config.database.url == f"sqlite:///{tmp_path}/tickets.db"


def test_absolute_and_memory_urls_are_left_alone(tmp_path):
    for url in ("sqlite:////var/lib/t.db", "sqlite:///:memory:", "postgresql://db/inbox"):
        config = load_config(write(tmp_path, f'[database]\nurl = "{url}"\n'))
        assert config.database.url == url


# --- secrets: read only by the commands that connect -------------------------------------

UNSET_SECRETS = """
[acknowledgements.smtp]
username = "relay"
password_env = "INBOX_TEST_UNSET_ACK"
[[sources]]
name = "pec"
kind = "imap"
host = "imap.example.it"
username = "u"
password_env = "INBOX_TEST_UNSET_PEC"
[[sources]]
name = "fax"
kind = "imap"
host = "imap.example.it"
username = "u"
password_file = "no-such.secret"
"""


def test_loading_reads_no_secret_and_a_missing_one_is_named_when_read(tmp_path):
    config = load_config(write(tmp_path, UNSET_SECRETS))
    with pytest.raises(ConfigError) as err:
        config.source("pec").password  # noqa: B018
    assert err.value.problems == [
        "sources[0].password_env: environment variable INBOX_TEST_UNSET_PEC is not set"
    ]


def test_resolve_secrets_reports_every_missing_secret_at_once(tmp_path):
    config = load_config(write(tmp_path, UNSET_SECRETS))
    with pytest.raises(ConfigError) as err:
        resolve_secrets(config)
    assert err.value.problems == [
        "acknowledgements.smtp.password_env: environment variable INBOX_TEST_UNSET_ACK is not set",
        "sources[0].password_env: environment variable INBOX_TEST_UNSET_PEC is not set",
        f"sources[1].password_file: cannot read {tmp_path}/no-such.secret: "
        "No such file or directory",
    ]


def test_a_secret_is_read_once_at_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("INBOX_TEST_UNSET_PEC", "first")
    monkeypatch.setenv("INBOX_TEST_UNSET_ACK", "relay")
    (tmp_path / "no-such.secret").write_text("fax\n")
    config = load_config(write(tmp_path, UNSET_SECRETS))
    resolve_secrets(config)
    monkeypatch.setenv("INBOX_TEST_UNSET_PEC", "changed later")
    assert config.source("pec").password == "first"
    assert config.source("fax").password == "fax"


def test_commands_that_do_not_connect_work_without_the_password_variables(tmp_path, capsys):
    path = write(tmp_path, BASE_CONFIG + UNSET_SECRETS)
    assert main(["--config", str(path), "-q", "tickets", "export"]) == ExitCode.ok
    assert main(["--config", str(path), "-q", "acks", "list"]) == ExitCode.ok
    assert main(["--config", str(path), "-q", "messages", "list"]) == ExitCode.ok
    assert main(["--config", str(path), "-q", "rules", "explain", "palo caduto"]) == ExitCode.ok
    demo = str(sorted(DEMO_MESSAGES.glob("*.eml"))[0])
    assert main(["--config", str(path), "-q", "ingest", demo]) == ExitCode.ok  # queues, sends none
    assert "is not set" not in capsys.readouterr().err


@pytest.mark.parametrize("command", [["check-config"], ["run", "--once"]])
def test_check_config_and_run_name_every_missing_secret(tmp_path, capsys, command):
    path = write(tmp_path, BASE_CONFIG + UNSET_SECRETS)
    assert main(["--config", str(path), *command]) == ExitCode.bad_config
    err = capsys.readouterr().err
    assert "acknowledgements.smtp.password_env: environment variable INBOX_TEST_UNSET_ACK" in err
    assert "sources[0].password_env: environment variable INBOX_TEST_UNSET_PEC is not set" in err
    assert "sources[1].password_file: cannot read" in err


# --- keys accepted but not acted on yet ----------------------------------------------------

FOLDER = '[[sources]]\nname = "drop"\nkind = "folder"\npath = "drop"\n'


def test_a_key_not_acted_on_is_refused_by_check_config_and_warned_by_the_rest(
    tmp_path, capsys, caplog, monkeypatch
):
    """Every key DESIGN.md names is acted on today; the mechanism stays for the next one, so
    a key is entered in `NOT_ACTED_ON` here for the test."""
    from inbox_daemon.config import pending
    from inbox_daemon.config.sources import SourceBase

    monkeypatch.setitem(pending.NOT_ACTED_ON, (SourceBase, "channel"), "a test's pretence")
    key = "sources[0].channel"
    text = BASE_CONFIG + FOLDER + 'channel = "email"\n'
    path = write(tmp_path, text)
    assert main(["--config", str(path), "check-config"]) == ExitCode.bad_config
    assert f"  {key}: not acted on yet: " in capsys.readouterr().err
    caplog.clear()
    assert main(["--config", str(path), "tickets", "list"]) == ExitCode.ok
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert [m for m in warned if "not acted on yet" in m] == [
        next(m for m in warned if m.startswith(f"{key}: not acted on yet: "))
    ]


def test_a_default_is_not_taken_for_a_key_the_file_sets(tmp_path):
    config = load_config(write(tmp_path, FOLDER + '[[routing]]\nqueue = "q"\n'))
    assert not_acted_on(config) == []


def test_the_example_config_passes_check_config(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INBOX_PEC_PASSWORD", "s3cret")
    (tmp_path / "fax.secret").write_text("fax-pass\n")
    text = (REPO / "config.example.toml").read_text()
    text = text.replace("/etc/inbox-daemon/fax.secret", str(tmp_path / "fax.secret"))
    path = write(tmp_path, text)
    assert main(["--config", str(path), "check-config"]) == ExitCode.ok, capsys.readouterr().err


# --- small shared helpers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "entries", "expected"),
    [
        ("mario@comune.it", {"mario@comune.it"}, True),
        ("Mario@Comune.IT", {"mario@comune.it"}, True),
        ("anna@comune.it", {"@comune.it"}, True),
        ("anna@sub.comune.it", {"@comune.it"}, False),
        ("anna@comune.it.evil", {"@comune.it"}, False),
        ("comune.it", {"@comune.it"}, False),
        ("", {""}, False),
    ],
)
def test_an_address_is_among_addresses_and_domains(address, entries, expected):
    assert is_among(address, entries) is expected


def test_pole_formats_come_from_the_file_or_the_shipped_defaults(tmp_path):
    given = load_config(write(tmp_path, "[[poles.formats]]\nregex = 'P(?P<num>\\d+)'\n"))
    assert given.poles.pole_formats() == (rules.PoleFormat(r"P(?P<num>\d+)", "{num}"),)
    default = load_config(write(tmp_path, ""))
    assert default.poles.pole_formats() == tuple(rules.DEFAULT_POLE_FORMATS)
