"""Text from outside (a sender, an SMTP client) on its way into a header we write: one line.

An encoded-word may decode to CR, LF or a Unicode line separator, and a client's HELO name or
address may hold any byte; written into a header as they are, they would add headers of the
sender's choosing. Every header the daemon writes from such text goes through `one_line`.
"""

from __future__ import annotations

import re

LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str, limit: int | None = None) -> str:
    """No CR, LF, other controls or Unicode line separators; runs of space collapsed; at most
    `limit` characters."""
    flat = re.sub(r"\s+", " ", LINE_BREAKS.sub(" ", text)).strip()
    return flat if limit is None else flat[:limit]
