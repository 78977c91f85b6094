"""Is the signer's certificate trusted, at the moment it signed?

pyhanko-certvalidator builds and validates the path (RFC 5280) to a root of the trust store
at a given moment: the signature's signing time. Provider certificates expire every few years
while PEC stays in the archive; a message certified on arrival must stay certified when it is
reprocessed later. No revocation data is fetched (no network in the pipeline). SHA-1 is
accepted: the PEC providers signed with it until at least 2023, and it is the rules' own
algorithm; MD5 and MD2 are not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from asn1crypto import x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    PathBuildingError,
    PathValidationError,
    ValidationError,
)
from pyhanko_certvalidator.policy_decl import DisallowWeakAlgorithmsPolicy

from parsers.pec.trust import TrustStore

POLICY = DisallowWeakAlgorithmsPolicy(weak_hash_algos={"md2", "md5"}, rsa_key_size_threshold=1024)


def problem(
    signer: x509.Certificate,
    others: Sequence[x509.Certificate],
    trust: TrustStore,
    moment: datetime,
) -> str | None:
    """None when a path from `signer` to a trusted root holds at `moment`; else why not."""
    context = ValidationContext(
        trust_roots=list(trust.roots),
        other_certs=list(others),
        moment=moment,
        allow_fetching=False,
        revocation_mode="soft-fail",
        algorithm_usage_policy=POLICY,
    )
    validator = CertificateValidator(signer, list(others), validation_context=context)
    try:
        asyncio.run(validator.async_validate_usage(set()))
    except PathBuildingError:
        return "certificato del firmatario non emesso da un gestore del trust store"
    except (PathValidationError, ValidationError) as exc:
        return f"catena di certificati non valida al {moment:%Y-%m-%d %H:%M}Z: {exc}"
    return None
