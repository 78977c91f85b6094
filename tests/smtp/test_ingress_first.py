"""The ingress goes first, and registration still advances.

Stores that overlap (several clients waiting at once for their 250) press the group commit;
one client sending in turn never does. While the SMTP ingress is pressed the daemon's
registration waits between batches (`daemon.Yielding`), never before the first one nor after
the last; a web form's commit never makes it wait (its visitor waits for the number); and
under a flood of ten sessions it still makes tickets before the flood ends.
"""

from __future__ import annotations

import asyncio
import smtplib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from inbox_daemon.analysis import Pending
from inbox_daemon.daemon import MAX_LAG_S, Daemon, Yielding, is_pressed, lag_left
from inbox_daemon.sources.smtp_commit import GroupCommit
from inbox_daemon.spool import Incoming, Origin, Spool
from inbox_daemon.store.types import utcnow
from tests.smtp.conftest import free_port
from tests.smtp.test_smtp_bounds import until
from tests.smtp.test_smtp_flood import start_daemon, try_send, write_config
from tests.smtp.test_smtp_kill import request, tickets

HOUR = 3600.0  # `pressed` lasts this long after overlapping stores: no clock in the asserts


def incoming(i: int) -> Incoming:
    raw = b"Subject: n. %d\r\n\r\nbody\r\n" % i
    return Incoming(raw, Origin("ingress"), utcnow(), "email")


def test_stores_one_after_the_other_never_press_the_commit(spool: Spool):
    commit = GroupCommit(spool, pressed_s=HOUR)

    async def in_turn() -> None:
        for i in range(3):
            await commit.store(incoming(i))

    asyncio.run(in_turn())
    commit.close()
    assert not commit.pressed


def test_stores_that_overlap_press_the_commit(spool: Spool):
    commit = GroupCommit(spool, pressed_s=HOUR)

    async def together() -> None:
        await asyncio.gather(*(commit.store(incoming(i)) for i in range(3)))

    asyncio.run(together())
    commit.close()
    assert commit.pressed


def test_one_smtp_client_in_turn_never_presses_the_ingress(smtp_ingress):
    running = smtp_ingress()
    running.ingress.commit.pressed_s = HOUR
    for i in range(3):
        with smtplib.SMTP("127.0.0.1", running.port, timeout=30) as client:
            client.sendmail("a@example.org", ["segnalazioni@example.it"], request(i))
    assert not running.ingress.pressed


def test_only_the_smtp_ingress_makes_registration_wait(smtp_ingress, spool: Spool):
    running = smtp_ingress()
    running.ingress.commit.pressed_s = HOUR

    async def together(commit: GroupCommit) -> None:
        await asyncio.gather(*(commit.store(incoming(i)) for i in range(3)))

    asyncio.run(together(running.ingress.commit))
    web_commit = GroupCommit(spool, pressed_s=HOUR)
    asyncio.run(together(web_commit))
    web_commit.close()
    web_form = SimpleNamespace(name="form", commit=web_commit)  # what the daemon sees of one
    assert web_commit.pressed and not is_pressed(web_form)
    assert is_pressed(running.ingress)


class Recording:
    """An `Analyse` that notes the batches it is handed, analysing nothing."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def batches(self, batches: Iterator[tuple[int, list]]) -> Iterator[tuple[int, list]]:
        for tag, pendings in batches:
            self.events.append(f"batch {tag}")
            yield tag, pendings


def test_registration_pauses_between_batches_only():
    events: list[str] = []
    paced = Yielding(Recording(events), lambda oldest: events.append("pause"))
    done = [tag for tag, _ in paced.batches(iter([(0, []), (1, []), (2, [])]))]
    assert done == [0, 1, 2]
    assert events == ["batch 0", "pause", "batch 1", "pause", "batch 2"]


def pending(at: datetime | None) -> Pending:
    return Pending("0" * 64, "email", at)


def test_each_pause_is_told_when_its_batchs_oldest_message_arrived():
    early, late = datetime(2026, 12, 4, 9, 0, tzinfo=UTC), datetime(2026, 12, 4, 9, 5, tzinfo=UTC)
    told: list[datetime | None] = []
    paced = Yielding(Recording([]), told.append)
    batches = [(0, [pending(early)]), (1, [pending(late), pending(None), pending(early)]),
               (2, [pending(None)])]  # fmt: skip
    assert [tag for tag, _ in paced.batches(iter(batches))] == [0, 1, 2]
    assert told == [early, None]


def test_a_batch_may_wait_for_the_ingress_only_until_its_oldest_message_is_max_lag_old():
    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert lag_left(now - timedelta(seconds=3), now) == MAX_LAG_S - 3
    assert lag_left(now - timedelta(seconds=MAX_LAG_S + 5), now) == 0.0
    assert lag_left((now - timedelta(seconds=4)).replace(tzinfo=None), now) == MAX_LAG_S - 4
    assert lag_left(None, now) == 0.0  # arrival unknown: never held back


class Stopping:
    """A stop event that counts the waits of a pause and never fires."""

    def __init__(self) -> None:
        self.waits = 0

    def wait(self, timeout: float) -> bool:
        self.waits += 1
        time.sleep(timeout)
        return False


def test_a_batch_whose_oldest_message_waited_too_long_is_not_held_back_at_all():
    """Pressed all along: a batch of fresh mail waits; one whose oldest message arrived more
    than MAX_LAG_S ago goes on at once (no wait), so a long flood cannot starve tickets."""
    pressed = [SimpleNamespace(pressed=True)]
    fresh, stale = Stopping(), Stopping()
    Daemon._yield_to_push_sources(SimpleNamespace(pushed=pressed, stopping=fresh), utcnow())
    stale_at = utcnow() - timedelta(seconds=MAX_LAG_S + 1)
    Daemon._yield_to_push_sources(SimpleNamespace(pushed=pressed, stopping=stale), stale_at)
    assert fresh.waits >= 1 and stale.waits == 0


@pytest.mark.integration
@pytest.mark.slow
def test_tickets_are_made_while_ten_sessions_flood_the_ingress(tmp_path: Path):
    port = free_port()
    daemon = start_daemon(write_config(tmp_path, port), tmp_path / "daemon.log", nofile=1024)
    flooding = threading.Event()
    flooding.set()
    sent: list[int] = []

    def flood(session: int) -> None:
        for i in range(100_000):
            if not flooding.is_set():
                return
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                    client.sendmail("a@example.org", ["segnalazioni@example.it"],
                                    request(session * 100_000 + i))  # fmt: skip
                sent.append(1)
            except (OSError, smtplib.SMTPException):
                return

    senders = [threading.Thread(target=flood, args=(n,)) for n in range(10)]
    try:
        assert until(lambda: try_send(port) == 250, 60)
        for sender in senders:
            sender.start()
        # well past one batch (50): registration has gone on several times during the flood
        assert until(lambda: tickets(tmp_path) >= 120, 300)
        assert all(sender.is_alive() for sender in senders), "the flood ended first"
    finally:
        flooding.clear()
        for sender in senders:
            sender.join(timeout=60)
        daemon.terminate()
        daemon.wait(timeout=60)
    assert len(sent) >= 120
