"""Storing and acknowledging are separate promises, on servers unlike Dovecot's default.

Two throwaway Dovecots: one whose personal folders live under `INBOX.` with `.` between
levels (as on Cyrus and Courier: `CREATE Processed` is refused there), and one that withholds
the right to set keywords (PERMANENTFLAGS lists only \\Seen and \\Deleted; Dovecot then
ignores a keyword STORE without a word). Every stored message becomes a ticket whatever the
server says to its move or flag; the refused post-action is counted, reported once with what
to change, retried on later passes, and never stops the fetching of the rest or of new mail.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from imapclient.exceptions import IMAPClientError

from inbox_daemon.cli import main
from inbox_daemon.context import Context
from inbox_daemon.daemon import Daemon
from inbox_daemon.errors import ExitCode
from inbox_daemon.sources.imap import ImapSource
from inbox_daemon.store.models import Message, Ticket
from integration.dovecot import Dovecot
from integration.helpers import (
    IN_PROCESS,
    count,
    dovecot_or_skip,
    duplicates,
    imap_cfg,
    imap_source_toml,
    source_state,
)
from integration.mailgen import italian_requests
from tests.conftest import BASE_CONFIG

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dovecot")]


@pytest.fixture(scope="module")
def prefixed() -> Iterator[Dovecot]:
    with dovecot_or_skip(inbox_prefix="INBOX.") as server:
        yield server


@pytest.fixture(scope="module")
def no_keywords() -> Iterator[Dovecot]:
    with dovecot_or_skip(keywords=False, rawlog=True) as server:
        yield server


@pytest.fixture
def daemon_on(
    make_context: Callable[..., Context], new_user: Callable[[], str], imap_password: str
) -> Callable[..., tuple[str, Context]]:
    """A fresh user on `server`, and a daemon context whose source `posta` reads it."""

    def make(server: Dovecot, user: str | None = None, **keys: Any) -> tuple[str, Context]:
        user = user or new_user()
        source = imap_source_toml("posta", user, port=server.port, **keys)
        return user, make_context(source + IN_PROCESS)

    return make


def logged(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


def test_move_target_and_folders_are_read_in_the_personal_namespace(
    prefixed: Dovecot, daemon_on, caplog: pytest.LogCaptureFixture
) -> None:
    """`move:Già trattati` means `INBOX.Già trattati` there (a bare CREATE is refused), and a
    watched `Fax in entrata` is `INBOX.Fax in entrata`: names cross in modified UTF-7 both
    ways, and the server's own listing shows the folder under its real name."""
    user, ctx = daemon_on(
        prefixed, after="move:Già trattati", folders=["INBOX", "Fax in entrata"], batch_size=4
    )
    prefixed.append(user, italian_requests(10))
    prefixed.append(user, italian_requests(3), folder="INBOX.Fax in entrata")
    with prefixed.client(user) as client, pytest.raises(IMAPClientError, match="namespace"):
        client.create_folder("Già trattati")  # what the daemon did before

    caplog.set_level(logging.INFO, logger="inbox_daemon")
    assert Daemon(ctx).run_once() == ExitCode.ok
    assert count(ctx.engine, Ticket) == 13 and duplicates(ctx.engine) == []
    assert prefixed.count(user, "INBOX") == 0 and prefixed.count(user, "INBOX.Fax in entrata") == 0
    assert prefixed.count(user, "INBOX.Già trattati") == 13
    with prefixed.client(user) as client:
        assert "INBOX.Già trattati" in [name for _flags, _sep, name in client.list_folders()]
    said = "folder 'Già trattati' is 'INBOX.Già trattati' on this server"
    assert logged(caplog, said) == 1  # once, though every batch of both folders moves there
    assert logged(caplog, "personal namespace 'INBOX.', separator '.'") == 2  # and the Fax one


def test_refused_move_tickets_every_message_and_new_mail_and_says_the_fix_once(
    prefixed: Dovecot, daemon_on, caplog: pytest.LogCaptureFixture
) -> None:
    """`Archivio/2026` is refused ('/' is no separator there): before, the pass ended after
    the first batch, 50 tickets of 300, and mail arriving later was never read."""
    user, ctx = daemon_on(prefixed, after="move:Archivio/2026")
    prefixed.append(user, italian_requests(300))
    caplog.set_level(logging.INFO, logger="inbox_daemon")
    daemon = Daemon(ctx)

    assert daemon.run_once() == ExitCode.source_failed  # exit 5: something for the operator
    assert count(ctx.engine, Ticket) == 300 and count(ctx.engine, Message) == 300
    assert prefixed.count(user, "INBOX") == 300  # nothing moved, nothing lost
    state = source_state(ctx.engine, "posta")
    assert state is not None and state.awaiting_action == 300
    assert "refused to move stored messages to 'INBOX.Archivio/2026'" in state.last_error
    assert "Name must not have '/' characters" in state.last_error  # the server's own words
    assert 'check after = "move:Archivio/2026"' in state.last_error
    assert "personal namespace 'INBOX.', separator '.'" in state.last_error  # the way out
    assert logged(caplog, "300 stored message(s) waiting for their post-action") == 1

    prefixed.append(user, italian_requests(1))  # mail that arrives afterwards
    assert daemon.run_once() == ExitCode.source_failed
    assert count(ctx.engine, Ticket) == 301 and duplicates(ctx.engine) == []
    assert source_state(ctx.engine, "posta").awaiting_action == 301
    assert logged(caplog, "refused to move stored messages") == 1  # reported once

    _user, fixed = daemon_on(prefixed, user=user, after="move:Archivio.2026")  # same database
    assert Daemon(fixed).run_once() == ExitCode.ok  # retried: moved, not stored again
    assert count(ctx.engine, Ticket) == 301 and count(ctx.engine, Message) == 301
    assert prefixed.count(user, "INBOX") == 0 and prefixed.count(user, "INBOX.Archivio.2026") == 301
    state = source_state(ctx.engine, "posta")
    assert state.awaiting_action == 0 and state.last_error is None


def test_keywords_not_kept_fall_back_to_keep_with_the_state_in_the_database(
    no_keywords: Dovecot, daemon_on, caplog: pytest.LogCaptureFixture
) -> None:
    """Dovecot answers OK to a keyword it will not keep: flagging "works" and every pass
    found all the mail unflagged again. PERMANENTFLAGS says so before any STORE."""
    user, ctx = daemon_on(no_keywords, after="flag:$InboxDaemon", batch_size=8)
    no_keywords.append(user, italian_requests(20))
    caplog.set_level(logging.INFO, logger="inbox_daemon")
    daemon = Daemon(ctx)

    assert daemon.run_once() == ExitCode.ok  # the mailbox works; the log says how
    assert count(ctx.engine, Ticket) == 20
    said = "does not keep the flag $InboxDaemon (PERMANENTFLAGS (\\Deleted \\Seen))"
    assert logged(caplog, said) == 1 and logged(caplog, 'acting as after = "keep"') == 1
    assert all(b"$InboxDaemon" not in f for f in no_keywords.flags(user).values())
    assert source_state(ctx.engine, "posta").last_uid == 20  # the database keeps the place

    no_keywords.append(user, italian_requests(1))
    no_keywords.record_commands(user)
    assert daemon.run_once() == ExitCode.ok
    sent = no_keywords.commands(user)  # read as keep: from the resume point, nothing stored
    assert not [c for c in sent if "STORE" in c or "UNKEYWORD" in c], sent
    assert "UID SEARCH UID 21:*" in sent
    assert count(ctx.engine, Ticket) == 21 and count(ctx.engine, Message) == 21
    assert duplicates(ctx.engine) == [] and source_state(ctx.engine, "posta").last_uid == 21
    assert logged(caplog, said) == 1


@pytest.fixture
def sources_test(
    tmp_path: Path, new_user: Callable[[], str], imap_password: str, capsys
) -> Callable[..., tuple[int, str]]:
    """`inbox-daemon sources test` on a config whose source `posta` reads a fresh user."""

    def run(server: Dovecot, **keys: Any) -> tuple[int, str]:
        path = tmp_path / "config.toml"
        source = imap_source_toml("posta", new_user(), port=server.port, **keys)
        path.write_text(BASE_CONFIG + source, encoding="utf-8")
        code = main(["--config", str(path), "sources", "test"])
        return code, capsys.readouterr().out

    return run


def test_sources_test_finds_the_refused_move_before_any_mail(prefixed: Dovecot, sources_test):
    code, out = sources_test(prefixed, after="move:Archivio/2026", folders=["INBOX", "Fax"])
    assert code == ExitCode.source_failed
    assert "logged in; personal namespace 'INBOX.', separator '.'" in out
    assert "ok   watches 'INBOX': 0 message(s) waiting" in out
    assert "FAIL watches 'Fax' (on the server 'INBOX.Fax'): cannot be opened" in out
    assert "FAIL after = move: 'Archivio/2026' (on the server 'INBOX.Archivio/2026') cannot" in out

    code, out = sources_test(prefixed, after="move:Processed")
    assert code == ExitCode.ok, out
    assert "'Processed' (on the server 'INBOX.Processed'), created at the first move" in out


def test_sources_test_checks_the_flag_against_permanent_flags(no_keywords: Dovecot, sources_test):
    code, out = sources_test(no_keywords, after="flag:$InboxDaemon")
    assert code == ExitCode.source_failed
    assert "FAIL after = flag:$InboxDaemon: the server does not keep it" in out
    code, out = sources_test(no_keywords, after="flag:\\Seen")
    assert code == ExitCode.ok and "the server keeps it (PERMANENTFLAGS (\\Deleted \\Seen))" in out


def test_idle_watches_a_folder_by_its_name_on_the_server(prefixed: Dovecot, daemon_on) -> None:
    """IDLE on `Fax` selects `INBOX.Fax`; before, it failed to SELECT and retried forever,
    so only the poll brought fax mail in."""
    user, ctx = daemon_on(prefixed, folders=["Fax"], idle=True)
    prefixed.append(user, italian_requests(1), folder="INBOX.Fax")
    source = ImapSource(imap_cfg(ctx.config))
    woken = threading.Semaphore(0)
    source.watch(woken.release)
    try:
        assert woken.acquire(timeout=30)  # selected: it polls for what came before
        prefixed.append(user, italian_requests(1, start=2), folder="INBOX.Fax")
        assert woken.acquire(timeout=30)  # EXISTS in INBOX.Fax
    finally:
        source.close()
