"""The answer page hears of its ticket when registration commits, not at the next poll."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import insert, select

from inbox_daemon.sources.loop_thread import LoopThread
from inbox_daemon.store.models import Ticket
from inbox_daemon.web import waiting
from inbox_daemon.web.waiting import Waiters
from tests.web.conftest import REPORT

pytestmark = pytest.mark.integration


@contextmanager
def watching(site) -> Iterator[tuple[Waiters, asyncio.AbstractEventLoop]]:
    """Waiters on the site's store, watching its commits from a loop of their own; they never
    poll within a test (a poll would come after its end), so only the events can tell them."""
    waiters = Waiters(site.ctx.engine, poll_s=3600)
    runs = LoopThread("test-waiters")
    runs.start()
    try:
        waiters.watch(runs.loop)
        yield waiters, runs.loop
    finally:
        waiters.unwatch()
        runs.halt()


def test_a_waiting_answer_is_told_of_its_ticket_by_the_registrations_commit(start_site):
    site = start_site()
    site.registrar.paused.set()
    token = site.client.get("/").token
    assert site.client.post({"token": token, **REPORT}).status == 303
    [stored] = site.messages()
    with watching(site) as (waiters, loop):
        answer = asyncio.run_coroutine_threadsafe(waiters.ticket(stored.id, 60), loop)
        time.sleep(0.5)  # its first look, at once, found no ticket
        assert not answer.done()
        site.registrar.paused.clear()
        site.registrar.wake.set()
        ticket = answer.result(timeout=90)
        assert ticket is not None and ticket.number == site.tickets()[0].number


def test_only_a_commit_that_inserts_tickets_makes_the_waiters_look_again(start_site, monkeypatch):
    site = start_site()
    site.registrar.paused.set()
    looks: list[list[int]] = []
    real = waiting.tickets_of

    def counted(engine, message_pks):  # the real look, counted
        looks.append(list(message_pks))
        return real(engine, message_pks)

    monkeypatch.setattr(waiting, "tickets_of", counted)
    assert site.client.post({"token": site.client.get("/").token, **REPORT}).status == 303
    [stored] = site.messages()
    with watching(site) as (waiters, loop):
        answer = asyncio.run_coroutine_threadsafe(waiters.ticket(stored.id, 60), loop)
        deadline = time.monotonic() + 30
        while not looks and time.monotonic() < deadline:
            time.sleep(0.05)
        assert looks == [[stored.id]]  # its first look, at once
        for _ in range(3):  # three more reports stored: commits of the spool, none a ticket
            assert site.client.post({"token": site.client.get("/").token, **REPORT}).status == 303
        time.sleep(0.5)  # time enough for a look that should not come
        assert len(looks) == 1 and not answer.done()
        site.registrar.paused.clear()
        site.registrar.wake.set()
        ticket = answer.result(timeout=90)
        assert ticket is not None and ticket.number == site.tickets()[0].number
        assert len(looks) == 1  # registration's commit told it: no second look


def test_a_ticket_told_by_its_commit_is_the_ticket_a_look_reads(start_site, monkeypatch):
    """Told from registration's INSERT, without a query: every field the page shows is the
    one the store gives back (times in UTC, as read)."""
    site = start_site()
    site.registrar.paused.set()
    looks: list[list[int]] = []
    real = waiting.tickets_of

    def counted(engine, message_pks):
        looks.append(list(message_pks))
        return real(engine, message_pks)

    monkeypatch.setattr(waiting, "tickets_of", counted)
    assert site.client.post({"token": site.client.get("/").token, **REPORT}).status == 303
    [stored] = site.messages()
    with watching(site) as (waiters, loop):
        answer = asyncio.run_coroutine_threadsafe(waiters.ticket(stored.id, 60), loop)
        time.sleep(0.5)  # its first look, at once, found nothing
        site.registrar.paused.clear()
        site.registrar.wake.set()
        told = answer.result(timeout=90)
        assert looks == [[stored.id]]  # the first look only: the commit told the ticket
        assert told == real(site.ctx.engine, [stored.id])[stored.id]
        # a page that comes just after the commit is told at once as well
        again = asyncio.run_coroutine_threadsafe(waiters.ticket(stored.id, 60), loop)
        assert again.result(timeout=30) == told and looks == [[stored.id]]


def test_a_ticket_inserted_then_rolled_back_is_never_told(start_site):
    """A transaction that inserts a ticket and rolls back (as a failing batch does) tells
    nothing: the page waits for the ticket that commits, with its own number."""
    site = start_site()
    assert site.client.post({"token": site.client.get("/").token, **REPORT}).status == 303
    deadline = time.monotonic() + 90
    while not site.tickets() and time.monotonic() < deadline:
        time.sleep(0.05)
    [first] = site.tickets()
    site.registrar.paused.set()
    assert site.client.post({"token": site.client.get("/").token, **REPORT}).status == 303
    second = max(message.id for message in site.messages())
    table = Ticket.__table__
    with site.ctx.engine.connect() as connection:
        row = dict(connection.execute(select(table).where(table.c.id == first.id)).mappings().one())
    fake = {**row, "message_pk": second, "seq": 999_999, "number": "2026/999999",
            "message_id": None}  # fmt: skip
    del fake["id"]
    with watching(site) as (waiters, loop):
        answer = asyncio.run_coroutine_threadsafe(waiters.ticket(second, 60), loop)
        time.sleep(0.3)
        with contextlib.suppress(RuntimeError), site.ctx.engine.begin() as connection:
            connection.execute(insert(Ticket), [fake])
            raise RuntimeError("the batch failed")  # rolled back
        time.sleep(0.5)  # the rollback's check-in heard, its look made
        assert not answer.done()
        site.registrar.paused.clear()
        site.registrar.wake.set()
        told = answer.result(timeout=90)
        assert told is not None and told.number != "2026/999999"
        assert told.number == next(t for t in site.tickets() if t.message_pk == second).number


def test_an_answer_asked_after_its_tickets_commit_is_told_at_once(start_site):
    """The waiters are sleeping (another page waits) when this page comes, its ticket
    registered already: it is looked up at once, not at the next commit or poll."""
    site = start_site()
    site.registrar.paused.set()
    assert site.client.post({"token": site.client.get("/").token, **REPORT}).status == 303
    [stored] = site.messages()
    with watching(site) as (waiters, loop):
        other = asyncio.run_coroutine_threadsafe(waiters.ticket(stored.id + 1000, 120), loop)
        site.registrar.paused.clear()
        site.registrar.wake.set()
        deadline = time.monotonic() + 90
        while not site.tickets() and time.monotonic() < deadline:
            time.sleep(0.05)
        [ticket] = site.tickets()
        time.sleep(0.3)  # the commit heard, the other page's look made and found nothing
        answer = asyncio.run_coroutine_threadsafe(waiters.ticket(stored.id, 60), loop)
        told = answer.result(timeout=30)
        assert told is not None and told.number == ticket.number
        assert not other.done()
