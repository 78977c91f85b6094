"""The outbox beside a running daemon process (issue 13): a relay that never answers does
not hold up registration or the stop; a SIGKILL during delivery leaves no job stuck past the
short lease and none sent twice to a relay that kept its 250."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from inbox_daemon.store.db import open_store, transaction
from inbox_daemon.store.models import Outbox
from inbox_daemon.store.types import utcnow
from tests.smtp.conftest import AckSink
from tests.smtp.test_smtp_bounds import until
from tests.smtp.test_smtp_kill import deliver, ingress_config, request, start_daemon, tickets

pytestmark = pytest.mark.slow
LIMIT_S = 90.0  # only to fail rather than hang: nothing here asserts on time


def write_config(tmp_path: Path, relay_port: int, timeouts: str) -> tuple[Path, int]:
    return ingress_config(
        tmp_path,
        '[acknowledgements]\nenabled = true\nfrom = "segnalazioni@example.it"\n'
        f'smtp = {{ host = "127.0.0.1", port = {relay_port}, tls = "none", {timeouts} }}\n',
    )


def jobs(tmp_path: Path) -> list[Outbox]:
    engine = open_store(f"sqlite:///{tmp_path}/tickets.db")
    with transaction(engine) as session:
        rows = list(session.exec(select(Outbox).order_by(Outbox.id)))
    engine.dispose()
    return rows


def wait_for(condition: Callable[[], bool]) -> None:
    assert until(condition, LIMIT_S), "condition not reached"


def send_all(port: int, first: int, count: int) -> None:
    for i in range(first, first + count):
        wait_for(lambda i=i: deliver(port, request(i)))


def test_a_relay_that_never_answers_holds_up_neither_tickets_nor_the_stop(tmp_path, silent_relay):
    """Its timeouts are ten minutes: a relay in registration's path, or a stop that waited
    for it, would never get here."""
    config, port = write_config(tmp_path, silent_relay, "timeout_s = 600, connect_timeout_s = 600")
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        send_all(port, 0, 20)
        wait_for(lambda: tickets(tmp_path) == 20)  # every ticket made while acks wait
        send_all(port, 20, 10)
        wait_for(lambda: tickets(tmp_path) == 30)
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=LIMIT_S)
    assert code == 0
    assert "maximum number of running instances" not in log.read_text()  # no scheduler spam
    rows = jobs(tmp_path)
    assert len(rows) == 30 and {row.state for row in rows} == {"pending"}  # queued, none lost
    assert all(row.next_attempt_at <= utcnow() for row in rows if row.attempts == 0)


def test_sigkill_while_the_relay_holds_data_resends_once_after_the_short_lease(
    tmp_path, ack_sink: AckSink
):
    """The relay has the message and has not answered (no 250: it keeps nothing) when the
    daemon dies; the job is due again at its lease's end, and the relay keeps one copy."""
    ack_sink.hang_s = 60
    config, port = write_config(tmp_path, ack_sink.port, "timeout_s = 3, connect_timeout_s = 3")
    daemon = start_daemon(config)
    send_all(port, 0, 1)
    wait_for(lambda: ack_sink.hung == 1)
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    killed_at = utcnow()
    [row] = jobs(tmp_path)
    assert row.state == "sending" and row.outgoing_message_id  # in flight, with its id
    assert row.next_attempt_at <= killed_at + timedelta(seconds=11)  # 2 x 3 s + 5 s, not 900
    ack_sink.hang_s = 0
    daemon = start_daemon(config)
    try:
        wait_for(lambda: jobs(tmp_path)[0].state == "sent")
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=LIMIT_S) == 0
    [row] = jobs(tmp_path)
    assert row.attempts == 2
    assert [m.message["Message-ID"] for m in ack_sink.messages] == [row.outgoing_message_id]


def test_sigkill_at_random_moments_of_delivery_leaves_nothing_stuck(tmp_path, ack_sink):
    """Kills land anywhere: before a claim, mid-session, after a 250. Every acknowledgement
    is sent in the end; a copy can only come from a job that was in flight at a kill (the
    window between the relay's 250 and `sent`, documented in outbox.py)."""
    config, port = write_config(tmp_path, ack_sink.port, "timeout_s = 2, connect_timeout_s = 2")
    rng = random.Random(1203)
    daemon = start_daemon(config)
    kills = 0
    try:
        for batch in range(4):
            send_all(port, batch * 10, 10)
            time.sleep(rng.uniform(0.0, 0.3))  # somewhere inside the acknowledgements
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            kills += 1
            daemon = start_daemon(config)
        wait_for(lambda: [row.state for row in jobs(tmp_path)] == ["sent"] * 40)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=LIMIT_S) == 0
    ids = [m.message["Message-ID"] for m in ack_sink.messages]
    copies = {i for i in ids if ids.count(i) > 1}
    assert set(ids) == {row.outgoing_message_id for row in jobs(tmp_path)}
    assert len(copies) <= 2 * kills  # at most one in flight per delivery thread
    resent = {row.outgoing_message_id for row in jobs(tmp_path) if row.attempts > 1}
    assert copies <= resent
