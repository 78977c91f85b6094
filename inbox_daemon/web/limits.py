"""Per-address bounds of the web form: how many reports an address may send in an hour, and
which address a request comes from behind the operator's reverse proxy."""

from __future__ import annotations

import functools
import ipaddress
from collections import OrderedDict, deque

WINDOW_S = 3600.0
MAX_CLIENTS = 20000  # addresses remembered at once: memory stays bounded under a flood


class RateLimit:
    """A sliding hour per client address (event-loop thread only: no locks)."""

    def __init__(self, per_hour: int, max_clients: int = MAX_CLIENTS) -> None:
        self.per_hour = per_hour
        self.max_clients = max_clients
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str, now: float) -> float:
        """0 when `client` may submit now, else the seconds until it may."""
        times = self._seen.get(client)
        if times is None:
            return 0.0
        while times and now - times[0] >= WINDOW_S:
            times.popleft()
        return 0.0 if len(times) < self.per_hour else WINDOW_S - (now - times[0])

    def count(self, client: str, now: float) -> None:
        """One more report from `client`; the longest-quiet address is forgotten when full."""
        times = self._seen.pop(client, None) or deque(maxlen=self.per_hour)
        times.append(now)
        self._seen[client] = times
        while len(self._seen) > self.max_clients:
            self._seen.popitem(last=False)


def client_address(peer: str | None, forwarded_for: str | None, trusted: list[str]) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the nearest
    address in `X-Forwarded-For` that is not one (the ones before it, the client may forge)."""
    networks = _networks(tuple(trusted))
    address = peer or ""
    if not forwarded_for or not _among(address, networks):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        address = hop
        if not _among(hop, networks):
            break
    return address


@functools.cache
def _networks(trusted: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The configured proxies' networks, parsed once rather than for every request."""
    return [ipaddress.ip_network(n, strict=False) for n in trusted]


def _among(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
