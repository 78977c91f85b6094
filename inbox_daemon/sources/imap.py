"""IMAP and PEC mailboxes: fetch every message once, store it, only then move or flag it.

Per folder and pass: SELECT (EXAMINE for `after = keep`) the folder by its name on the server
(`imap_names.resolve`: `INBOX.Fax` where personal folders live under `INBOX.`), compare
UIDVALIDITY with `source_state`, SEARCH what is left to fetch, skip UIDs the spool already
holds under this origin, FETCH the rest in batches (`batch_size` messages, at most
BATCH_BYTES), store the batch (files fsynced, rows committed with the advanced `last_uid`, in
one go), then move or flag it (`imap_after.PostAction`: a refusal is counted and reported, and
stops no fetching). A flag the server would not keep (PERMANENTFLAGS) is not set: the folder
is read as `keep`, its place kept in the database.

A crash anywhere repeats at most one batch: stored messages are recognised (by origin, else by
sha256 of their bytes) and their move or flag is completed. A new UIDVALIDITY means the UIDs
mean nothing any more: the folder is read again and the spool recognises what it has.

Messages over `max_message_mb` are not fetched (the spool holds whole messages in memory):
they stay on the server, neither moved nor flagged, hold `last_uid` below them, and are
reported as a fault of the source until the operator raises the limit or removes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC

from inbox_daemon.backoff import Backoff
from inbox_daemon.config import ImapSource as ImapConfig
from inbox_daemon.errors import SourceError
from inbox_daemon.folder_states import FolderStates
from inbox_daemon.leases import FolderLeases, LeaseLost, Unshared, folder_lease
from inbox_daemon.sources.imap_after import PostAction, refusal_problem
from inbox_daemon.sources.imap_idle import IdleWatcher
from inbox_daemon.sources.imap_names import keeps_flag, resolve
from inbox_daemon.sources.imap_session import (
    ConnectionLost,
    Fetched,
    ImapSession,
    Selected,
)
from inbox_daemon.spool import Incoming, Origin, Spool

log = logging.getLogger(__name__)
BATCH_BYTES = 16 * 1024 * 1024  # bounds memory per FETCH whatever batch_size says
MB = 1024 * 1024


class ImapSource:
    """See `PolledSource`; also `watch` (IMAP IDLE). One connection for polling, kept between
    polls; the daemon never runs two polls of one source at once. Its folder state goes
    through the spool it is given (`Spool.folder_states`)."""

    def __init__(
        self, config: ImapConfig, backoff: Backoff | None = None, leases: FolderLeases | None = None
    ):
        self.name = config.name
        self._leases = leases or Unshared()  # several instances: one fetcher per folder
        self.config = config
        self._backoff = backoff or Backoff(base_s=config.poll_interval_s)
        self._imap: ImapSession | None = None
        self._fault: str | None = None  # the connection fault we are backing off from
        self._retry_at = 0.0
        self._watchers: list[IdleWatcher] = []
        self._said: set[str] = set()  # notices logged once in this source's life
        self._waiting: dict[str, int] = {}  # folder -> messages waiting for their post-action
        self._standing_by: dict[str, str] = {}  # folder -> the instance fetching it instead

    def poll(self, spool: Spool) -> int:
        states = spool.folder_states(self.name)
        if self._fault and time.monotonic() < self._retry_at:
            raise ConnectionLost(self._fault)  # same text: the daemon does not log it again
        try:
            new = self._poll_folders(self._session(), spool, states)
        except ConnectionLost as exc:
            self._lost(str(exc), states)
            raise
        return new

    def _session(self) -> ImapSession:
        if self._imap is not None and not self._imap.alive():
            self._drop()  # e.g. the server restarted since the last poll
        if self._imap is None:
            self._imap = ImapSession(self.config)
        return self._imap

    def _poll_folders(self, imap: ImapSession, spool: Spool, states: FolderStates) -> int:
        new, problems = 0, []
        for folder in self.config.folders:
            if not self._may_fetch(folder):
                continue
            awaiting = None
            try:
                stored, awaiting, found = self._sync(imap, folder, spool, states)
            except ConnectionLost:
                raise
            except LeaseLost as exc:
                log.warning("source %s: %s; stopping this pass", self.name, exc)
                continue
            except SourceError as exc:
                stored, found = 0, [str(exc)]
            new += stored
            problem = "; ".join(found) or None
            states.save_outcome(folder, problem, awaiting)
            if problem:
                problems.append(problem)
        self._fault = None
        self._backoff.reset()
        if problems:
            raise SourceError("; ".join(problems))
        return new

    def _may_fetch(self, folder: str) -> bool:
        """Whether this instance fetches `folder` now: it holds the folder's lease (always, on
        one machine); else it stands by, said once per holder."""
        holder = self._leases.take(folder_lease(self.name, folder), self.name)
        if holder is None:
            if self._standing_by.pop(folder, None) is not None:
                log.info("source %s: folder %r: this instance fetches it now", self.name, folder)
            return True
        if self._standing_by.get(folder) != holder:
            self._standing_by[folder] = holder
            log.info("source %s: folder %r is fetched by instance %s; this one stands by",
                     self.name, folder, holder)  # fmt: skip
        return False

    def _still_holds(self, folder: str) -> None:
        """Before anything that touches the folder: stop if the lease may have lapsed."""
        if not self._leases.holds(folder_lease(self.name, folder)):
            raise LeaseLost(f"folder {folder!r}: lease not renewed in time")

    def _lost(self, fault: str, states: FolderStates) -> None:
        # another instance that reaches the server may fetch meanwhile
        self._leases.release(folder_lease(self.name, folder) for folder in self.config.folders)
        self._drop()
        self._fault = fault
        self._retry_at = time.monotonic() + self._backoff.next_delay()
        for folder in self.config.folders:
            states.save_outcome(folder, fault)

    def _sync(
        self, imap: ImapSession, folder: str, spool: Spool, states: FolderStates
    ) -> tuple[int, int, list[str]]:
        """One folder: store what is new, then move or flag it; return (new, messages
        waiting for their post-action, problems)."""
        limit = self.config.max_message_mb * MB
        readonly = self.config.after == "keep"
        selected = imap.select(self._server_name(imap, folder), readonly=readonly)
        uidvalidity, after = selected.uidvalidity, self._after(imap, folder, selected)
        last_uid = self._resume_point(states, folder, uidvalidity)
        uids = imap.search(after, last_uid)
        stored = states.stored_uids(folder, uidvalidity, uids)
        post = PostAction(imap, after, retried=set(stored))
        sizes = imap.sizes([uid for uid in uids if uid not in stored]) if uids else {}
        too_big = {uid: size for uid, size in sizes.items() if size > limit}
        ceiling = min(too_big, default=None)  # last_uid must stay below an unfetched message
        new = 0
        for batch in _batches(uids, sizes, too_big, self.config.batch_size):
            self._still_holds(folder)
            wanted = [uid for uid in batch if uid in sizes and uid not in too_big]
            fetched = imap.fetch(wanted) if wanted else []
            top = batch[-1] if ceiling is None else min(batch[-1], ceiling - 1)
            # the resume point moves in the batch's own commit (`keep` reads from it; a move
            # or a flag looks at what is left in the folder, whatever it says)
            progress = states.progress(folder, uidvalidity, top) if top > last_uid else None
            incomings = [self._incoming(folder, uidvalidity, m) for m in fetched]
            spooled = spool.store_many(incomings, progress=progress)
            last_uid = max(last_uid, top)
            new += sum(s.new for s in spooled)
            stored.update(message.uid for message in fetched)
            self._still_holds(folder)  # the move: never by two instances at once
            post.apply([uid for uid in batch if uid in stored])  # a refusal stops no fetching
        problems = [_too_big_problem(folder, too_big, self.config.max_message_mb)]
        if post.refused:
            problems.append(
                refusal_problem(folder, self.config.after, after, post.refused, imap.namespaces)
            )
        self._count_waiting(folder, len(post.waiting))
        return new, len(post.waiting), [p for p in problems if p]

    def _server_name(self, imap: ImapSession, name: str) -> str:
        """`name` as this server means it (see `imap_names.resolve`), said once if it differs."""
        resolved = resolve(name, imap.namespaces)
        if resolved != name:
            self._say_once(
                logging.INFO, f"folder {name!r} is {resolved!r} on this server "
                f"({imap.namespaces.describe()})",
            )  # fmt: skip
        return resolved

    def _after(self, imap: ImapSession, folder: str, selected: Selected) -> str:
        """The post-action this folder gets: a move target by its server name; a flag the
        server does not keep (PERMANENTFLAGS) falls back to `keep`, said once."""
        action, _, arg = self.config.after.partition(":")
        if action == "move":
            return f"move:{self._server_name(imap, arg)}"
        if action == "flag" and not keeps_flag(arg, selected.permanent_flags):
            kept = b" ".join(selected.permanent_flags or ()).decode("ascii", "replace")
            self._say_once(
                logging.WARNING, f"folder {folder!r}: the server does not keep the flag {arg} "
                f"(PERMANENTFLAGS ({kept})): acting as after = \"keep\", the database "
                "remembers what is stored; to mark mail on the server, use after = "
                '"move:FOLDER" or a flag it keeps',
            )  # fmt: skip
            return "keep"
        return self.config.after

    def _count_waiting(self, folder: str, waiting: int) -> None:
        """Log how many stored messages wait for their move or flag, when that changes."""
        before = self._waiting.get(folder, 0)
        self._waiting[folder] = waiting
        if waiting and waiting != before:
            log.warning(
                "source %s: folder %r: %d stored message(s) waiting for their post-action (%s)",
                self.name, folder, waiting, self.config.after,
            )  # fmt: skip
        elif before and not waiting:
            log.info("source %s: folder %r: every post-action done", self.name, folder)

    def _say_once(self, level: int, text: str) -> None:
        if text not in self._said:
            self._said.add(text)
            log.log(level, "source %s: %s", self.name, text)

    def _resume_point(self, states: FolderStates, folder: str, uidvalidity: int) -> int:
        known = states.load(folder)
        if known.uidvalidity == uidvalidity:
            return known.last_uid
        if known.uidvalidity is not None:
            log.warning(
                "source %s: folder %r has a new UIDVALIDITY (%s, was %s): reading it all again;"
                " messages already stored are recognised and not duplicated",
                self.name, folder, uidvalidity, known.uidvalidity,
            )  # fmt: skip
        states.save_progress(folder, uidvalidity, 0)
        return 0

    def _incoming(self, folder: str, uidvalidity: int, message: Fetched) -> Incoming:
        cfg = self.config
        received = message.internal_date
        if received.tzinfo is None:  # a server without a zone in INTERNALDATE: assume UTC
            received = received.replace(tzinfo=UTC)
        url = f"imap://{cfg.username}@{cfg.host}/{folder};UIDVALIDITY={uidvalidity}/;UID="
        return Incoming(
            raw=message.raw,
            origin=Origin(self.name, folder, uidvalidity, message.uid, f"{url}{message.uid}"),
            received_at=received,
            channel=cfg.channel,
        )

    def watch(self, trigger: Callable[[], None]) -> None:
        """Push as well as poll: one IDLE connection per folder calls `trigger` (which polls
        this source) when the server reports new mail, or is back after an outage."""
        if not self.config.idle:
            return

        def changed() -> None:
            self._retry_at = 0.0  # the server answers: do not wait out the backoff
            trigger()

        for folder in self.config.folders:
            watcher = IdleWatcher(self.config, folder, changed)
            watcher.start()
            self._watchers.append(watcher)

    def close(self) -> None:
        for watcher in self._watchers:
            watcher.stop()
        self._watchers.clear()
        self._drop()

    def _drop(self) -> None:
        if self._imap is not None:
            self._imap.close()
            self._imap = None


def _batches(
    uids: list[int], sizes: dict[int, int], skip: dict[int, int], count: int
) -> Iterator[list[int]]:
    """UIDs in order, in groups of at most `count` messages and BATCH_BYTES to fetch."""
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = 0 if uid in skip else sizes.get(uid, 0)
        if batch and (len(batch) >= count or total + size > BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def _too_big_problem(folder: str, too_big: dict[int, int], limit_mb: int) -> str | None:
    if not too_big:
        return None
    first = sorted(too_big.items())[:5]
    listed = ", ".join(f"UID {uid} ({size / MB:.0f} MB)" for uid, size in first)
    more = f" and {len(too_big) - 5} more" if len(too_big) > 5 else ""
    return (
        f"folder {folder!r}: {listed}{more} over max_message_mb = {limit_mb}, left on the server "
        "unread: raise max_message_mb for this source, or move the message out of the folder"
    )
