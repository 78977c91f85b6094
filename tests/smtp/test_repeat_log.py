"""RepeatLog: a fault that repeats makes one line per interval, with the count."""

from __future__ import annotations

import logging

from inbox_daemon.sources.repeat_log import RepeatLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_fault_repeated_thousands_of_times_is_logged_once_per_interval(caplog):
    clock = Clock()
    repeats = RepeatLog(logging.getLogger("test.repeat"), interval_s=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.repeat"):
        for i in range(5000):
            clock.now = i * 0.01  # 5,000 accept failures in 50 s
            repeats.note("accept failed", "accept failed: EMFILE")
        clock.now = 61.0
        repeats.note("accept failed", "accept failed: EMFILE")
    assert [r.getMessage() for r in caplog.records] == [
        "accept failed: EMFILE",
        "accept failed (5000 more time(s) in the last 61 s)",
    ]


def test_flush_reports_what_was_counted_and_other_faults_are_apart(caplog):
    clock = Clock()
    repeats = RepeatLog(logging.getLogger("test.repeat"), interval_s=60, clock=clock)
    with caplog.at_level(logging.INFO, logger="test.repeat"):
        for _ in range(3):
            repeats.note("cap reached", "cap reached: 421")
        repeats.note("refused client", "refused 10.0.0.1", logging.INFO)
        clock.now = 5.0
        repeats.flush()
        repeats.flush()  # nothing new: nothing more
    assert [r.getMessage() for r in caplog.records] == [
        "cap reached: 421",
        "refused 10.0.0.1",
        "cap reached (2 more time(s) in the last 5 s)",
    ]
