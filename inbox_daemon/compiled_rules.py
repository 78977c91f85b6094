"""The shipped rules compiled once per version of the rules, kept in a cache file.

Compiling the shipped rules (their prefilter, anchors, lower-case twins and screens) costs
about a second of CPU, the largest part of an instance's start-up: each forkserver paid it
at every start, three instances on one machine three times. The compiled `RuleSet` is
pickled into a cache folder under a key that covers the Python version, the place and every
file of the `rules` package (its code and its TOML tables), so that an upgrade or an edited
table compiles anew; loading the file costs a third of compiling.

The cache folder is systemd's `CACHE_DIRECTORY` (`CacheDirectory=` in the unit), else
`$XDG_CACHE_HOME/inbox-daemon`, else `~/.cache/inbox-daemon`. A pickle runs code when
loaded, so a file is read only when it and its folder belong to this user and nobody else
may write them. Anything wrong with the cache (absent, unreadable, foreign, corrupt, not a
folder we may write) means the rules are compiled as before: never an error. The workers
compare the rules they get with the daemon's own (`workers._ready`), as they always did.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
import sys
import tempfile
import time
from pathlib import Path

import rules

RULES_PACKAGE = Path(rules.__file__).parent
STALE_S = 30 * 86400  # other versions' files, not written for this long, are removed


def cache_folder() -> Path:
    configured = os.environ.get("CACHE_DIRECTORY", "").split(":")[0]
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "inbox-daemon"


def version_key(package: Path = RULES_PACKAGE) -> str:
    """A digest of the Python version, of where the rules package is (each rule names the
    file that defined it) and of every one of its files."""
    digest = hashlib.sha256(f"{sys.version}\0{package.resolve()}\0".encode())
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".toml"}:
            digest.update(str(path.relative_to(package)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def shipped_rules(folder: Path | None = None) -> rules.RuleSet:
    """The shipped rules, compiled: from the cache when it holds this version, else compiled
    now and written there for the next start. Raises RulesError as `load_ruleset` does."""
    folder = folder or cache_folder()
    path = folder / f"rules-{version_key()}.pickle"
    cached = _load(path)
    if cached is not None:
        return cached
    ruleset = rules.load_ruleset().compile_all()
    _store(folder, path, ruleset)
    return ruleset


def _ours(path: Path) -> bool:
    """Owned by this user, and nobody else may write it (a pickle runs code when loaded)."""
    info = path.stat()
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _load(path: Path) -> rules.RuleSet | None:
    try:
        if not (_ours(path.parent) and _ours(path)):
            return None
        loaded = pickle.loads(path.read_bytes())
    except Exception:  # absent, unreadable, corrupt, written by other code: compile instead
        return None
    return loaded if isinstance(loaded, rules.RuleSet) else None


def _store(folder: Path, path: Path, ruleset: rules.RuleSet) -> None:
    """Written whole or not at all (a temporary file, readable by this user only, renamed),
    by whichever start gets there first: instances starting together write the same bytes."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _ours(folder):
            return
        data = pickle.dumps(ruleset, protocol=pickle.HIGHEST_PROTOCOL)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".rules-", delete=False) as tmp:
            written = Path(tmp.name)
            tmp.write(data)
    except Exception:  # a read-only home, a full disk, rules that do not pickle: no cache
        return
    try:
        os.replace(written, path)
    except OSError:
        written.unlink(missing_ok=True)
        return
    _remove_stale(folder, keep=path)


def _remove_stale(folder: Path, keep: Path) -> None:
    """Files of other rules versions that no start has written for a month."""
    now = time.time()
    for other in folder.glob("rules-*.pickle"):
        with contextlib.suppress(OSError):
            if other != keep and now - other.stat().st_mtime > STALE_S:
                other.unlink()
