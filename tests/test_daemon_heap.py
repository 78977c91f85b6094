"""The daemon's start-up heap is left out of the garbage collector's passes."""

from __future__ import annotations

import gc

from inbox_daemon.daemon import freeze_startup_heap


def test_what_start_up_built_is_frozen_out_of_the_collectors_passes():
    """Objects alive when the daemon starts its loop are never walked again by a collection
    (`gc.freeze`); what is made later still is, and garbage is still freed."""
    built_at_start = [{"rule": n} for n in range(1000)]
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() >= len(built_at_start)
        walked = {id(o) for o in gc.get_objects()}  # what a collection goes through
        assert not any(id(o) in walked for o in built_at_start)
        later = [[n] for n in range(10)]
        walked = {id(o) for o in gc.get_objects()}
        assert all(id(o) in walked for o in later)
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # a cycle made after start-up is still collected
    finally:
        gc.unfreeze()
