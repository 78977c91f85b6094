"""SQLite writers of one process take turns (`writer_turns.py`): the spool, which a source
waits on to acknowledge, goes before registration, which still gets its turn within the
patience; a thread may nest turns."""

from __future__ import annotations

import threading
import time

from inbox_daemon.store.writer_turns import WriterTurns


def hold_then_release(turns: WriterTurns, held: threading.Event, release: threading.Event) -> None:
    with turns.turn():
        held.set()
        release.wait(10)


def test_a_waiting_urgent_writer_goes_before_an_earlier_ordinary_one():
    turns = WriterTurns(patience_s=5)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_then_release, args=(turns, held, release))
    holder.start()
    held.wait(10)
    order: list[str] = []

    def write(name: str, urgent: bool) -> None:
        with turns.turn(urgent):
            order.append(name)

    ordinary = threading.Thread(target=write, args=("registration", False))
    ordinary.start()
    time.sleep(0.1)  # registration has been waiting first
    urgent = threading.Thread(target=write, args=("spool", True))
    urgent.start()
    time.sleep(0.1)
    release.set()
    for thread in (holder, ordinary, urgent):
        thread.join(10)
    assert order == ["spool", "registration"]


def test_an_ordinary_writer_waits_for_urgent_ones_no_longer_than_its_patience():
    turns = WriterTurns(patience_s=0.3)
    stop = threading.Event()

    def flood() -> None:  # urgent writers one after another, always one waiting
        while not stop.is_set():
            with turns.turn(urgent=True):
                time.sleep(0.01)

    floods = [threading.Thread(target=flood) for _ in range(3)]
    for thread in floods:
        thread.start()
    time.sleep(0.05)
    start = time.monotonic()
    with turns.turn():
        waited = time.monotonic() - start
    stop.set()
    for thread in floods:
        thread.join(10)
    assert waited < 2.0  # the patience (0.3 s) and a turn of the flood, not forever


def test_a_thread_may_nest_its_turns_and_the_next_writer_goes_after_the_outer_one():
    turns = WriterTurns()
    entered = threading.Event()

    def other() -> None:
        with turns.turn():
            entered.set()

    with turns.turn(), turns.turn(urgent=True):
        thread = threading.Thread(target=other)
        thread.start()
        assert not entered.wait(0.2)  # the lock is still held by the outer turn
    assert entered.wait(5)
    thread.join(5)
