"""SIGHUP to the daemon reading a real Dovecot: a mailbox added while the running one keeps
its session (not restarted), then the first one removed; every message one ticket, and the
mailbox no longer configured is left alone."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from inbox_daemon.config import load_config
from inbox_daemon.store.db import open_store
from inbox_daemon.store.models import Ticket
from integration import test_imap_daemon
from integration.dovecot import Dovecot
from integration.helpers import count, duplicates
from integration.mailgen import italian_requests
from integration.test_imap_daemon import CLI, daemon_env
from tests.test_reload import until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("dovecot")]
config_file = test_imap_daemon.config_file  # the fixture: a config file with IMAP sources


def test_reload_adds_and_removes_mailboxes_without_touching_the_others(
    dovecot: Dovecot, new_user: Callable[[], str], config_file: Callable[..., Path]
) -> None:
    first, second = new_user(), new_user()
    posta = {"name": "posta", "user": first, "after": "move:Processed", "idle": True}
    posta2 = {"name": "posta2", "user": second, "after": "move:Processed", "poll_interval_s": 1}
    config = config_file(posta)
    engine = open_store(load_config(config).database.url)
    log = config.parent / "daemon.log"
    dovecot.append(first, italian_requests(5, seed=1, start=1))
    with open(log, "ab") as stderr:
        daemon = subprocess.Popen([str(CLI), "--config", str(config), "run"], env=daemon_env(),
                                  stdout=subprocess.DEVNULL, stderr=stderr)  # fmt: skip

    def logged(text: str) -> int:
        return log.read_text(encoding="utf-8").count(text)

    try:
        until(lambda: count(engine, Ticket) == 5)
        dovecot.append(second, italian_requests(4, seed=2, start=100))
        config_file(posta, posta2)
        daemon.send_signal(signal.SIGHUP)
        until(lambda: logged("reloaded ") == 1)
        assert logged("sources added posta2;") == 1 and logged("restarted") == 0
        until(lambda: count(engine, Ticket) == 9)
        dovecot.append(first, italian_requests(3, seed=3, start=200))  # the kept mailbox
        until(lambda: count(engine, Ticket) == 12)

        config_file(posta2)
        daemon.send_signal(signal.SIGHUP)
        until(lambda: logged("reloaded ") == 2)
        assert logged("sources removed posta;") == 1
        dovecot.append(first, italian_requests(2, seed=4, start=300))  # no longer read
        dovecot.append(second, italian_requests(2, seed=5, start=400))
        until(lambda: count(engine, Ticket) == 14)
        time.sleep(2)  # an IDLE watcher left running would have fetched them by now
        assert dovecot.count(first, "INBOX") == 2
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=120)
    assert code == 0, log.read_text(encoding="utf-8")[-3000:]
    assert count(engine, Ticket) == 14 and duplicates(engine) == []
    assert dovecot.count(first, "Processed") == 8 and dovecot.count(second, "Processed") == 6
