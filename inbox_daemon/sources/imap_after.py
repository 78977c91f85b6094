"""The post-action (move or flag) of one folder in one pass: a promise separate from storing.

A stored message is ticketed whatever the server answers to its move or flag. The first
refusal in a pass stops the post-action for the rest of that pass (the server refuses the
target or the flag, not one message: asking again per batch would only repeat the error),
never the fetching; the messages left waiting stay in the folder, are recognised as stored on
the next pass, and their post-action is tried again then.
"""

from __future__ import annotations

from inbox_daemon.sources.imap_names import Namespaces
from inbox_daemon.sources.imap_session import ImapSession, Refused


class PostAction:
    def __init__(self, imap: ImapSession, after: str, retried: set[int]) -> None:
        self.imap = imap
        self.after = after  # with the target's name on the server
        self.retried = retried  # stored on an earlier pass, still in the folder
        self.refused: str | None = None  # the server's answer to the first refusal
        self.waiting: set[int] = set()

    def apply(self, uids: list[int]) -> None:
        """Move or flag these stored messages, or count them as waiting."""
        if self.after == "keep" or not uids:
            return
        if self.refused is None:
            try:
                self.imap.acknowledge(self.after, uids, self.retried)
                return
            except Refused as exc:
                self.refused = str(exc)
        self.waiting.update(uids)


def refusal_problem(folder: str, configured: str, after: str, refused: str, ns: Namespaces) -> str:
    """One line, the same on every pass (so the daemon logs it once): what the server refused,
    what it means for the messages, and what to change in the configuration."""
    action, _, arg = after.partition(":")
    what = f"move stored messages to {arg!r}" if action == "move" else f"flag them {arg}"
    if action == "move":
        hint = (
            f'check after = "{configured}": a folder the account may create, named as the '
            f"server expects ({ns.describe()}), or use a flag"
        )
    else:
        hint = f'check after = "{configured}": use a flag the server keeps, or a move'
    return (
        f"folder {folder!r}: the server refused to {what} ({refused}); they are ticketed and "
        f"wait in {folder!r}, retried every pass: {hint}"
    )
