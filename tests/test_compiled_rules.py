"""The compiled shipped rules kept in a cache file (`inbox_daemon.compiled_rules`): read back
only when they are this version's and the file is the daemon user's alone, and classifying
exactly as rules compiled afresh."""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import rules
from inbox_daemon import commands, compiled_rules
from inbox_daemon.context import Context
from rules.report import load_corpus
from tests.test_workers import SITE_RULE

CORPUS = Path(__file__).resolve().parent / "corpus"


def cache_file(folder: Path) -> Path:
    return folder / f"rules-{compiled_rules.version_key()}.pickle"


def test_rules_read_back_from_the_cache_classify_as_compiled_ones(tmp_path: Path) -> None:
    compiled = compiled_rules.shipped_rules(tmp_path)  # compiled now, and written
    assert cache_file(tmp_path).stat().st_mode & 0o077 == 0  # readable by this user only
    cached = compiled_rules.shipped_rules(tmp_path)
    assert cached is not compiled and cached.rules == compiled.rules
    # what the workers and the daemon compare (`workers._ready`, `commands._compiled`)
    assert (cached.rules, cached.decisions) == (rules.load_ruleset().rules, compiled.decisions)
    fresh = rules.load_ruleset().compile_all()
    docs = [m.doc for path in sorted(CORPUS.glob("*.toml")) for m in load_corpus(path)]
    assert len(docs) > 100
    for doc in docs:
        verdict = rules.classify(doc, cached, rules.DEFAULT_POLE_FORMATS)
        assert verdict == rules.classify(doc, fresh, rules.DEFAULT_POLE_FORMATS)


def planted(folder: Path, mode: int) -> rules.RuleSet:
    """A cache file of this version holding only the first rule, so that reading it shows."""
    full = rules.load_ruleset()
    few = rules.RuleSet(full.rules[:1], full.decisions, full.files)
    folder.mkdir(mode=0o700, exist_ok=True)
    cache_file(folder).write_bytes(pickle.dumps(few))
    os.chmod(cache_file(folder), mode)
    return few


def test_a_cache_file_of_this_version_is_what_is_used(tmp_path: Path) -> None:
    few = planted(tmp_path / "cache", 0o600)
    assert compiled_rules.shipped_rules(tmp_path / "cache").rules == few.rules


def test_a_file_others_may_write_is_never_unpickled(tmp_path: Path) -> None:
    planted(tmp_path / "cache", 0o666)  # anyone could have put code in it
    used = compiled_rules.shipped_rules(tmp_path / "cache")
    assert used.rules == rules.load_ruleset().rules


def test_a_corrupt_cache_file_is_compiled_anew_and_replaced(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    cache_file(tmp_path).write_bytes(b"\x80\x05 not a pickle")
    os.chmod(cache_file(tmp_path), 0o600)
    used = compiled_rules.shipped_rules(tmp_path)
    assert used.rules == rules.load_ruleset().rules
    assert pickle.loads(cache_file(tmp_path).read_bytes()).rules == used.rules


def test_an_unwritable_cache_folder_only_costs_the_compilation(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    used = compiled_rules.shipped_rules(blocked / "cache")
    assert used.rules == rules.load_ruleset().rules


def test_the_version_covers_the_rules_place_code_and_tables(tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(compiled_rules.RULES_PACKAGE, copy, ignore=shutil.ignore_patterns("*.pyc"))
    before = compiled_rules.version_key(copy)
    # the same files elsewhere: each rule names the file that defined it, so another key
    assert before != compiled_rules.version_key(compiled_rules.RULES_PACKAGE)
    assert before == compiled_rules.version_key(copy)
    table = next((copy / "defaults").glob("*.toml"))
    table.write_text(table.read_text() + "\n# edited\n")
    edited = compiled_rules.version_key(copy)
    assert edited != before
    engine = copy / "engine.py"
    engine.write_text(engine.read_text() + "\n# edited\n")
    assert compiled_rules.version_key(copy) not in {before, edited}


def test_a_daemon_analysing_in_its_own_process_starts_with_the_rules_compiled(
    make_context: Callable[..., Context], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path / "cache"))
    ctx = make_context()  # `ingest`, `reprocess` and `run` with `workers = 0` call this
    assert "prefilter" not in vars(ctx.ruleset)  # loaded, compiled on the first message
    ready = commands._compiled(ctx)
    assert "prefilter" in vars(ready.ruleset) and ready.ruleset.rules == ctx.ruleset.rules
    assert cache_file(tmp_path / "cache").exists()  # the next start reads it


def test_a_daemon_with_its_own_rules_keeps_them(
    make_context: Callable[..., Context], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path / "cache"))
    site = tmp_path / "site.toml"
    site.write_text(SITE_RULE)
    ctx = make_context(f'[rules]\nfiles = ["{site}"]\n')
    assert commands._compiled(ctx).ruleset is ctx.ruleset
