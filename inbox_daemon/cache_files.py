"""Files one start leaves for the next (the compiled rules, a country's holidays): work that
costs a tenth of a second or more at every start, and gives the same answer until the code
or the data it comes from changes, which the caller's file name (its key) covers.

The folder is systemd's `CACHE_DIRECTORY` (`CacheDirectory=` in the unit), else
`$XDG_CACHE_HOME/inbox-daemon`, else `~/.cache/inbox-daemon`. A file is read only when it and
its folder belong to this user and nobody else may write them (a pickle runs code when
loaded; any cached answer steers the daemon). Anything wrong with a file (absent,
unreadable, foreign, not a folder we may write) means the caller works it out again: never
an error.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from pathlib import Path

STALE_S = 30 * 86400  # other versions' files, not written for this long, are removed


def cache_folder() -> Path:
    configured = os.environ.get("CACHE_DIRECTORY", "").split(":")[0]
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "inbox-daemon"


def owned(path: Path) -> bool:
    """Owned by this user, and nobody else may write it."""
    info = path.stat()
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read(path: Path) -> bytes | None:
    """The file's bytes when it and its folder are this user's alone, else None."""
    try:
        if not (owned(path.parent) and owned(path)):
            return None
        return path.read_bytes()
    except OSError:
        return None


def write(path: Path, data: bytes) -> bool:
    """`data` written whole or not at all (a temporary file, readable by this user only,
    renamed), by whichever start gets there first: starts together write the same bytes.
    Other files of the same kind (the name up to its last "-") not written for a month are
    removed. False when it could not be written (a read-only home, a full disk)."""
    folder = path.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not owned(folder):
            return False
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".cache-", delete=False) as tmp:
            written = Path(tmp.name)
            tmp.write(data)
    except OSError:
        return False
    try:
        os.replace(written, path)
    except OSError:
        written.unlink(missing_ok=True)
        return False
    _remove_stale(path)
    return True


def _remove_stale(keep: Path) -> None:
    kind = keep.name.rsplit("-", 1)[0]
    now = time.time()
    for other in keep.parent.glob(f"{kind}-*{keep.suffix}"):
        with contextlib.suppress(OSError):
            if other != keep and now - other.stat().st_mtime > STALE_S:
                other.unlink()
