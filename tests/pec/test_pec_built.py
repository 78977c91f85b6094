"""Envelopes and receipts built by the rules' layout (tests/pec/build.py), signed by a
throwaway CA: what verifies, what does not and why, and that hostile input fails the message
with a reason in bounded time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from parsers.pec import RECEIPTS, TrustStore, inspect
from tests.pec import build


@pytest.fixture(scope="module")
def pki() -> build.Pki:
    return build.make_pki()


@pytest.fixture(scope="module")
def trust(pki) -> TrustStore:
    return TrustStore.from_pem(pki.trust_pem)


@pytest.mark.parametrize("digest", ["sha1", "sha256"])
@pytest.mark.parametrize("opaque", [False, True], ids=["multipart-signed", "opaque-pkcs7-mime"])
def test_an_envelope_of_a_trusted_provider_is_certified(pki, trust, digest, opaque):
    pec = inspect(build.envelope(pki, digest=digest, opaque=opaque), trust)
    assert pec is not None and pec.kind == "envelope"
    assert pec.certified and pec.reason is None
    assert pec.digest == digest and "Posta Certificata Gestore di Prova" in pec.signer
    assert pec.identificativo == "opec1.20261201100000.1.1.1@pec.gestore.example.it"
    assert b"IP-004512" in pec.original


def test_an_unknown_provider_is_not_certified(pki):
    other = TrustStore.from_pem(build.make_pki("Altro gestore", ca="Altra CA").trust_pem)
    pec = inspect(build.envelope(pki), other)
    assert not pec.certified and "trust store" in pec.reason
    assert pec.signer  # the signature itself held: who signed is still recorded


def test_an_impostor_ca_with_a_trusted_name_is_not_certified(pki):
    impostor = TrustStore.from_pem(build.make_pki().trust_pem)  # same names, other keys
    pec = inspect(build.envelope(pki), impostor)
    assert not pec.certified and "catena di certificati non valida" in pec.reason


def test_no_trust_store_means_not_certified(pki):
    pec = inspect(build.envelope(pki), None)
    assert not pec.certified and "trust_store" in pec.reason


def test_a_change_after_signing_is_caught(pki, trust):
    raw = build.envelope(pki).replace(b"IP-004512", b"IP-004513")
    pec = inspect(raw, trust)
    assert not pec.certified and "alterato" in pec.reason
    assert b"IP-004513" in pec.original  # kept and unwrapped all the same


def test_unsigned_headers_may_change_the_signed_facts_come_from_daticert(pki, trust):
    """Top-level headers are outside the signature: dropping X-Trasporto changes nothing."""
    raw = build.envelope(pki).replace(b"X-Trasporto: posta-certificata\r\n", b"")
    pec = inspect(raw, trust)
    assert pec.kind == "envelope" and pec.certified


@pytest.mark.parametrize(
    "recode",
    [
        pytest.param(lambda raw: raw.replace(b"\r\n", b"\n"), id="stored-with-LF"),
        pytest.param(
            lambda raw: raw.replace(b"Subject: POSTA", b"Subject:\r\n POSTA"), id="header-refolded"
        ),
        pytest.param(lambda raw: _rewrap_base64(raw, 64), id="signature-base64-rewrapped"),
    ],
)
def test_an_envelope_re_encoded_outside_the_signed_part_still_verifies(pki, trust, recode):
    pec = inspect(recode(build.envelope(pki)), trust)
    assert pec.kind == "envelope" and pec.certified, pec.reason


def _rewrap_base64(raw: bytes, width: int) -> bytes:
    head, sep, b64 = raw.partition(b'filename="smime.p7s"\r\n\r\n')
    body, end, tail = b64.partition(b"\r\n--")
    flat = body.replace(b"\r\n", b"")
    lines = b"\r\n".join(flat[i : i + width] for i in range(0, len(flat), width))
    return head + sep + lines + end + tail


def test_a_client_that_re_encodes_the_signed_part_breaks_the_certification(pki, trust):
    """A mail client that turns the 8-bit postacert text into quoted-printable changes the
    signed bytes: recognised, unwrapped, but not certified."""
    raw = build.envelope(pki).replace(
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        b"Buongiorno, il lampione IP-004512 in via Roma 12 \xc3\xa8",
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Buongiorno, il lampione IP-004512 in via Roma 12 =C3=A8",
    )
    pec = inspect(raw, trust)
    assert pec.kind == "envelope" and not pec.certified and "alterato" in pec.reason
    assert b"IP-004512" in pec.original


def test_an_envelope_re_wrapped_by_a_list_is_found_and_verifies(pki, trust):
    pec = inspect(build.rewrap(build.envelope(pki)), trust)
    assert pec.kind == "envelope" and pec.certified
    assert any("ri-incapsulata" in note for note in pec.notes)


def test_an_anomaly_envelope_is_never_certified_but_carries_the_original(pki, trust):
    pec = inspect(build.anomaly(pki), trust)
    assert pec.kind == "anomaly" and not pec.certified and "anomalia" in pec.reason
    assert pec.signer and b"IP-004512" in pec.original


@pytest.mark.parametrize("tipo", sorted(RECEIPTS))
def test_every_receipt_type_is_recognised(pki, trust, tipo):
    pec = inspect(build.receipt(pki, tipo, "<ack-1@example.it>"), trust)
    assert pec.kind == "receipt" and pec.receipt_type == tipo and pec.certified
    assert pec.reference == "<ack-1@example.it>"
    expected = {
        "accettazione": "accepted", "presa-in-carico": "accepted",
        "non-accettazione": "not_accepted", "avvenuta-consegna": "delivered",
        "errore-consegna": "not_delivered", "preavviso-errore-consegna": "not_delivered",
        "rilevazione-virus": "not_delivered",
    }  # fmt: skip
    assert pec.delivery == expected[tipo]


def test_an_unknown_receipt_type_is_kept_and_flagged(pki, trust):
    pec = inspect(build.receipt(pki, "ricevuta-futura", "<ack-1@example.it>"), trust)
    assert pec.kind == "receipt" and pec.receipt_type == "ricevuta-futura"
    assert any("sconosciuto" in note for note in pec.notes) and pec.delivery == "other"


def test_a_signature_later_than_the_receipt_does_not_certify(pki, trust):
    received = datetime.now(UTC) - timedelta(days=1)
    pec = inspect(build.envelope(pki), trust, received_at=received)
    assert not pec.certified and "posteriore alla ricezione" in pec.reason


def test_a_certificate_expired_now_but_valid_when_it_signed_still_certifies(trust):
    expired = build.make_pki(expired=True)  # validity ended yesterday
    store = TrustStore.from_pem(expired.trust_pem)
    signed_at = datetime.now(UTC) - timedelta(days=3)
    raw = build.envelope(expired, signing_time=signed_at)
    assert inspect(raw, store, received_at=signed_at + timedelta(seconds=30)).certified
    late = build.envelope(expired, signing_time=datetime.now(UTC))  # signed after it expired
    pec = inspect(late, store, received_at=datetime.now(UTC) + timedelta(seconds=30))
    assert not pec.certified and "catena" in pec.reason


@pytest.mark.parametrize(
    ("dati", "why"),
    [
        (b"<postacert><intestazione>", "non leggibile"),
        (b"<?xml version='1.0'?><altro/>", "radice"),
        (
            b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;'
            b'&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            b'<postacert tipo="posta-certificata">&c;</postacert>',
            "non leggibile",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<postacert tipo="posta-certificata">&x;</postacert>',
            "non leggibile",
        ),
    ],
    ids=["truncated", "wrong-root", "entity-bomb", "external-entity"],
)
def test_a_broken_or_hostile_daticert_is_flagged_never_trusted(pki, trust, dati, why):
    started = time.monotonic()
    pec = inspect(build.envelope(pki, dati=dati), trust)
    assert time.monotonic() - started < 5
    assert pec is not None and pec.kind == "envelope"  # from its X-Trasporto header
    assert not pec.certified and why in pec.daticert_error and pec.reason == pec.daticert_error
    assert pec.original  # the request is still there to read


def test_a_certificate_chain_loop_fails_with_a_reason_in_bounded_time(pki, trust):
    """Two CAs that certify each other, neither trusted: the path search must end."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    now = datetime.now(UTC)
    key_a, key_b = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in "ab")
    span = {"not_before": now - timedelta(days=1), "not_after": now + timedelta(days=10)}
    a_by_b = build.certificate("CA A", key_a, "CA B", key_b, ca=True, **span)
    b_by_a = build.certificate("CA B", key_b, "CA A", key_a, ca=True, **span)
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = build.certificate("Gestore ciclico", leaf_key, "CA A", key_a, ca=False, **span)
    looped = build.Pki(root=a_by_b, signer=leaf, key=leaf_key)
    started = time.monotonic()
    raw = build.envelope(looped, extra_certs=(a_by_b, b_by_a))
    pec = inspect(raw, trust)
    assert time.monotonic() - started < 5
    assert not pec.certified and "trust store" in pec.reason


def test_garbage_in_the_signature_part_is_a_reason_not_a_crash(pki, trust):
    raw = build.envelope(pki)
    head, sep, rest = raw.partition(b'filename="smime.p7s"\r\n\r\n')
    pec = inspect(head + sep + b"bm90IGEgc2lnbmF0dXJl\r\n" + rest[rest.index(b"\r\n--") :], trust)
    assert not pec.certified and "firma illeggibile" in pec.reason


def test_ordinary_mail_and_an_ordinary_signed_mail_are_not_pec(pki, trust):
    assert inspect(build.original(), trust) is None
    signed = build.signed("From: a@example.it\nSubject: firmato\n", build.original(), pki)
    assert inspect(signed, trust) is None


def test_a_signature_carrying_too_many_certificates_is_refused_quickly(pki, trust):
    many = tuple(build.make_pki(f"Gestore {i}", ca=f"CA {i}").signer for i in range(25))
    started = time.monotonic()
    pec = inspect(build.envelope(pki, extra_certs=many), trust)
    assert time.monotonic() - started < 5
    assert not pec.certified and "certificati" in pec.reason


def test_verification_works_inside_a_running_event_loop(pki, trust):
    """The SMTP ingress and tools may call it from async code: the chain check still runs."""
    import asyncio

    async def inside() -> bool:
        return inspect(build.envelope(pki), trust).certified

    assert asyncio.run(inside())
