"""The trust store: the CA certificates of the accredited PEC providers, as one PEM bundle.

Kept as DER bytes so that it travels to the worker processes as plain data; the parsed
certificates are built once per process, on first use.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from asn1crypto import pem, x509

if TYPE_CHECKING:
    from pyhanko_certvalidator.registry import SimpleTrustManager


class TrustStoreError(ValueError):
    """The bundle holds no certificate, or one that does not parse."""


@dataclass(frozen=True)
class TrustStore:
    ders: tuple[bytes, ...]

    @classmethod
    def from_pem(cls, data: bytes) -> TrustStore:
        """Every `CERTIFICATE` block of a PEM bundle (other blocks are ignored)."""
        ders = []
        try:
            for kind, _, der in pem.unarmor(data, multiple=True):
                if kind == "CERTIFICATE":
                    x509.Certificate.load(der).native  # noqa: B018 - fails now, not per message
                    ders.append(der)
        except (ValueError, TypeError) as exc:
            raise TrustStoreError(f"not a PEM certificate bundle: {exc}") from None
        if not ders:
            raise TrustStoreError("no CERTIFICATE in the PEM bundle")
        return cls(tuple(ders))

    @cached_property
    def roots(self) -> tuple[x509.Certificate, ...]:
        return tuple(x509.Certificate.load(der) for der in self.ders)

    @cached_property
    def manager(self) -> SimpleTrustManager:
        """The roots as pyhanko-certvalidator holds them: built once, not per message."""
        from pyhanko_certvalidator.registry import SimpleTrustManager  # on first use only

        return SimpleTrustManager.build(trust_roots=list(self.roots))

    @cached_property
    def digest(self) -> str:
        """Names this set of roots (what a remembered validation was made against)."""
        return hashlib.sha256(b"".join(self.ders)).hexdigest()

    def __getstate__(self) -> dict:
        return {"ders": self.ders}  # not the parsed roots: rebuilt in each worker

    def __setstate__(self, state: dict) -> None:
        object.__setattr__(self, "ders", state["ders"])
