"""The shipped rules compiled once per version of the rules, kept in a cache file.

Compiling the shipped rules (their prefilter, anchors, lower-case twins and screens) costs
about a second of CPU, the largest part of an instance's start-up: each forkserver paid it
at every start, three instances on one machine three times. The compiled `RuleSet` is
pickled into a cache folder under a key that covers the Python version, the place and every
file of the `rules` package (its code and its TOML tables), so that an upgrade or an edited
table compiles anew; loading the file costs a third of compiling.

The file is kept as `cache_files` keeps one (read only when it is this user's alone; anything
wrong with it means the rules are compiled as before: never an error). The workers compare
the rules they get with the daemon's own (`workers._ready`), as they always did.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from pathlib import Path

import rules
from inbox_daemon import cache_files
from inbox_daemon.cache_files import cache_folder

__all__ = ["RULES_PACKAGE", "cache_folder", "shipped_rules", "version_key"]
RULES_PACKAGE = Path(rules.__file__).parent


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
    _store(path, ruleset)
    return ruleset


def _load(path: Path) -> rules.RuleSet | None:
    data = cache_files.read(path)
    if data is None:
        return None
    try:
        loaded = pickle.loads(data)
    except Exception:  # corrupt, or written by other code: compile instead
        return None
    return loaded if isinstance(loaded, rules.RuleSet) else None


def _store(path: Path, ruleset: rules.RuleSet) -> None:
    try:
        data = pickle.dumps(ruleset, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # rules that do not pickle: no cache
        return
    cache_files.write(path, data)
