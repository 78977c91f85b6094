"""Work claimed with expiry on a shared PostgreSQL: received messages, and what `status`
says each live instance holds."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from datetime import datetime

import pytest
from sqlmodel import select
from test_pipeline import ROME, numbers, request, spool

from inbox_daemon import pipeline, status
from inbox_daemon.claims import claim_messages
from inbox_daemon.context import Context
from inbox_daemon.instances import Heartbeat
from inbox_daemon.leases import folder_lease
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("postgres")]


def claimed(ctx: Context, holder: str, after: int = 0, seconds: float = 60) -> list[int]:
    with transaction(ctx.engine) as session:
        return [m.id for m in claim_messages(session, holder, after, 50, seconds)]


def test_an_instance_leaves_another_ones_claimed_messages_until_the_claim_expires(
    pg_ctx: Context,
) -> None:
    pks = spool(pg_ctx, *(request(n) for n in range(1, 61)))

    first = claimed(pg_ctx, "a", seconds=1.5)  # `a` claims a batch, then is killed
    assert first == pks[:50]
    assert claimed(pg_ctx, "b") == pks[50:]  # `b` gets only what nobody claims
    assert claimed(pg_ctx, "a", seconds=1.5) == pks[:50]  # its own claims stay its own

    # `b`, processing as a daemon instance does, registers only its own ten
    b = dataclasses.replace(pg_ctx, instance="b")
    assert [o.message_pk for o in pipeline.process_pending(b)] == pks[50:]
    time.sleep(1.6)  # `a`'s claim runs out: `b` takes its messages over
    outcomes = list(pipeline.process_pending(b))
    assert [o.message_pk for o in outcomes] == pks[:50]
    assert {o.outcome for o in outcomes} == {"ticket"}
    assert numbers(pg_ctx) == list(range(1, 61))  # each once, no gap
    with transaction(pg_ctx.engine) as session:
        assert set(session.exec(select(Message.claimed_by))) == {"b"}


def test_a_claim_that_runs_out_under_a_slow_instance_costs_no_second_ticket(
    pg_ctx: Context,
) -> None:
    """`a` claimed and analysed, its claim ran out, `b` took the messages and registered
    them: when `a` comes to register, the rows are processed and it makes nothing."""
    pks = spool(pg_ctx, *(request(n) for n in range(1, 6)))
    with transaction(pg_ctx.engine) as session:
        messages = claim_messages(session, "a", 0, 50, seconds=0.5)
    pendings = [pipeline.pending(message) for message in messages]
    time.sleep(0.6)
    b = dataclasses.replace(pg_ctx, instance="b")
    assert [o.outcome for o in pipeline.process_pending(b)] == ["ticket"] * 5
    analysed = pipeline.analyser(pg_ctx).many(pendings)
    late = pipeline.register_batch(pg_ctx, messages, pipeline.place(analysed, pg_ctx.register, ()))
    assert [(o.message_pk, o.fresh) for o in late] == [(pk, False) for pk in pks]
    assert numbers(pg_ctx) == [1, 2, 3, 4, 5]


def test_status_lists_the_live_instances_and_what_each_holds(
    pg_ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    beats = [Heartbeat(pg_ctx.engine), Heartbeat(pg_ctx.engine)]
    for beat in beats:
        beat.start()
    one, two = beats
    assert one.leases.take(folder_lease("posta", "INBOX"), "posta") is None
    spool(pg_ctx, request(1), request(2))
    claimed(pg_ctx, one.id)

    assert status.status(argparse.Namespace(json=True), pg_ctx) in (0, 6)
    report = json.loads(capsys.readouterr().out)
    listed = {i["id"]: i for i in report["instances"]}
    assert set(listed) == {one.id, two.id}
    assert listed[one.id]["folders"] == ["imap:posta:INBOX"]
    assert listed[one.id]["messages"] == 2 and listed[two.id]["messages"] == 0
    assert listed[two.id]["folders"] == []
    started = datetime.fromisoformat(listed[one.id]["started"])
    assert started.utcoffset() == ROME.utcoffset(started.replace(tzinfo=None))

    status.status(argparse.Namespace(json=False), pg_ctx)
    text = capsys.readouterr().out
    assert f"instance {one.id}" in text and "folders imap:posta:INBOX; 2 message(s)" in text

    one.stop()  # stopped: no longer listed, its folder free
    status.status(argparse.Namespace(json=True), pg_ctx)
    report = json.loads(capsys.readouterr().out)
    assert [i["id"] for i in report["instances"]] == [two.id]
    assert two.leases.take(folder_lease("posta", "INBOX"), "posta") is None
    two.stop()
