"""`after = "move:..."` on a Dovecot that does not announce MOVE (RFC 6851): the source copies
(UID COPY), flags the originals \\Deleted and expunges them, with UID EXPUNGE when UIDPLUS is
announced and plain EXPUNGE when it is not; and a server crash between the COPY and the
EXPUNGE costs no duplicate message and no duplicate ticket.

Each test runs on two throwaway servers: Dovecot's own capability list less MOVE, and less
MOVE and UIDPLUS. Dovecot still accepts the commands it no longer announces, so the tests read
the server's record of each session (rawlog) to prove which commands the daemon really sent.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from imapclient import IMAPClient

from inbox_daemon.context import Context
from inbox_daemon.daemon import Daemon
from inbox_daemon.errors import ExitCode
from inbox_daemon.sources.imap_session import ImapSession
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

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dovecot")]
ARCHIVE = "Archivio"


@pytest.fixture(
    scope="module", params=[("MOVE",), ("MOVE", "UIDPLUS")], ids=["no-MOVE", "no-MOVE-UIDPLUS"]
)
def reduced(request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    with dovecot_or_skip(without=request.param, rawlog=True) as server:
        yield server


@pytest.fixture
def server(reduced: Dovecot) -> Dovecot:
    """The module's reduced Dovecot, running (a crash test kills it)."""
    if reduced.process is None:
        reduced.start()
    return reduced


@pytest.fixture
def archiving(
    server: Dovecot,
    make_context: Callable[..., Context],
    new_user: Callable[[], str],
    imap_password: str,
) -> Callable[..., tuple[str, Context]]:
    """A fresh user and a daemon context whose source `posta` moves its mail to ARCHIVE."""

    def make(**keys: Any) -> tuple[str, Context]:
        user = new_user()
        source = imap_source_toml("posta", user, port=server.port, after=f"move:{ARCHIVE}", **keys)
        return user, make_context(source + IN_PROCESS)

    return make


def sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def held(server: Dovecot, user: str, folder: str) -> Counter[str]:
    """How many times the folder holds each message (by the sha256 of its bytes)."""
    with server.client(user) as client:
        if not client.folder_exists(folder):
            return Counter()
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        found = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
    return Counter(sha(data[b"BODY[]"]) for data in found.values())


def verbs(commands: list[str]) -> list[str]:
    """`UID COPY 1:3 "Archivio"` -> `UID COPY`; `EXPUNGE` -> `EXPUNGE`."""
    words = [command.split() for command in commands]
    return [" ".join(w[:2]) if w[0] == "UID" else w[0] for w in words]


def acknowledging(server: Dovecot, user: str) -> list[str]:
    """The commands that moved mail in `user`'s recorded sessions."""
    wanted = {"MOVE", "UID MOVE", "COPY", "UID COPY", "STORE", "UID STORE", "EXPUNGE",
              "UID EXPUNGE"}  # fmt: skip
    return [verb for verb in verbs(server.commands(user)) if verb in wanted]


def expunge_verb(server: Dovecot) -> str:
    return "EXPUNGE" if "UIDPLUS" in server.without else "UID EXPUNGE"


def test_client_sees_no_move_after_login(server: Dovecot, archiving) -> None:
    """The list the session decides by is the post-login one, and it lacks what was removed
    (the default Dovecot announces both: see `Dovecot._trim_capabilities`)."""
    _user, ctx = archiving()
    session = ImapSession(imap_cfg(ctx.config))
    try:
        assert not session.has("MOVE")
        assert session.has("UIDPLUS") == ("UIDPLUS" not in server.without)
        assert session.has("IDLE") and session.has("IMAP4REV1")  # trimmed, not emptied
    finally:
        session.close()


def test_move_by_copy_and_expunge_empties_inbox_once(server: Dovecot, archiving) -> None:
    user, ctx = archiving(batch_size=4)
    raws = italian_requests(10)
    server.append(user, raws)
    server.record_commands(user)

    assert Daemon(ctx).run_once() == ExitCode.ok
    assert count(ctx.engine, Ticket) == 10 and count(ctx.engine, Message) == 10
    assert server.count(user, "INBOX") == 0
    assert held(server, user, ARCHIVE) == Counter(sha(raw) for raw in raws)  # each once
    # Three batches (4 + 4 + 2), each copied, flagged \Deleted and expunged; never MOVE.
    assert acknowledging(server, user) == ["UID COPY", "UID STORE", expunge_verb(server)] * 3
    stores = [c for c in server.commands(user) if c.startswith("UID STORE")]
    assert stores and all("+FLAGS.SILENT (\\Deleted)" in c for c in stores)

    server.record_commands(user)
    assert Daemon(ctx).run_once() == ExitCode.ok  # nothing left: nothing stored, nothing sent
    assert count(ctx.engine, Ticket) == 10 and count(ctx.engine, Message) == 10
    assert duplicates(ctx.engine) == []
    assert server.count(user, "INBOX") == 0 and server.count(user, ARCHIVE) == 10
    assert acknowledging(server, user) == []
    assert source_state(ctx.engine, "posta").last_uid == 10


@pytest.mark.parametrize("crash_after", ["copy", "add_flags"])
def test_server_crash_between_copy_and_expunge_duplicates_nothing(
    server: Dovecot, archiving, monkeypatch: pytest.MonkeyPatch, crash_after: str
) -> None:
    """The server is killed (SIGKILL, every process) once it has answered the second batch's
    UID COPY, or its UID STORE +FLAGS (\\Deleted): the copy is made, the expunge never comes.
    The wrapper only passes the real command on and then kills the real server; the
    daemon finds the connection dead at its next command, as it would in production.

    What the design promises (see `ImapSession._move`): the next pass finds the batch still
    in INBOX, recognises it as stored (no new row, no new ticket), finds it in the archive
    already (same Message-ID and size) and only expunges it: the archive holds every message
    once (it held the batch in flight twice before), INBOX ends empty, the database and the
    tickets never hold anything twice."""
    user, ctx = archiving(batch_size=3)
    raws = italian_requests(6)
    server.append(user, raws)
    in_flight = raws[3:]
    real = getattr(IMAPClient, crash_after)
    calls = 0

    def then_crash(client: IMAPClient, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        answer = real(client, *args, **kwargs)
        calls += 1
        if calls == 2:  # the first batch is moved whole; the second is copied
            server.kill()
        return answer

    with monkeypatch.context() as patch:
        patch.setattr(IMAPClient, crash_after, then_crash)
        try:
            assert Daemon(ctx).run_once() == ExitCode.source_failed
        finally:
            if server.process is None:  # killed as planned; a test that failed before must
                server.start()  # not start a second master beside the first
    assert calls == 2

    # What the crash left: everything stored and ticketed, the second batch in both folders.
    assert count(ctx.engine, Ticket) == 6 and count(ctx.engine, Message) == 6
    assert held(server, user, "INBOX") == Counter(sha(raw) for raw in in_flight)
    assert held(server, user, ARCHIVE) == Counter(sha(raw) for raw in raws)
    deleted = [b"\\Deleted" in flags for flags in server.flags(user).values()]
    assert deleted == [crash_after == "add_flags"] * 3
    # the resume point is committed with the batch it covers, before the batch is moved: a
    # move reads what is left in the folder, not from the resume point
    assert source_state(ctx.engine, "posta").last_uid == 6

    server.record_commands(user)
    assert Daemon(ctx).run_once() == ExitCode.ok  # a fresh daemon finishes the move
    assert count(ctx.engine, Ticket) == 6 and count(ctx.engine, Message) == 6
    assert duplicates(ctx.engine) == []
    assert server.count(user, "INBOX") == 0
    assert held(server, user, ARCHIVE) == Counter(sha(raw) for raw in raws)  # each once
    assert acknowledging(server, user) == ["UID STORE", expunge_verb(server)]  # no COPY
    assert source_state(ctx.engine, "posta").last_uid == 6


def test_plain_expunge_spares_what_another_client_marked_deleted(
    server: Dovecot, archiving
) -> None:
    """A user's mail client flagged UID 6 \\Deleted without expunging it. It is mail like any
    other (the MOVE and UIDPLUS paths store and archive it), but it sits in the second batch:
    without UIDPLUS, the first batch's plain EXPUNGE removed it before it was ever stored
    (9 tickets of 10) until `ImapSession._expunge_only` hid it from that EXPUNGE."""
    user, ctx = archiving(batch_size=4)
    raws = italian_requests(10)
    server.append(user, raws)
    with server.client(user) as client:
        client.select_folder("INBOX")
        client.add_flags([6], [b"\\Deleted"], silent=True)

    assert Daemon(ctx).run_once() == ExitCode.ok
    assert count(ctx.engine, Ticket) == 10 and count(ctx.engine, Message) == 10
    assert server.count(user, "INBOX") == 0
    assert held(server, user, ARCHIVE) == Counter(sha(raw) for raw in raws)
