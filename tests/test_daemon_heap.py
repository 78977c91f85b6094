"""The daemon's start-up heap is left out of the garbage collector's passes."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from inbox_daemon.daemon import YOUNG_GC_THRESHOLD, freeze_startup_heap

DEFAULT_THRESHOLDS = gc.get_threshold()


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
        gc.set_threshold(*DEFAULT_THRESHOLDS)


def test_run_starts_without_collections_and_ends_with_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`run` builds its start-up heap with the collector off (`cli.collections_paused`);
    the daemon's freeze turns it on, and so does the end of `run`, however it ends."""
    from inbox_daemon import cli, commands

    seen: list[bool] = []

    def dispatch(_args: object) -> int:
        seen.append(gc.isenabled())
        raise commands.ConfigError(["nothing"])

    monkeypatch.setattr(commands, "dispatch", dispatch)
    assert gc.isenabled()
    try:
        assert cli.main(["--config", str(tmp_path / "none.toml"), "run", "--once"]) != 0
        assert seen == [False] and gc.isenabled()
        assert gc.get_freeze_count() > 0  # the modules, frozen once imported
        gc.unfreeze()
        assert cli.main(["--config", str(tmp_path / "none.toml"), "status"]) != 0
        assert seen == [False, True] and gc.get_freeze_count() == 0  # others: as before
    finally:
        gc.unfreeze()


def test_the_freeze_collects_start_up_garbage_when_start_up_ran_without_collections() -> None:
    class Node:
        pass

    gc.disable()
    try:
        node = Node()
        node.itself = node  # type: ignore[attr-defined]
        dead = weakref.ref(node)
        del node
        freeze_startup_heap()
        assert gc.isenabled() and gc.get_threshold()[0] == YOUNG_GC_THRESHOLD
        assert dead() is None  # collected before the freeze, not frozen for good
    finally:
        gc.unfreeze()
        gc.enable()
        gc.set_threshold(*DEFAULT_THRESHOLDS)
