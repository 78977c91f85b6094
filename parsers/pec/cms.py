"""CMS SignedData (S/MIME and CAdES): is the content what the signer signed, and by whom.

asn1crypto reads the structure (DER or BER, definite or indefinite lengths); the digest and
the signature value are checked with pyca/cryptography through pyhanko-certvalidator's
signature validator, which knows RSA PKCS#1 v1.5, PSS and ECDSA. Whether the signer is
trusted is `chain.py`'s question.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms, x509
from cryptography.exceptions import InvalidSignature

MAX_DER_BYTES = 16 * 1024 * 1024
MAX_CERTIFICATES = 20  # a provider sends 1 to 3; thousands would make the path search slow
_HASHES = {"sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512"}


class SignatureError(ValueError):
    """The signature could not be read or does not hold: the reason, in Italian."""


@dataclass(frozen=True)
class Signed:
    """What one valid signature says."""

    content: bytes  # the signed content: the given one (detached) or the encapsulated one
    signer: x509.Certificate
    others: tuple[x509.Certificate, ...]  # the other certificates the signature carries
    signing_time: datetime | None  # the signingTime attribute, when signed
    digest: str  # sha1, sha256, …


def load(der: bytes) -> cms.SignedData:
    """The SignedData of a ContentInfo; raises SignatureError."""
    if len(der) > MAX_DER_BYTES:
        raise SignatureError(f"firma troppo grande ({len(der)} byte)")
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise SignatureError(f"non è una firma CMS ({info['content_type'].native})")
        signed = info["content"]
        signed["signer_infos"].native  # noqa: B018 - parse it all now, inside the try
        return signed
    except SignatureError:
        raise
    except Exception as exc:  # asn1crypto raises ValueError, TypeError, KeyError on bad input
        raise SignatureError(f"firma illeggibile: {type(exc).__name__}: {exc}") from None


def verify(signed: cms.SignedData, detached: bytes | None = None) -> Signed:
    """Check the first signer's digest and signature over `detached` (multipart/signed) or
    the encapsulated content (opaque S/MIME, CAdES); raises SignatureError."""
    infos = signed["signer_infos"]
    if len(infos) == 0:
        raise SignatureError("la firma non ha firmatari")
    info = infos[0]
    content = detached if detached is not None else _encapsulated(signed)
    certs = [c.chosen for c in signed["certificates"] if c.name == "certificate"]
    if len(certs) > MAX_CERTIFICATES:
        raise SignatureError(f"la firma porta {len(certs)} certificati (al più {MAX_CERTIFICATES})")
    signer = _signer_cert(info, certs)
    digest = info["digest_algorithm"]["algorithm"].native
    if digest not in _HASHES:
        raise SignatureError(f"algoritmo di hash non ammesso: {digest}")
    to_check, signing_time = _signed_bytes(info, content, digest)
    # imported here: pyhanko-certvalidator costs every start otherwise, PEC or not
    from pyhanko_certvalidator.sig_validate import (
        DefaultSignatureValidator,
        SignatureValidationContext,
    )

    try:
        DefaultSignatureValidator().validate_signature(
            info["signature"].native,
            to_check,
            signer.public_key,
            info["signature_algorithm"],
            SignatureValidationContext(contextual_md_algorithm=digest),
        )
    except InvalidSignature:
        raise SignatureError("firma non valida: il contenuto è stato alterato") from None
    except Exception as exc:
        raise SignatureError(f"firma non verificabile: {type(exc).__name__}: {exc}") from None
    others = tuple(c for c in certs if c is not signer)
    return Signed(content, signer, others, signing_time, digest)


def _encapsulated(signed: cms.SignedData) -> bytes:
    content = signed["encap_content_info"]["content"]
    if content.native is None:
        raise SignatureError("firma senza contenuto (staccata) e nessun contenuto dato")
    value = content.native
    return value if isinstance(value, bytes) else content.parsed.dump()


def _signer_cert(info: cms.SignerInfo, certs: list[x509.Certificate]) -> x509.Certificate:
    sid = info["sid"]
    for cert in certs:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if cert.serial_number == wanted["serial_number"].native and _same_name(
                cert.issuer, wanted["issuer"]
            ):
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    raise SignatureError("il certificato del firmatario non è nella firma")


def _same_name(one: x509.Name, other: x509.Name) -> bool:
    """Byte-equal first (the common case, and cheap); else RFC 5280's comparison."""
    return one.dump() == other.dump() or one == other


def _signed_bytes(
    info: cms.SignerInfo, content: bytes, digest: str
) -> tuple[bytes, datetime | None]:
    """What the signature value covers: the signed attributes (whose messageDigest must be
    the content's), else the content itself."""
    attrs = info["signed_attrs"]
    if not attrs:
        return content, None
    values = {a["type"].native: a["values"] for a in attrs}
    if "message_digest" not in values:
        raise SignatureError("attributo messageDigest assente")
    if values["message_digest"][0].native != hashlib.new(digest, content).digest():
        raise SignatureError("firma non valida: il contenuto è stato alterato dopo la firma")
    times = values.get("signing_time")
    signing_time = times[0].native if times else None
    return b"\x31" + attrs.dump()[1:], signing_time  # signed as a SET OF, not as [0]
