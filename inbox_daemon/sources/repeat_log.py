"""A fault that repeats is logged once per interval with a count, never per occurrence.

A connection flood or a full descriptor table repeats the same error thousands of times a
second; logged each time, it filled 452 MB of journal in a minute (issue 13) and hid
everything else. Here the first occurrence is logged at once, and the next ones are counted
and reported in one line when the interval has passed and the fault shows up again (or at
`flush`, when the source stops).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

INTERVAL_S = 60.0


@dataclass
class _Tally:
    since: float
    count: int = 0  # occurrences not logged yet


class RepeatLog:
    """`note(key, text)`: log `text` now, or count it if `key` was logged within `interval_s`."""

    def __init__(
        self,
        logger: logging.Logger,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self.clock = clock
        self._tallies: dict[str, _Tally] = {}

    def note(self, key: str, text: str, level: int = logging.WARNING) -> None:
        now = self.clock()
        tally = self._tallies.get(key)
        if tally is None:
            self._tallies[key] = _Tally(since=now)
            self.logger.log(level, "%s", text)
            return
        tally.count += 1
        if now - tally.since >= self.interval_s:
            self._report(key, tally, level, now)

    def flush(self, level: int = logging.WARNING) -> None:
        """Report what was counted and not yet logged (at stop)."""
        now = self.clock()
        for key, tally in self._tallies.items():
            if tally.count:
                self._report(key, tally, level, now)

    def _report(self, key: str, tally: _Tally, level: int, now: float) -> None:
        self.logger.log(
            level, "%s (%d more time(s) in the last %.0f s)", key, tally.count, now - tally.since
        )
        tally.since, tally.count = now, 0
