"""Sources build from their config section; the daemon only sees the two protocols."""

from __future__ import annotations

from collections.abc import Callable

from inbox_daemon.config import Config, FolderSource, ImapSource, SmtpSource, WebSource
from inbox_daemon.leases import FolderLeases, Unshared
from inbox_daemon.sources.base import PolledSource, PushSource
from inbox_daemon.spool import Spool


def build_sources(
    config: Config, spool: Spool, on_new: Callable[[], None], leases: FolderLeases | None = None
) -> tuple[list[PolledSource], list[PushSource]]:
    """Instantiate every configured source. `on_new` is called when a push source stores mail;
    `leases` decide which instance fetches each mailbox folder (default: this one)."""
    polled: list[PolledSource] = []
    pushed: list[PushSource] = []
    for source in config.sources:
        if isinstance(source, FolderSource):
            from inbox_daemon.sources.folder import FolderSource as Folder

            polled.append(Folder(source))
        elif isinstance(source, ImapSource):
            from inbox_daemon.sources.imap import ImapSource as Imap

            polled.append(Imap(source, leases=leases or Unshared()))
        elif isinstance(source, SmtpSource):
            from inbox_daemon.sources.smtp import SmtpIngress

            pushed.append(SmtpIngress(source, spool, on_new))
        elif isinstance(source, WebSource):
            from inbox_daemon.web.server import WebIngress

            pushed.append(WebIngress(source, config, spool, on_new))
    return polled, pushed
