"""The real PEC samples (shared/samples/pec, SOURCES.md): each recognised as what it is; the
intact ones verify at their signing time against the Mozilla bundle, the altered and the
redacted ones do not. Expected values are SOURCES.md's (checked there with OpenSSL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import parsers.mime
from parsers.pec import TrustStore, chain, inspect
from tests.conftest import shared_samples

MOZILLA = Path("/etc/ssl/certs/ca-certificates.crt")  # Debian's ca-certificates (setup.sh)

# file -> (kind, receipt type, certified, signing time, signer CN)
EXPECTED = {
    "dmi-envelope-aruba-2023.eml": ("envelope", None, True, "2023-08-18 15:37:13", "ARUBA PEC"),
    "oca-envelope-aruba-2014-02.eml": ("envelope", None, True, "2014-11-27 14:12:16", "ARUBA"),
    "oca-envelope-sdi-invio-file.eml": ("envelope", None, True, "2018-12-08 11:26:18", "Sogei"),
    "oca-envelope-sdi-ricevuta-consegna.eml": (
        "envelope",
        None,
        True,
        "2018-11-13 15:47:33",
        "Sogei",
    ),
    "oca-envelope-sdi-mancata-consegna-altered.eml": ("envelope", None, False, None, None),
    "oca-receipt-accettazione-2014.eml": (
        "receipt",
        "accettazione",
        True,
        "2014-11-14 17:26:32",
        "ARUBA",
    ),
    "oca-receipt-avvenuta-consegna-2014.eml": (
        "receipt",
        "avvenuta-consegna",
        True,
        "2014-11-14 17:26:32",
        "ARUBA",
    ),
    "oca-receipt-accettazione-2018.eml": (
        "receipt",
        "accettazione",
        True,
        "2018-11-13 15:39:26",
        "ARUBA",
    ),
    "tozzi-receipt-accettazione-redacted.eml": ("receipt", "accettazione", False, None, None),
    "tozzi-receipt-errore-consegna-redacted.eml": ("receipt", "errore-consegna", False, None, None),
}


@pytest.fixture(scope="module")
def mozilla() -> TrustStore:
    return TrustStore.from_pem(MOZILLA.read_bytes())


def read(name: str) -> tuple[bytes, datetime | None]:
    raw = (shared_samples("pec") / name).read_bytes()
    return raw, parsers.mime.parse(raw).top_received_at


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_real_sample_is_what_its_source_says(name, mozilla):
    kind, receipt_type, certified, signed_at, signer = EXPECTED[name]
    raw, received_at = read(name)
    pec = inspect(raw, mozilla, received_at)
    assert pec is not None
    assert (pec.kind, pec.receipt_type, pec.certified) == (kind, receipt_type, certified)
    if certified:
        assert pec.reason is None
        assert pec.signing_time == datetime.fromisoformat(signed_at).replace(tzinfo=UTC)
        assert signer in (pec.signer or "") and pec.digest == "sha1"
    else:
        assert pec.reason  # says why


def test_the_altered_envelope_fails_on_its_content_and_the_redacted_on_a_missing_signature(
    mozilla,
):
    raw, received_at = read("oca-envelope-sdi-mancata-consegna-altered.eml")
    altered = inspect(raw, mozilla, received_at)
    assert altered is not None and "alterato" in (altered.reason or "")
    redacted = inspect(read("tozzi-receipt-accettazione-redacted.eml")[0], mozilla)
    assert redacted is not None and "firma assente" in (redacted.reason or "")


def test_expired_provider_certificates_verify_only_at_their_signing_time(mozilla):
    """Today each provider certificate has expired: checked now, the chain fails; at the
    signing time it holds. That is what keeps an archived PEC certified."""
    from parsers.pec import cms, envelope
    from parsers.pec.rawmime import entity

    raw, _ = read("oca-envelope-aruba-2014-02.eml")
    located = envelope.locate(entity(raw))
    signed = cms.verify(cms.load(located.signature), located.signed_bytes)
    assert chain.problem(signed.signer, signed.others, mozilla, signed.signing_time) is None
    now = chain.problem(signed.signer, signed.others, mozilla, datetime.now(UTC))
    assert now is not None and "non valida" in now


def test_lf_stored_samples_verify_only_in_their_crlf_form(mozilla):
    """The 2023 Aruba file is stored with LF; its signature covers the CRLF form."""
    from parsers.pec import cms, envelope
    from parsers.pec.rawmime import entity

    raw, _ = read("dmi-envelope-aruba-2023.eml")
    assert b"\r\n" not in raw
    located = envelope.locate(entity(raw))
    signature = cms.load(located.signature)
    assert cms.verify(signature, located.signed_bytes).signing_time is not None
    with pytest.raises(cms.SignatureError, match="alterato"):
        cms.verify(signature, located.content.raw)  # the LF bytes as stored


def test_daticert_fields_of_a_real_envelope(mozilla):
    raw, received_at = read("oca-envelope-aruba-2014-02.eml")
    pec = inspect(raw, mozilla, received_at)
    dati = pec.daticert
    assert dati.tipo == "posta-certificata" and dati.errore == "nessuno"
    assert dati.mittente == "thinkstudio@pec.it" and dati.oggetto == "Re: test"
    assert [(r.address, r.tipo) for r in dati.destinatari] == [
        ("l.battistini@pec.it", "certificato")
    ]
    assert dati.gestore_emittente == "ARUBA PEC S.p.A."
    assert dati.data.isoformat() == "2014-11-27T15:12:16+01:00"
    assert dati.identificativo == "opec275.20141127151216.06559.08.1.17@pec.aruba.it"
    assert dati.msgid == "<1417097534.920250892639160.712427135196036-openerp-private@master>"
    assert dati.ricevuta == "completa"
    assert b"Subject: Re: test" in pec.original


def test_a_receipts_errore_esteso_and_consegna_are_read(mozilla):
    pec = inspect(read("tozzi-receipt-errore-consegna-redacted.eml")[0], mozilla)
    assert pec.daticert.errore == "no-dest" and pec.delivery == "not_delivered"
    assert pec.daticert.errore_esteso.startswith("5.1.1")
    assert pec.daticert.consegna == "rec@fakepec.it"
