"""PEC messages built as the technical rules (DM 2 novembre 2005, allegato tecnico) lay them
out, signed by a throwaway CA made here with pyca/cryptography.

A transport envelope is a multipart/signed whose signed content is a multipart/mixed of the
provider's text, daticert.xml and postacert.eml; a receipt carries the text and daticert.xml
(an avvenuta-consegna "completa" also the original); an anomaly envelope carries the text
and the original message, with no daticert. Every line ends in CRLF, as signed.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

HASHES = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256()}


@dataclass(frozen=True)
class Pki:
    root: x509.Certificate
    signer: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def trust_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)


def _name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Gestore di prova S.p.A."),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])  # fmt: skip


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: str,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(
    cn: str = "Posta Certificata Gestore di Prova",
    *,
    expired: bool = False,
    ca: str = "CA di prova",
) -> Pki:
    """A root CA and a provider signing certificate; `expired`: its validity ended yesterday."""
    now = datetime.now(UTC)
    root_key, key = _key(), _key()
    root = certificate(
        ca, root_key, ca, root_key, ca=True,
        not_before=now - timedelta(days=3650), not_after=now + timedelta(days=3650),
    )  # fmt: skip
    end = now - timedelta(days=1) if expired else now + timedelta(days=365)
    signer = certificate(
        cn, key, ca, root_key, ca=False,
        not_before=now - timedelta(days=30), not_after=end,
    )  # fmt: skip
    return Pki(root, signer, key)


def sign(
    content: bytes,
    pki: Pki,
    digest: str = "sha256",
    *,
    detached: bool = True,
    signing_time: datetime | None = None,
    extra_certs: tuple[x509.Certificate, ...] = (),
) -> bytes:
    """A CMS SignedData over `content` as given (already CRLF), DER, with the signed
    attributes a provider puts (contentType, signingTime, messageDigest). Built with
    asn1crypto: pyca/cryptography's builder no longer signs with SHA-1, which the providers
    used until 2023."""
    when = signing_time or datetime.now(UTC)
    attrs = cms.CMSAttributes([
        {"type": "content_type", "values": ["data"]},
        {"type": "signing_time", "values": [cms.Time({"utc_time": when})]},
        {"type": "message_digest", "values": [hashlib.new(digest, content).digest()]},
    ])  # fmt: skip
    signature = pki.key.sign(attrs.dump(), padding.PKCS1v15(), HASHES[digest])
    cert = asn1_x509.Certificate.load(pki.signer.public_bytes(serialization.Encoding.DER))
    info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber(
            {"issuer": cert.issuer, "serial_number": cert.serial_number})}),
        "digest_algorithm": {"algorithm": digest},
        "signed_attrs": attrs,
        "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
        "signature": signature,
    })  # fmt: skip
    encap = {"content_type": "data", "content": None if detached else content}
    signed_data = cms.SignedData({
        "version": "v1", "digest_algorithms": [{"algorithm": digest}],
        "encap_content_info": encap, "signer_infos": [info],
        "certificates": [cert, *(asn1_x509.Certificate.load(
            c.public_bytes(serialization.Encoding.DER)) for c in extra_certs)],
    })  # fmt: skip
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def crlf(text: str) -> bytes:
    return "\r\n".join(text.splitlines()).encode("utf-8") + b"\r\n"


def b64(data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def original(
    subject: str = "Lampione spento in via Roma",
    text: str = "Buongiorno, il lampione IP-004512 in via Roma 12 è spento da tre giorni.",
    sender: str = "protocollo@pec.comune.example.it",
    msgid: str = "<orig-1@pec.comune.example.it>",
) -> bytes:
    return crlf(
        f"From: Comune di Esempio <{sender}>\nTo: segnalazioni@pec.example.it\n"
        f"Subject: {subject}\nDate: Tue, 01 Dec 2026 10:00:00 +0100\nMessage-ID: {msgid}\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        f"{text}\n"
    )


def daticert(
    tipo: str = "posta-certificata",
    *,
    mittente: str = "protocollo@pec.comune.example.it",
    destinatario: str = "segnalazioni@pec.example.it",
    oggetto: str = "Lampione spento in via Roma",
    identificativo: str = "opec1.20261201100000.1.1.1@pec.gestore.example.it",
    msgid: str = "<orig-1@pec.comune.example.it>",
    errore: str = "nessuno",
    consegna: str | None = None,
    errore_esteso: str | None = None,
    extra_dati: str = "",
) -> bytes:
    consegna_xml = f"<consegna>{consegna}</consegna>" if consegna else ""
    esteso = f"<errore-esteso>{errore_esteso}</errore-esteso>" if errore_esteso else ""
    msgid_xml = msgid.replace("<", "&lt;").replace(">", "&gt;")
    return crlf(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<postacert tipo="{tipo}" errore="{errore}">\n'
        f"<intestazione><mittente>{mittente}</mittente>"
        f'<destinatari tipo="certificato">{destinatario}</destinatari>'
        f"<risposte>{mittente}</risposte><oggetto>{oggetto}</oggetto></intestazione>\n"
        "<dati><gestore-emittente>Gestore di Prova S.p.A.</gestore-emittente>"
        '<data zona="+0100"><giorno>01/12/2026</giorno><ora>10:00:05</ora></data>'
        f"<identificativo>{identificativo}</identificativo><msgid>{msgid_xml}</msgid>"
        f'<ricevuta tipo="completa" />{consegna_xml}{esteso}{extra_dati}</dati>\n</postacert>\n'
    )


def content(
    text: str, dati: bytes | None, message: bytes | None, *, raw_dati: bool = False
) -> bytes:
    """The signed multipart/mixed: the provider text, daticert.xml, postacert.eml."""
    parts = [
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + text + "\n"
    ]
    if dati is not None:
        body = dati.decode() if raw_dati else b64(dati)
        cte = "8bit" if raw_dati else "base64"
        parts.append(
            'Content-Type: application/xml; name="daticert.xml"\n'
            f'Content-Disposition: inline; filename="daticert.xml"\n'
            f"Content-Transfer-Encoding: {cte}\n\n{body}\n"
        )
    if message is not None:
        parts.append(
            'Content-Type: message/rfc822; name="postacert.eml"\n'
            'Content-Disposition: inline; filename="postacert.eml"\n\n'
            + message.decode().replace("\r\n", "\n")
        )
    boundary = "----=_contenuto_0001"
    joined = "".join(f"--{boundary}\n{part}\n" for part in parts)
    return crlf(f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n{joined}--{boundary}--\n')


def headers(kind: str, value: str, subject: str, reference: str) -> str:
    return (
        "Received: from mx.gestore.example.it by imap.pec.example.it; "
        f"{format_datetime(datetime.now(UTC))}\n"
        'From: "Per conto di: protocollo@pec.comune.example.it"\n'
        " <posta-certificata@pec.gestore.example.it>\n"
        "To: segnalazioni@pec.example.it\nReply-To: protocollo@pec.comune.example.it\n"
        f"Subject: {subject}\nDate: Tue, 01 Dec 2026 10:00:05 +0100\n"
        "Message-ID: <opec1.20261201100000.1.1.1@pec.gestore.example.it>\n"
        f"{kind}: {value}\nX-Riferimento-Message-ID: {reference}\nMIME-Version: 1.0\n"
    )


def signed(
    top: str,
    signed_content: bytes,
    pki: Pki,
    digest: str = "sha256",
    *,
    opaque: bool = False,
    **signing: Any,
) -> bytes:
    """The top headers, then the multipart/signed (or opaque pkcs7-mime) entity; `signing`:
    `signing_time`, `extra_certs` for `sign`."""
    if opaque:
        der = sign(signed_content, pki, digest, detached=False, **signing)
        return crlf(
            top + 'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"\n'
            "Content-Transfer-Encoding: base64\n\n" + b64(der)
        )
    der = sign(signed_content, pki, digest, **signing)
    boundary = "----=_firma_0001"
    head = crlf(
        top + f'Content-Type: multipart/signed; protocol="application/x-pkcs7-signature"; '
        f'micalg="{"sha-256" if digest == "sha256" else "sha1"}"; boundary="{boundary}"\n\n'
        f"Questo è un messaggio firmato S/MIME\n\n--{boundary}"
    )
    tail = crlf(
        f"\n--{boundary}\n"
        'Content-Type: application/x-pkcs7-signature; name="smime.p7s"\n'
        "Content-Transfer-Encoding: base64\n"
        'Content-Disposition: attachment; filename="smime.p7s"\n\n'
        f"{b64(der)}\n--{boundary}--"
    )
    return head + signed_content + tail


def envelope(
    pki: Pki,
    message: bytes | None = None,
    digest: str = "sha256",
    *,
    opaque: bool = False,
    dati: bytes | None = None,
    **signing: Any,
) -> bytes:
    message = message if message is not None else original()
    text = (
        "--Questo è un Messaggio di Posta Certificata--\n"
        "Il messaggio originale è incluso in allegato."
    )
    body = content(text, dati if dati is not None else daticert(), message)
    top = headers(
        "X-Trasporto",
        "posta-certificata",
        "POSTA CERTIFICATA: Lampione spento in via Roma",
        "<orig-1@pec.comune.example.it>",
    )
    return signed(top, body, pki, digest, opaque=opaque, **signing)


RECEIPT_SUBJECTS = {
    "accettazione": "ACCETTAZIONE",
    "non-accettazione": "AVVISO DI NON ACCETTAZIONE",
    "presa-in-carico": "PRESA IN CARICO",
    "avvenuta-consegna": "CONSEGNA",
    "errore-consegna": "AVVISO DI MANCATA CONSEGNA",
    "preavviso-errore-consegna": "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO",
    "rilevazione-virus": "PROBLEMA DI SICUREZZA",
}


def receipt(
    pki: Pki, tipo: str, reference: str, *, errore: str = "nessuno", esteso: str | None = None
) -> bytes:
    """A receipt about our message `reference` (an acknowledgement we sent)."""
    dati = daticert(
        tipo,
        mittente="segnalazioni@pec.example.it",
        destinatario="protocollo@pec.comune.example.it",
        oggetto="Registrazione richiesta", msgid=reference, errore=errore,
        consegna="protocollo@pec.comune.example.it" if "consegna" in tipo else None,
        errore_esteso=esteso,
    )  # fmt: skip
    text = f"Ricevuta di {tipo} del messaggio {reference}"
    inner = original("Registrazione richiesta", "...", "segnalazioni@pec.example.it", reference)
    body = content(text, dati, inner if tipo == "avvenuta-consegna" else None)
    subject = f"{RECEIPT_SUBJECTS.get(tipo, tipo.upper())}: Registrazione richiesta"
    return signed(headers("X-Ricevuta", tipo, subject, reference), body, pki)


def anomaly(pki: Pki, message: bytes | None = None) -> bytes:
    """An anomaly envelope: the recipient's provider could not certify what came in."""
    message = message if message is not None else original()
    text = "Anomalia nel messaggio: il messaggio originale è incluso in allegato."
    top = headers(
        "X-Trasporto",
        "errore",
        "ANOMALIA MESSAGGIO: Lampione spento in via Roma",
        "<orig-1@pec.comune.example.it>",
    )
    return signed(top, content(text, None, message), pki)


def rewrap(
    envelope_bytes: bytes, footer: str = "-- \nInoltrato dalla lista uffici@comune"
) -> bytes:
    """A list or gateway re-wraps the envelope: outer multipart/mixed, a footer after it."""
    _head, _, rest = envelope_bytes.partition(b"\r\nMIME-Version: 1.0\r\n")
    boundary = "----=_lista_0001"
    return (
        crlf(
            "From: uffici@comune.example.it\nTo: segnalazioni@pec.example.it\n"
            "Subject: [uffici] POSTA CERTIFICATA: Lampione spento\nList-Id: <uffici.comune>\n"
            f'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="{boundary}"\n\n'
            f"--{boundary}"
        )
        + b"MIME-Version: 1.0\r\n"
        + rest
        + crlf(f"\n--{boundary}\nContent-Type: text/plain\n\n{footer}\n--{boundary}--")
    )
