"""The daemon on IMAP servers other than Dovecot (issue 20): a throwaway Courier-IMAP (see
courier.py), the server that differs most from Dovecot in what a post-action needs. It has no
MOVE, so a move is UID COPY, STORE \\Deleted and UID EXPUNGE; its personal folders live
under the `INBOX.` namespace, so the README's own `move:Processed` is refused (`CREATE
Processed`: `NO Invalid mailbox name.`); and with IMAP_KEYWORDS=0 it refuses every keyword.

Whatever the server says to a move or a flag, a stored message is a ticket, the rest of the
folder and later mail are still fetched, and nothing is archived twice.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inbox_daemon.config import load_config
from inbox_daemon.context import Context, build_context
from inbox_daemon.daemon import Daemon
from inbox_daemon.errors import ExitCode
from inbox_daemon.store.models import Message, Ticket
from integration.courier import Courier, missing, running_courier
from integration.dovecot import PASSWORD, Dovecot
from integration.helpers import IN_PROCESS, PASSWORD_ENV, count, duplicates, imap_source_toml
from integration.mailgen import italian_requests
from integration.test_imap_move_fallback import held, sha  # they speak only IMAP
from tests.conftest import BASE_CONFIG

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("courier")]
ARCHIVE = "INBOX.Processed"  # where Courier keeps a personal folder named Processed
CLI = Path(sys.executable).with_name("inbox-daemon")


def _courier(keywords: bool) -> Iterator[Courier]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    with running_courier(keywords=keywords) as server:
        yield server


@pytest.fixture(scope="module")
def courier_server() -> Iterator[Courier]:
    yield from _courier(keywords=True)


@pytest.fixture(scope="module")
def courier_without_keywords() -> Iterator[Courier]:
    """Courier with IMAP_KEYWORDS=0: PERMANENTFLAGS lists system flags only."""
    yield from _courier(keywords=False)


@pytest.fixture
def courier(courier_server: Courier) -> Courier:
    """The module's Courier, running (a crash test kills it)."""
    if courier_server.process is None:
        courier_server.start()
    return courier_server


@pytest.fixture(params=["dovecot", "courier"])
def any_server(request: pytest.FixtureRequest) -> Dovecot | Courier:
    """Each server the tests can start, in turn: the same test, the same helpers."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def mailbox(
    make_context: Callable[..., Context], new_user: Callable[[], str], imap_password: str
) -> Callable[..., tuple[str, Context]]:
    """A fresh user on `server` and a daemon context whose source `posta` reads it."""

    def make(server: Dovecot | Courier, **keys: Any) -> tuple[str, Context]:
        user = new_user()
        source = imap_source_toml("posta", user, port=server.port, **keys)
        return user, make_context(source + IN_PROCESS)

    return make


def once_each(raws: list[bytes]) -> Counter[str]:
    return Counter(sha(raw) for raw in raws)


# --- what works today: the fixture, and a move named as the server names folders ----------


def test_every_message_one_ticket_and_left_unread(any_server: Dovecot | Courier, mailbox) -> None:
    """`after = "keep"`: 20 messages, 20 tickets, all still in INBOX and none marked \\Seen
    (BODY.PEEK); a second pass makes nothing."""
    user, ctx = mailbox(any_server, after="keep", batch_size=8)
    raws = italian_requests(20, seed=3)
    any_server.append(user, raws)

    assert Daemon(ctx).run_once() == ExitCode.ok
    assert count(ctx.engine, Ticket) == 20 and count(ctx.engine, Message) == 20
    assert held(any_server, user, "INBOX") == once_each(raws)
    assert all(b"\\Seen" not in flags for flags in any_server.flags(user).values())

    assert Daemon(ctx).run_once() == ExitCode.ok
    assert count(ctx.engine, Ticket) == 20 and count(ctx.engine, Message) == 20
    assert duplicates(ctx.engine) == []


def test_courier_announces_what_the_daemon_must_cope_with(courier: Courier) -> None:
    """The server the tests below rely on: no MOVE, the `INBOX.` namespace, `CREATE
    Processed` refused, keywords allowed unless IMAP_KEYWORDS=0 (see the next test)."""
    with courier.client("probe") as client:
        assert b"MOVE" not in client.capabilities()
        assert client.namespace().personal == (("INBOX.", "."),)
        with pytest.raises(client.Error, match="Invalid mailbox name"):
            client.create_folder("Processed")
        assert b"\\*" in client.select_folder("INBOX")[b"PERMANENTFLAGS"]


def test_courier_without_keywords_refuses_them(courier_without_keywords: Courier) -> None:
    server = courier_without_keywords
    server.append("probe", italian_requests(1))
    with server.client("probe") as client:
        assert b"\\*" not in client.select_folder("INBOX")[b"PERMANENTFLAGS"]
        with pytest.raises(client.Error, match="Error in IMAP command"):
            client.add_flags([1], [b"$InboxDaemon"])


def test_move_under_the_namespace_archives_each_message_once(courier: Courier, mailbox) -> None:
    """`move:INBOX.Processed`, a name Courier accepts: copied, flagged \\Deleted and
    expunged batch by batch (no MOVE), INBOX empty, each message archived once."""
    user, ctx = mailbox(courier, after=f"move:{ARCHIVE}", batch_size=8)
    raws = italian_requests(20, seed=4)
    courier.append(user, raws)

    assert Daemon(ctx).run_once() == ExitCode.ok
    assert count(ctx.engine, Ticket) == 20 and count(ctx.engine, Message) == 20
    assert courier.count(user, "INBOX") == 0
    assert held(courier, user, ARCHIVE) == once_each(raws)
    assert courier.folders(user) == ["INBOX", ARCHIVE]

    assert Daemon(ctx).run_once() == ExitCode.ok
    assert count(ctx.engine, Ticket) == 20 and duplicates(ctx.engine) == []


# --- what the daemon must learn (issue 20; fixed on the `imap` branch) ---------------------


def test_refused_move_target_still_tickets_every_message(courier: Courier, mailbox) -> None:
    """`move:Processed`, the README's example, which Courier refuses to create: every one of
    300 messages is a ticket all the same (not the first batch of 50 only), and a message
    that arrives afterwards is ticketed on the next pass."""
    user, ctx = mailbox(courier, after="move:Processed")
    courier.append(user, italian_requests(300, seed=5))

    Daemon(ctx).run_once()  # its exit code may report the refused move: not asserted here
    assert count(ctx.engine, Ticket) == 300

    courier.append(user, italian_requests(1, seed=6, start=301))
    Daemon(ctx).run_once()
    assert count(ctx.engine, Ticket) == 301 and count(ctx.engine, Message) == 301
    assert duplicates(ctx.engine) == []


def test_move_target_resolved_under_the_personal_namespace(
    courier: Courier, mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    """What the issue asks of `move:Processed` on a server whose personal namespace is
    `INBOX.`: it means INBOX.Processed, and the log says so."""
    user, ctx = mailbox(courier, after="move:Processed", batch_size=8)
    raws = italian_requests(20, seed=7)
    courier.append(user, raws)

    with caplog.at_level(logging.INFO, logger="inbox_daemon"):
        assert Daemon(ctx).run_once() == ExitCode.ok
    assert count(ctx.engine, Ticket) == 20
    assert courier.count(user, "INBOX") == 0
    assert held(courier, user, ARCHIVE) == once_each(raws)
    assert courier.folders(user) == ["INBOX", ARCHIVE]  # and no INBOX.INBOX.Processed
    assert any(ARCHIVE in record.getMessage() for record in caplog.records)


def test_refused_keyword_still_tickets_every_message(
    courier_without_keywords: Courier, mailbox
) -> None:
    """`flag:$InboxDaemon` on a server that allows no keyword: 300 tickets for 300 messages
    (not 50), and a later message is ticketed too."""
    server = courier_without_keywords
    user, ctx = mailbox(server, after="flag:$InboxDaemon")
    server.append(user, italian_requests(300, seed=8))

    Daemon(ctx).run_once()
    assert count(ctx.engine, Ticket) == 300

    server.append(user, italian_requests(1, seed=9, start=301))
    Daemon(ctx).run_once()
    assert count(ctx.engine, Ticket) == 301 and count(ctx.engine, Message) == 301
    assert duplicates(ctx.engine) == []


# The one fault no real part can be told to make: a crash at an exact point of the protocol.
# The daemon runs as its own process (the real CLI); IMAPClient.copy is wrapped only to pass
# the real UID COPY on and, once the server has answered the second one, SIGKILL the victim.
CRASH_AFTER_SECOND_COPY = """
import os, signal, sys
from imapclient import IMAPClient
from inbox_daemon.cli import main

real, calls = IMAPClient.copy, []

def copy_then_crash(client, *args, **kwargs):
    answer = real(client, *args, **kwargs)
    calls.append(1)
    if len(calls) == 2:
        victim = os.environ["CRASH_VICTIM"]
        if victim == "daemon":
            os.kill(os.getpid(), signal.SIGKILL)
        os.killpg(int(victim), signal.SIGKILL)
    return answer

IMAPClient.copy = copy_then_crash
sys.exit(main(sys.argv[1:]))
"""


def daemon_run(config: Path, victim: str | None = None) -> subprocess.CompletedProcess[str]:
    """`inbox-daemon run --once` as a process; with `victim`, crashing after the second COPY."""
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    command = [str(CLI)]
    if victim:
        env["CRASH_VICTIM"] = victim
        command = [sys.executable, "-c", CRASH_AFTER_SECOND_COPY]
    return subprocess.run(
        [*command, "--config", str(config), "-q", "run", "--once"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("crashed", ["daemon", "server"])
def test_crash_between_copy_and_expunge_archives_nothing_twice(
    courier: Courier,
    new_user: Callable[[], str],
    imap_password: str,  # the config names it, and the test reads the store through it
    tmp_path: Path,
    crashed: str,
) -> None:
    """SIGKILL, to the daemon or to every process of the server, once the second batch's
    UID COPY is answered: that batch is then in INBOX and in the archive, stored, its
    expunge never sent. The next pass must finish the move without copying it again (on a
    server without MOVE, the copy it made is already there): each message archived once."""
    user = new_user()
    raws = italian_requests(6, seed=10)
    courier.append(user, raws)
    config = tmp_path / "config.toml"
    source = imap_source_toml("posta", user, port=courier.port, after=f"move:{ARCHIVE}",
                              batch_size=3)  # fmt: skip
    config.write_text(BASE_CONFIG + source + IN_PROCESS, encoding="utf-8")
    assert courier.process is not None

    victim = "daemon" if crashed == "daemon" else str(courier.process.pid)
    crash = daemon_run(config, victim)
    if crashed == "daemon":
        assert crash.returncode == -9, crash.stderr
    else:
        assert crash.returncode == ExitCode.source_failed, crash.stderr
        courier.kill()  # reap what the SIGKILL left, then a fresh server on the same mail
        courier.start()
    in_flight = raws[3:]
    assert held(courier, user, "INBOX") == once_each(in_flight)  # the crash came where meant
    assert held(courier, user, ARCHIVE) == once_each(raws)

    done = daemon_run(config)
    assert done.returncode == ExitCode.ok, done.stderr
    assert courier.count(user, "INBOX") == 0
    assert held(courier, user, ARCHIVE) == once_each(raws)  # not the in-flight batch twice
    engine = build_context(load_config(config)).engine
    assert count(engine, Ticket) == 6 and count(engine, Message) == 6
    assert duplicates(engine) == []
