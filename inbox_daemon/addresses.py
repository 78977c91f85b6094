"""Whether an e-mail address is among a list of addresses and `@domain` entries."""

from __future__ import annotations

from collections.abc import Collection


def is_among(address: str, entries: Collection[str]) -> bool:
    """True when `address` is one of `entries`, or its domain is an "@domain" entry.

    Case-insensitive on the address; `entries` are expected lower-case already (the config
    lowers them once). An address without "@" matches nothing.

    >>> is_among("Mario@Comune.it", {"@comune.it"})
    True
    """
    address = address.lower()
    domain = "@" + address.rpartition("@")[2]
    return "@" in address and (address in entries or domain in entries)
