"""`inbox-daemon sources test [NAME...]`: log in to each IMAP source as the daemon would and
say what it would watch and where its mail would go, so that a refused move or a flag the
server does not keep is found before the first message, not after it.

The move target is checked for real: if it does not exist it is created and removed again
(the right to create it is what Cyrus and Courier refuse outside `INBOX.`). Nothing else is
changed: folders are opened read-only.
"""

from __future__ import annotations

from collections.abc import Sequence

from imapclient.exceptions import IMAPClientError

from inbox_daemon.config import Config
from inbox_daemon.config import ImapSource as ImapConfig
from inbox_daemon.errors import ExitCode, SourceError, UsageError
from inbox_daemon.sources.imap_names import keeps_flag, resolve
from inbox_daemon.sources.imap_session import ImapSession, describe

WATCHED = ("MOVE", "UIDPLUS", "IDLE", "NAMESPACE")  # what changes the daemon's behaviour


def test_sources(config: Config, names: Sequence[str]) -> int:
    """Print a report per IMAP source; exit 0 when every check passed, else 5."""
    sources = [_imap(config, name) for name in names] if names else _all_imap(config)
    ok = True
    for source in sources:
        ok = _report(source) and ok
    return ExitCode.ok if ok else ExitCode.source_failed


def _all_imap(config: Config) -> list[ImapConfig]:
    found = [s for s in config.sources if isinstance(s, ImapConfig)]
    if not found:
        raise UsageError("no IMAP source in the configuration: nothing to test")
    return found


def _imap(config: Config, name: str) -> ImapConfig:
    try:
        source = config.source(name)
    except KeyError:
        known = ", ".join(s.name for s in config.sources) or "none"
        raise UsageError(f"no source named {name!r} (sources: {known})") from None
    if not isinstance(source, ImapConfig):
        raise UsageError(f"source {name!r} is kind {source.kind}: `sources test` checks IMAP")
    return source


def _report(cfg: ImapConfig) -> bool:
    print(f"source {cfg.name}: {cfg.username} at {cfg.host}:{cfg.effective_port} ({cfg.tls})")
    try:
        imap = ImapSession(cfg)
    except SourceError as exc:
        print(f"  FAIL {exc}")
        return False
    try:
        offered = [c for c in WATCHED if imap.has(c)]
        print(f"  logged in; {imap.namespaces.describe()}; offers {' '.join(offered) or '-'}")
        lines = [_folder(imap, folder) for folder in cfg.folders] + [_after(imap, cfg)]
    finally:
        imap.close()
    for good, line in lines:
        print(f"  {'ok  ' if good else 'FAIL'} {line}")
    return all(good for good, _ in lines)


def _folder(imap: ImapSession, folder: str) -> tuple[bool, str]:
    name = resolve(folder, imap.namespaces)
    shown = repr(folder) if name == folder else f"{folder!r} (on the server {name!r})"
    try:
        status = imap.client.folder_status(name, [b"MESSAGES", b"UIDVALIDITY"])
    except (IMAPClientError, OSError) as exc:
        return (
            False,
            f"watches {shown}: cannot be opened ({describe(exc, imap.cfg)}): check folders",
        )
    return True, f"watches {shown}: {status[b'MESSAGES']} message(s) waiting"


def _after(imap: ImapSession, cfg: ImapConfig) -> tuple[bool, str]:
    action, _, arg = cfg.after.partition(":")
    if action == "keep":
        return True, "after = keep: mail stays as it is; the database remembers what is stored"
    if action == "move":
        return _move_target(imap, arg)
    try:
        info = imap.select(resolve(cfg.folders[0], imap.namespaces), readonly=False)
    except SourceError as exc:
        return False, f"after = flag:{arg}: cannot tell ({exc})"
    kept = b" ".join(info.permanent_flags or ()).decode("ascii", "replace")
    if keeps_flag(arg, info.permanent_flags):
        return True, f"after = flag:{arg}: the server keeps it (PERMANENTFLAGS ({kept}))"
    return False, (
        f"after = flag:{arg}: the server does not keep it (PERMANENTFLAGS ({kept})): the daemon "
        'would act as after = "keep"; use a flag it keeps, or "move:FOLDER"'
    )


def _move_target(imap: ImapSession, target: str) -> tuple[bool, str]:
    name = resolve(target, imap.namespaces)
    shown = repr(target) if name == target else f"{target!r} (on the server {name!r})"
    client = imap.client
    try:
        if client.folder_exists(name):
            return True, f"after = move: into {shown}, which exists"
        client.create_folder(name)
        client.delete_folder(name)
    except (IMAPClientError, OSError) as exc:
        return False, (
            f"after = move: {shown} cannot be created ({describe(exc, imap.cfg)}): name a "
            f"folder the account may create ({imap.namespaces.describe()})"
        )
    return True, f"after = move: into {shown}, created at the first move (checked: allowed)"
