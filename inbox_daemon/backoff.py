"""Capped exponential delays with jitter, for every retry the daemon makes (mailbox
reconnections, outbox jobs): a dead server is not hammered, and daemons that lost it together
do not come back in lockstep."""

from __future__ import annotations

import random
from dataclasses import dataclass


def delay_s(failures: int, base_s: float, cap_s: float) -> float:
    """Between half and all of base * 2^(failures-1), at most `cap_s`."""
    delay = min(cap_s, base_s * 2 ** min(max(failures - 1, 0), 30))
    return delay * random.uniform(0.5, 1.0)


@dataclass
class Backoff:
    """The delays of one thing that keeps failing; `reset` once it works again."""

    base_s: float
    cap_s: float = 900.0
    failures: int = 0

    def next_delay(self) -> float:
        self.failures += 1
        return delay_s(self.failures, self.base_s, self.cap_s)

    def reset(self) -> None:
        self.failures = 0
