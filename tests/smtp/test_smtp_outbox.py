"""Delivery from the durable outbox to a real SMTP server (the ack_sink): headers, retries
with backoff through an outage, permanent refusals, and never sending a job twice.

Time is passed as `now=` to deliver_due; nothing sleeps."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from inbox_daemon import outbox
from inbox_daemon.commands import acks_list, acks_retry
from inbox_daemon.context import Context
from inbox_daemon.delivery import Delivery
from inbox_daemon.store.db import open_store, transaction
from inbox_daemon.store.models import Outbox
from inbox_daemon.store.types import utcnow

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def ack_toml(port: int, extra: str = "") -> str:
    return (
        '[acknowledgements]\nenabled = true\nfrom = "segnalazioni@example.it"\n'
        f'smtp = {{ host = "127.0.0.1", port = {port}, tls = "none", timeout_s = 5 }}\n'
        "max_attempts = 4\n" + extra
    )


@pytest.fixture
def ack_ctx(make_context: Callable[..., Context], ack_sink) -> Callable[..., Context]:
    def make(extra: str = "") -> Context:
        return make_context(ack_toml(ack_sink.port) + extra)

    return make


def add_job(ctx: Context, recipient: str = "mario.rossi@example.org", **fields: Any) -> int:
    values: dict[str, Any] = {
        "kind": "ack",
        "recipient": recipient,
        "subject": "Registrazione richiesta n. 2026/000001",
        "body": "Numero 2026/000001\n",
        "headers": {"In-Reply-To": "<req@example.org>", "References": "<req@example.org>"},
        "next_attempt_at": T0,
        "created_at": T0,
    }
    values.update(fields)
    with transaction(ctx.engine) as session:
        job = Outbox(**values)
        session.add(job)
        session.flush()
        assert job.id is not None
        return job.id


def job(ctx: Context, job_id: int) -> Outbox:
    with transaction(ctx.engine) as session:
        row = session.get(Outbox, job_id)
        assert row is not None
        return row


def test_delivered_with_threading_auto_submitted_and_empty_envelope_sender(ack_ctx, ack_sink):
    ctx = ack_ctx()
    job_id = add_job(ctx)
    assert outbox.deliver_due(ctx, now=T0) == 1
    [captured] = ack_sink.messages
    assert captured.mail_from == "<>" and captured.rcpt_tos == ["mario.rossi@example.org"]
    mail = captured.message
    assert mail["From"] == "segnalazioni@example.it"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["In-Reply-To"] == "<req@example.org>"
    assert mail["References"] == "<req@example.org>"
    row = job(ctx, job_id)
    assert row.state == "sent" and row.attempts == 1 and row.sent_at == T0
    assert mail["Message-ID"] == row.outgoing_message_id
    assert outbox.deliver_due(ctx, now=T0 + timedelta(days=1)) == 0  # sent means done
    assert len(ack_sink.messages) == 1


def test_outage_delays_with_backoff_then_delivers_each_job_once(ack_ctx, ack_sink):
    ctx = ack_ctx()
    ack_sink.stop()  # the relay is down
    ids = [add_job(ctx, f"utente{i}@example.org") for i in range(3)]
    assert outbox.deliver_due(ctx, now=T0) == 0
    first = job(ctx, ids[0])
    assert first.state == "pending" and first.attempts == 1
    assert "ConnectionRefusedError" in (first.last_error or "")
    assert T0 + timedelta(seconds=30) <= first.next_attempt_at <= T0 + timedelta(seconds=60)
    # The relay failed: the rest of the queue was not tried in that pass (no attempt spent).
    assert [job(ctx, i).attempts for i in ids[1:]] == [0, 0]
    assert outbox.deliver_due(ctx, now=T0 + timedelta(seconds=1)) == 0
    assert [job(ctx, i).attempts for i in ids] == [1, 1, 0]
    # The first job's second failure: its wait doubles.
    second = T0 + timedelta(seconds=60)
    assert outbox.deliver_due(ctx, now=second) == 0
    first = job(ctx, ids[0])
    assert first.attempts == 2
    assert second + timedelta(seconds=60) <= first.next_attempt_at
    assert first.next_attempt_at <= second + timedelta(seconds=120)
    ack_sink.start()  # the relay is back
    assert outbox.deliver_due(ctx, now=T0 + timedelta(minutes=10)) == 3
    assert outbox.deliver_due(ctx, now=T0 + timedelta(days=2)) == 0
    assert sorted(m.rcpt_tos[0] for m in ack_sink.messages) == [
        "utente0@example.org",
        "utente1@example.org",
        "utente2@example.org",
    ]
    assert {job(ctx, i).state for i in ids} == {"sent"}


def test_a_refused_recipient_does_not_hold_up_the_others(make_context, make_sink):
    refusing = make_sink(refuse_rcpt="550 5.1.1 No such user")
    ctx = make_context(ack_toml(refusing.port))
    ids = [add_job(ctx, f"utente{i}@example.org") for i in range(3)]
    outbox.deliver_due(ctx, now=T0)
    assert [job(ctx, i).attempts for i in ids] == [1, 1, 1]  # each tried: the relay answers


def test_backoff_is_capped():
    assert outbox.backoff(30) <= timedelta(seconds=outbox.BACKOFF_MAX_S)
    assert outbox.backoff(30) >= timedelta(seconds=outbox.BACKOFF_MAX_S / 2)


def test_gives_up_after_max_attempts_and_acks_list_shows_it(ack_ctx, ack_sink, capsys):
    ctx = ack_ctx()  # max_attempts = 4
    ack_sink.stop()
    failing = add_job(ctx)
    waiting = add_job(ctx, "anna@example.org", next_attempt_at=T0 + timedelta(days=30))
    when = T0
    for _ in range(4):
        outbox.deliver_due(ctx, now=when)
        when += timedelta(hours=2)
    row = job(ctx, failing)
    assert row.state == "failed" and row.attempts == 4
    assert outbox.deliver_due(ctx, now=when + timedelta(days=1)) == 0
    acks_list(_Args(state=None), ctx)
    listing = capsys.readouterr().out
    assert f"{failing:>6}  ack     failed" in listing and "ConnectionRefusedError" in listing
    assert f"{waiting:>6}  ack     pending" in listing


class _Args:
    def __init__(self, state: str | None = None, limit: int = 50, ids: list[int] | None = None):
        self.state, self.limit, self.ids = state, limit, ids or []


def test_acks_retry_sends_a_failed_job_once_the_relay_is_back(ack_ctx, ack_sink, capsys):
    ctx = ack_ctx()  # max_attempts = 4
    ack_sink.stop()
    failing = add_job(ctx)
    suppressed = add_job(ctx, "anna@example.org", state="suppressed")
    when = T0
    for _ in range(4):
        outbox.deliver_due(ctx, now=when)
        when += timedelta(hours=2)
    assert job(ctx, failing).state == "failed"
    ack_sink.start()
    acks_retry(_Args(), ctx)
    assert "1 acknowledgement(s) queued again" in capsys.readouterr().out
    assert outbox.deliver_due(ctx) == 1
    assert job(ctx, failing).state == "sent" and job(ctx, suppressed).state == "suppressed"
    assert [m.rcpt_tos for m in ack_sink.messages] == [["mario.rossi@example.org"]]
    acks_retry(_Args(ids=[suppressed]), ctx)  # an operator releases a suppressed one by id
    assert outbox.deliver_due(ctx) == 1 and job(ctx, suppressed).state == "sent"


def test_permanent_refusal_fails_at_once(make_context, make_sink):
    refusing = make_sink(refuse_rcpt="550 5.1.1 No such user")
    ctx = make_context(ack_toml(refusing.port))
    job_id = add_job(ctx)
    assert outbox.deliver_due(ctx, now=T0) == 0
    row = job(ctx, job_id)
    assert row.state == "failed" and row.attempts == 1 and "550" in (row.last_error or "")


def test_two_callers_at_once_send_a_job_once(ack_ctx, ack_sink):
    ctx = ack_ctx()
    ids = [add_job(ctx, f"utente{i}@example.org") for i in range(10)]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def deliver() -> None:
        barrier.wait()
        results.append(outbox.deliver_due(ctx, now=T0))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 10 and len(ack_sink.messages) == 10
    assert len({m.rcpt_tos[0] for m in ack_sink.messages}) == 10
    assert {job(ctx, i).state for i in ids} == {"sent"}


def test_two_instances_on_one_database_cannot_both_claim_a_job(ack_ctx, tmp_path: Path):
    """Two daemon instances share only the database (no process lock): the claim decides."""
    ctx = ack_ctx()
    other = _other_instance(ctx)
    ids = [add_job(ctx, f"utente{i}@example.org") for i in range(20)]
    barrier = threading.Barrier(2)
    won: dict[str, list[int]] = {"a": [], "b": []}

    def claim_all(name: str, instance: Context) -> None:
        barrier.wait()
        for job_id in ids:
            if outbox.claim(instance, job_id, T0) is not None:
                won[name].append(job_id)

    threads = [
        threading.Thread(target=claim_all, args=(n, c)) for n, c in (("a", ctx), ("b", other))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won["a"] + won["b"]) == ids  # each job claimed exactly once
    assert {job(ctx, i).state for i in ids} == {"sending"}


def _other_instance(ctx: Context) -> Context:
    from dataclasses import replace

    return replace(ctx, engine=open_store(str(ctx.engine.url)))


def test_a_job_left_sending_by_a_crash_is_sent_after_its_lease(ack_ctx, ack_sink):
    ctx = ack_ctx()
    job_id = add_job(ctx)
    assert outbox.claim(ctx, job_id, T0) is not None  # then the process "crashes"
    lease = timedelta(seconds=outbox.lease_seconds(ctx))
    assert outbox.deliver_due(ctx, now=T0 + lease - timedelta(seconds=1)) == 0  # still held
    assert ack_sink.messages == []
    assert outbox.deliver_due(ctx, now=T0 + lease) == 1
    row = job(ctx, job_id)
    assert row.state == "sent" and row.attempts == 2
    assert ack_sink.messages[0].message["Message-ID"] == row.outgoing_message_id


def test_a_source_relay_overrides_and_sends_as_its_mailbox(
    make_context, ack_sink, make_sink, monkeypatch
):
    """A PEC source replies through its provider, as its own PEC address."""
    pec_sink = make_sink()
    monkeypatch.setenv("PEC_TEST_PASSWORD", "x")
    ctx = make_context(
        ack_toml(ack_sink.port)
        + '[[sources]]\nname = "pec"\nkind = "imap"\nhost = "127.0.0.1"\nchannel = "pec"\n'
        'username = "segnalazioni@pec.example.it"\npassword_env = "PEC_TEST_PASSWORD"\n'
        f'smtp = {{ host = "127.0.0.1", port = {pec_sink.port}, '
        'from = "segnalazioni@pec.example.it" }\n'
    )
    add_job(ctx, source="pec")
    add_job(ctx, "anna@example.org", source="ingress")
    assert outbox.deliver_due(ctx, now=T0) == 2
    [via_pec] = pec_sink.messages
    assert via_pec.mail_from == "segnalazioni@pec.example.it"
    assert via_pec.message["From"] == "segnalazioni@pec.example.it"
    [plain] = ack_sink.messages
    assert plain.rcpt_tos == ["anna@example.org"] and plain.mail_from == "<>"


def test_only_mail_kinds_are_sent(ack_ctx, ack_sink):
    ctx = ack_ctx()
    add_job(ctx, "https://hooks.example.org/x", kind="webhook")
    assert outbox.deliver_due(ctx, now=T0) == 0 and ack_sink.messages == []
    with transaction(ctx.engine) as session:
        assert session.exec(select(Outbox.state)).all() == ["pending"]


def test_one_session_carries_several_jobs_to_a_relay(ack_ctx, ack_sink):
    ctx = ack_ctx()
    for i in range(5):
        add_job(ctx, f"utente{i}@example.org")
    assert outbox.deliver_due(ctx, now=T0) == 5
    assert len({m.peer for m in ack_sink.messages}) == 1  # one connection for the five


def test_a_relay_that_answers_250_then_drops_the_connection(ack_ctx, ack_sink):
    """Each 250 is recorded at once: the cut that follows (before QUIT, before the next
    job) sends nothing twice, and the next job goes through on a new connection."""
    ack_sink.drop_after_250 = True
    ctx = ack_ctx()
    ids = [add_job(ctx, f"utente{i}@example.org") for i in range(3)]
    assert outbox.deliver_due(ctx, now=T0) == 3
    assert {job(ctx, i).state for i in ids} == {"sent"}
    assert [job(ctx, i).attempts for i in ids] == [1, 1, 1]
    assert sorted(m.rcpt_tos[0] for m in ack_sink.messages) == [
        f"utente{i}@example.org" for i in range(3)
    ]
    assert len({m.peer for m in ack_sink.messages}) == 3
    assert outbox.deliver_due(ctx, now=T0 + timedelta(days=1)) == 0 and len(ack_sink.messages) == 3


def test_a_silent_relay_is_cut_by_its_timeouts(make_context, silent_relay):
    """A relay that accepts and never answers costs one timeout for the whole pass."""
    ctx = make_context(
        ack_toml(silent_relay).replace("timeout_s = 5", "timeout_s = 1, connect_timeout_s = 1")
    )
    ids = [add_job(ctx, f"utente{i}@example.org") for i in range(3)]
    assert outbox.deliver_due(ctx, now=T0) == 0
    first = job(ctx, ids[0])
    assert first.state == "pending" and "timed out" in (first.last_error or "")
    assert [job(ctx, i).attempts for i in ids] == [1, 0, 0]


def test_the_lease_is_about_a_minute_and_follows_the_timeouts(make_context, ack_sink):
    assert 60 <= outbox.lease_seconds(make_context(ack_toml(ack_sink.port).replace(
        ", timeout_s = 5", ""))) <= 70  # fmt: skip
    # A lease always outlasts two of the longest step, so a step cut by its timeout ends
    # inside it; the renewal at half keeps it so for as long as the delivery lasts.
    slow = make_context(ack_toml(ack_sink.port).replace("timeout_s = 5", "timeout_s = 50"))
    assert outbox.lease_seconds(slow) > 2 * 50


def test_the_lease_is_renewed_while_a_delivery_lasts(ack_ctx):
    ctx = ack_ctx()
    job_id = add_job(ctx)
    assert outbox.claim(ctx, job_id, T0) is not None
    lease = outbox.lease_seconds(ctx)
    clock = [T0]
    keeper = outbox._Lease(ctx, job_id, lambda: clock[0], lease)
    clock[0] = T0 + timedelta(seconds=lease / 4)
    keeper.keep()  # most of the lease left: nothing written
    assert job(ctx, job_id).next_attempt_at == T0 + timedelta(seconds=lease)
    clock[0] = T0 + timedelta(seconds=lease * 0.75)
    keeper.keep()
    assert job(ctx, job_id).next_attempt_at == clock[0] + timedelta(seconds=lease)


def test_a_job_taken_over_from_an_expired_lease_is_logged_as_interrupted(ack_ctx, ack_sink, caplog):
    ctx = ack_ctx()
    job_id = add_job(ctx)
    first = outbox.claim(ctx, job_id, T0)
    assert first is not None
    later = T0 + timedelta(seconds=outbox.lease_seconds(ctx))
    with caplog.at_level("WARNING", logger="inbox_daemon.outbox"):
        assert outbox.deliver_due(ctx, now=later) == 1
    assert "interrupted" in caplog.text and first.outgoing_message_id in caplog.text
    assert ack_sink.messages[0].message["Message-ID"] == first.outgoing_message_id


def test_stop_cuts_a_delivery_waiting_on_the_relay_and_queues_it_again(ack_ctx, ack_sink):
    """The relay holds the end of DATA for a minute: stop() cuts it after its short grace,
    and the job is pending again, due at once, its attempt not counted."""
    ack_sink.hang_s = 60
    ctx = ack_ctx()
    job_id = add_job(ctx, next_attempt_at=utcnow())
    delivery = Delivery(ctx)
    delivery.start()
    delivery.wake()
    _wait_for(lambda: ack_sink.hung == 1)
    delivery.stop()
    row = job(ctx, job_id)
    assert row.state == "pending" and row.attempts == 0
    assert "stop" in (row.last_error or "") and row.next_attempt_at <= utcnow()
    assert ack_sink.messages == []


def _wait_for(condition: Callable[[], bool], limit_s: float = 30.0) -> None:
    """Poll until `condition` holds; a limit only to fail instead of hanging."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_a_relay_refusing_at_its_greeting_is_a_relay_failure(make_context):
    """A 554 greeting ends the session before EHLO; the job waits for a later try."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)

        def refuse() -> None:
            connection, _ = server.accept()
            with connection:
                connection.sendall(b"554 5.3.2 Servizio non disponibile\r\n")
                connection.recv(1024)  # until the client hangs up

        thread = threading.Thread(target=refuse, daemon=True)
        thread.start()
        ctx = make_context(ack_toml(server.getsockname()[1]))
        job_id = add_job(ctx)
        assert outbox.deliver_due(ctx, now=T0) == 0
        thread.join(10)
    row = job(ctx, job_id)
    assert row.state == "pending" and "SMTPConnectError" in (row.last_error or "")
    assert "554" in (row.last_error or "")
