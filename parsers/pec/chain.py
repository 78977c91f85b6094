"""Is the signer's certificate trusted, at the moment it signed?

pyhanko-certvalidator builds and validates the path (RFC 5280) to a root of the trust store
at a given moment: the signature's signing time. Provider certificates expire every few years
while PEC stays in the archive; a message certified on arrival must stay certified when it is
reprocessed later. No revocation data is fetched (no network in the pipeline). SHA-1 is
accepted: the PEC providers signed with it until at least 2023, and it is the rules' own
algorithm; MD5 and MD2 are not.

A validated path is remembered with the span in which all its certificates are valid: with
no revocation data, nothing else in the validation depends on the moment, so the next
message signed by the same provider certificate within that span needs no new path search
(a mailbox sees a handful of provider certificates; the search costs tens of milliseconds,
the look-up microseconds). A moment outside the span, or a failure, is validated in full.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from asn1crypto import x509

from parsers.pec.trust import TrustStore

MAX_REMEMBERED = 256
Span = tuple[datetime, datetime]
T = TypeVar("T")
_valid: OrderedDict[tuple[str, ...], Span] = OrderedDict()


def problem(
    signer: x509.Certificate,
    others: Sequence[x509.Certificate],
    trust: TrustStore,
    moment: datetime,
) -> str | None:
    """None when a path from `signer` to a trusted root holds at `moment`; else why not."""
    key = (trust.digest, *(hashlib.sha256(c.dump()).hexdigest() for c in (signer, *others)))
    span = _valid.get(key)
    if span is not None and span[0] <= moment <= span[1]:
        _valid.move_to_end(key)
        return None
    # imported here: pyhanko-certvalidator costs every start otherwise, PEC or not
    from pyhanko_certvalidator.errors import (
        PathBuildingError,
        PathValidationError,
        ValidationError,
    )

    try:
        path = _validate(signer, others, trust, moment)
    except PathBuildingError:
        return "certificato del firmatario non emesso da un gestore del trust store"
    except (PathValidationError, ValidationError) as exc:
        return f"catena di certificati non valida al {moment:%Y-%m-%d %H:%M}Z: {exc}"
    certs = list(path.iter_certs(include_root=True))
    _valid[key] = (
        max(c["tbs_certificate"]["validity"]["not_before"].native for c in certs),
        min(c["tbs_certificate"]["validity"]["not_after"].native for c in certs),
    )
    while len(_valid) > MAX_REMEMBERED:
        _valid.popitem(last=False)
    return None


def _validate(
    signer: x509.Certificate,
    others: Sequence[x509.Certificate],
    trust: TrustStore,
    moment: datetime,
):
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.policy_decl import DisallowWeakAlgorithmsPolicy

    policy = DisallowWeakAlgorithmsPolicy(
        weak_hash_algos={"md2", "md5"}, rsa_key_size_threshold=1024
    )
    context = ValidationContext(
        trust_manager=trust.manager,
        other_certs=list(others),
        moment=moment,
        allow_fetching=False,
        revocation_mode="soft-fail",
        algorithm_usage_policy=policy,
    )
    validator = CertificateValidator(signer, list(others), validation_context=context)
    return _run(lambda: validator.async_validate_usage(set()))


def _run(coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """The library's only API is async: run it to its end here, on a thread of its own when
    this one already runs an event loop (asyncio.run would refuse)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine())
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine())).result()
