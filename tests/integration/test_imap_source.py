"""The IMAP source against a real Dovecot: what it stores, what it leaves on the server, and
how it says what went wrong."""

from __future__ import annotations

import hashlib
import logging
import random
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from inbox_daemon.backoff import Backoff
from inbox_daemon.config import Config
from inbox_daemon.errors import SourceError
from inbox_daemon.sources.imap import ImapSource
from inbox_daemon.sources.imap_session import ConnectionLost
from inbox_daemon.spool import BlobStore, Spool
from inbox_daemon.store.db import open_store
from inbox_daemon.store.models import Message
from integration.dovecot import Dovecot
from integration.helpers import PASSWORD_ENV, count, duplicates, imap_cfg, source_state
from integration.mailgen import italian_request, italian_requests

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dovecot")]
NO_WAIT = Backoff(base_s=0.0)  # tests poll again at once; the daemon waits


@dataclass(frozen=True)
class Store:
    """The slice of the daemon a source needs: the database and the spool."""

    engine: Engine
    spool: Spool


@pytest.fixture
def mailbox(
    imap_config: Callable[..., Config], new_user: Callable[[], str]
) -> Callable[..., tuple[str, Store, ImapSource]]:
    """A fresh user, a store and an IMAP source reading the user's mailbox."""

    def make(**keys: object) -> tuple[str, Store, ImapSource]:
        user = new_user()
        config = imap_config(user, **keys)
        engine = open_store(config.database.url)
        store = Store(engine, Spool(engine, BlobStore(config.storage.dir)))
        return user, store, ImapSource(imap_cfg(config), NO_WAIT)

    return make


def test_every_message_stored_once_unread_with_internaldate(dovecot: Dovecot, mailbox) -> None:
    user, ctx, source = mailbox(batch_size=7)
    when = datetime(2026, 3, 6, 18, 45, tzinfo=timezone(timedelta(hours=1)))
    dovecot.append(user, italian_requests(40), when=when)

    assert source.poll(ctx.spool) == 40
    assert source.poll(ctx.spool) == 0
    source.close()

    assert count(ctx.engine, Message, source="posta") == 40
    with Session(ctx.engine) as session:
        received = {m.received_at for m in session.exec(select(Message))}
    assert received == {when}  # INTERNALDATE, aware
    state = source_state(ctx.engine, "posta")
    assert state is not None
    assert state.last_uid == 40 and state.uidvalidity == dovecot.uidvalidity(user)
    assert state.last_success_at is not None and state.last_error is None
    assert all(b"\\Seen" not in flags for flags in dovecot.flags(user).values())


def test_restart_resumes_after_last_stored_uid(dovecot: Dovecot, mailbox) -> None:
    user, ctx, source = mailbox()
    dovecot.append(user, italian_requests(5))
    assert source.poll(ctx.spool) == 5
    source.close()
    dovecot.append(user, italian_requests(3, start=6))

    again = ImapSource(source.config, NO_WAIT)  # a new process, same database
    assert again.poll(ctx.spool) == 3
    again.close()
    assert source_state(ctx.engine, "posta").last_uid == 8


def test_move_empties_inbox_into_processed(dovecot: Dovecot, mailbox) -> None:
    user, ctx, source = mailbox(after="move:Processed", batch_size=10)
    dovecot.append(user, italian_requests(25))

    assert source.poll(ctx.spool) == 25
    source.close()

    assert dovecot.count(user, "INBOX") == 0
    assert dovecot.count(user, "Processed") == 25


def test_flag_marks_stored_messages_and_skips_them_next_time(dovecot: Dovecot, mailbox) -> None:
    user, ctx, source = mailbox(after="flag:Registrato")
    dovecot.append(user, italian_requests(4))

    assert source.poll(ctx.spool) == 4
    dovecot.append(user, italian_requests(1, start=5))
    assert source.poll(ctx.spool) == 1
    source.close()

    flags = dovecot.flags(user)
    assert len(flags) == 5 and all(b"Registrato" in f for f in flags.values())


def test_stored_but_not_yet_moved_is_moved_without_a_duplicate(
    dovecot: Dovecot, mailbox, imap_config, make_config
) -> None:
    """As after a crash between the spool commit and the MOVE: the next pass recognises the
    messages as stored and completes the move."""
    user, ctx, keeping = mailbox(after="keep")
    dovecot.append(user, italian_requests(6))
    assert keeping.poll(ctx.spool) == 6
    keeping.close()

    moving_cfg = imap_cfg(imap_config(user, after="move:Processed"))
    moving = ImapSource(moving_cfg, NO_WAIT)
    assert moving.poll(ctx.spool) == 0
    moving.close()

    assert count(ctx.engine, Message) == 6
    assert dovecot.count(user, "INBOX") == 0 and dovecot.count(user, "Processed") == 6


def test_new_uidvalidity_rereads_without_duplicates(
    dovecot: Dovecot, mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    user, ctx, source = mailbox()
    dovecot.append(user, italian_requests(10))
    assert source.poll(ctx.spool) == 10
    source.close()

    new_validity = dovecot.change_uidvalidity(user)
    dovecot.append(user, italian_requests(2, start=11))
    with caplog.at_level(logging.WARNING):
        assert source.poll(ctx.spool) == 2
    source.close()

    assert count(ctx.engine, Message) == 12
    state = source_state(ctx.engine, "posta")
    assert state.uidvalidity == new_validity and state.last_uid == 12
    assert "new UIDVALIDITY" in caplog.text


def test_large_message_stored_intact(dovecot: Dovecot, mailbox) -> None:
    user, ctx, source = mailbox(max_message_mb=30)
    raw = italian_request(1, random.Random(5), body_bytes=20 * 1024 * 1024)
    dovecot.append(user, [raw])

    assert source.poll(ctx.spool) == 1
    source.close()

    with Session(ctx.engine) as session:
        stored = session.exec(select(Message)).one()
    assert stored.size == len(raw) and stored.sha256 == hashlib.sha256(raw).hexdigest()
    assert ctx.spool.read(stored.sha256) == raw


def test_message_over_the_limit_stays_on_server_and_is_reported(
    dovecot: Dovecot, mailbox, imap_config
) -> None:
    user, ctx, source = mailbox(max_message_mb=1, after="move:Processed")
    small = italian_requests(3)
    big = italian_request(99, random.Random(9), body_bytes=2 * 1024 * 1024)
    dovecot.append(user, [small[0], big, *small[1:]])

    with pytest.raises(SourceError, match=r"UID 2 \(3 MB\) over max_message_mb = 1"):
        source.poll(ctx.spool)
    source.close()
    assert count(ctx.engine, Message) == 3
    assert dovecot.count(user, "INBOX") == 1  # the big one, unread and unmoved
    assert all(b"\\Seen" not in f for f in dovecot.flags(user).values())
    state = source_state(ctx.engine, "posta")
    assert "max_message_mb" in state.last_error and state.last_uid == 1

    raised = ImapSource(imap_cfg(imap_config(user, max_message_mb=5, after="move:Processed")),
                        NO_WAIT)  # fmt: skip
    assert raised.poll(ctx.spool) == 1
    raised.close()
    assert dovecot.count(user, "INBOX") == 0 and dovecot.count(user, "Processed") == 4
    assert source_state(ctx.engine, "posta").last_error is None


def test_missing_folder_is_named_and_other_folders_still_read(dovecot: Dovecot, mailbox) -> None:
    user, ctx, source = mailbox(folders=["INBOX", "Fax"])
    dovecot.append(user, italian_requests(2))
    dovecot.append(user, italian_requests(2, start=3), folder="Fax")
    assert source.poll(ctx.spool) == 4

    dovecot.delete_folder(user, "Fax")
    dovecot.append(user, italian_requests(1, start=5))
    with pytest.raises(SourceError, match=r"folder 'Fax' cannot be opened .* check folders"):
        source.poll(ctx.spool)
    source.close()

    assert count(ctx.engine, Message) == 5
    assert "Fax" in source_state(ctx.engine, "posta", "Fax").last_error
    assert source_state(ctx.engine, "posta", "INBOX").last_error is None


def test_wrong_password_names_account_and_where_the_password_comes_from(
    dovecot: Dovecot, mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "sbagliata")
    user, ctx, source = mailbox()

    with pytest.raises(ConnectionLost) as failed:
        source.poll(ctx.spool)
    assert str(failed.value) == (
        f"login refused for {user} at 127.0.0.1: check password_env INBOX_TEST_IMAP_PASSWORD"
    )
    assert source_state(ctx.engine, "posta").last_error == str(failed.value)


def test_server_down_then_back(dovecot: Dovecot, mailbox) -> None:
    user, ctx, source = mailbox()
    dovecot.append(user, italian_requests(2))
    assert source.poll(ctx.spool) == 2

    dovecot.stop()
    try:
        with pytest.raises(ConnectionLost, match="refused: is the server running"):
            source.poll(ctx.spool)  # the kept connection is dead, and so is the server
    finally:
        dovecot.start()
    dovecot.append(user, italian_requests(1, start=3))
    assert source.poll(ctx.spool) == 1
    source.close()
    assert source_state(ctx.engine, "posta").last_error is None


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_tls_verified_against_ca_file(
    dovecot: Dovecot, mailbox, tls_files, tls: str, tmp_path: Path
) -> None:
    cert, _key = tls_files
    shutil.copy(cert, tmp_path / "ca.pem")  # relative to the config file's folder
    port = dovecot.imaps_port if tls == "implicit" else dovecot.port
    user, ctx, source = mailbox(tls=tls, port=port, ca_file="ca.pem")
    dovecot.append(user, italian_requests(1))
    assert source.poll(ctx.spool) == 1
    source.close()


def test_untrusted_certificate_is_refused_with_advice(dovecot: Dovecot, mailbox) -> None:
    _user, ctx, source = mailbox(tls="implicit", port=dovecot.imaps_port)
    with pytest.raises(ConnectionLost, match=r"not trusted .* set ca_file"):
        source.poll(ctx.spool)
    source.close()


def test_server_killed_mid_fetch_then_resumed_without_loss_or_duplicate(
    dovecot: Dovecot, mailbox
) -> None:
    user, ctx, source = mailbox(batch_size=5)
    dovecot.append(user, italian_requests(300))
    outcome: list[object] = []
    poller = threading.Thread(target=lambda: outcome.append(_poll_result(source, ctx.spool)))
    poller.start()
    deadline = time.monotonic() + 60
    while count(ctx.engine, Message) < 20 and time.monotonic() < deadline:
        time.sleep(0.002)
    dovecot.kill()
    poller.join(60)
    dovecot.start()
    stored_before = count(ctx.engine, Message)

    assert isinstance(outcome[0], ConnectionLost) and "lost" in str(outcome[0])
    assert 20 <= stored_before < 300
    assert source.poll(ctx.spool) == 300 - stored_before
    source.close()
    assert count(ctx.engine, Message) == 300 and duplicates(ctx.engine) == []
    assert source_state(ctx.engine, "posta").last_uid == 300


def _poll_result(source: ImapSource, spool: Spool) -> object:
    try:
        return source.poll(spool)
    except SourceError as exc:
        return exc
