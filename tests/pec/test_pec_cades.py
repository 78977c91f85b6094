"""Signed attachments (CAdES .p7m): the real samples unwrap to their documents (DER, BER,
base64), the tampered one does not; nested signatures unwrap level by level and a hostile
nesting stops in bounded time; a `.pdf.p7m` letter in a PEC drives the classification."""

from __future__ import annotations

import base64
import io
import time

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from parsers.pec import cades
from tests.conftest import shared_samples
from tests.pec import build
from tests.pec.test_pec_ingest import config_file, export, ingest

SAMPLES = {  # file -> (document name, start of the document, signer's given name)
    "oca-fatturapa-FPR03.xml.p7m": ("oca-fatturapa-FPR03.xml", b"<?xml", "SERGIO"),
    "oca-fatturapa-FPR03.base64.xml.p7m": ("oca-fatturapa-FPR03.base64.xml", b"<?xml", "SERGIO"),
    "oca-fatturapa-002.xml.p7m": ("oca-fatturapa-002.xml", b"<?xml", "ALESSIO"),
    "fenet-IT02182030391_31.xml.p7m": (
        "fenet-IT02182030391_31.xml",
        b"\xef\xbb\xbf<?xml",
        "STEFANO",
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_real_p7m_files_unwrap_to_their_document(name):
    document, start, given_name = SAMPLES[name]
    found = cades.unwrap((shared_samples("pec") / name).read_bytes(), name)
    assert found.problem is None and found.filename == document
    assert found.content.startswith(start) and b"FatturaElettronica" in found.content[:400]
    [signer] = found.signers
    assert given_name in signer.name and signer.signing_time is not None


def test_the_base64_form_gives_the_same_document_as_the_der():
    folder = shared_samples("pec")
    der = cades.unwrap((folder / "oca-fatturapa-FPR03.xml.p7m").read_bytes(), "a.xml.p7m")
    b64 = cades.unwrap((folder / "oca-fatturapa-FPR03.base64.xml.p7m").read_bytes(), "b.xml.p7m")
    assert der.content == b64.content


def test_the_tampered_p7m_is_refused_with_a_reason():
    name = "fenet-IT02182030391_31_tampered.xml.p7m"
    found = cades.unwrap((shared_samples("pec") / name).read_bytes(), name)
    assert found.content is None and found.problem


def test_a_document_changed_inside_its_signature_is_refused():
    pki = build.make_pki()
    p7m = build.sign(b"Nota prot. n. 1234: palo IP-000001 abbattuto", pki, detached=False)
    changed = p7m.replace(b"IP-000001", b"IP-000002")
    found = cades.unwrap(changed, "nota.txt.p7m")
    assert found.content is None and "alterato" in found.problem


def test_nested_signatures_unwrap_level_by_level():
    pki = build.make_pki()
    inner = build.sign(b"testo della nota", pki, detached=False)
    outer = base64.b64encode(build.sign(inner, pki, detached=False))  # base64 of DER of DER
    found = cades.unwrap(outer, "nota.txt.p7m.p7m")
    assert found.content == b"testo della nota" and found.filename == "nota.txt"
    assert len(found.signers) == 2 and found.problem is None


def test_a_200_level_nesting_stops_with_a_reason_in_bounded_time():
    pki = build.make_pki()
    data = b"fondo"
    for _ in range(200):
        data = build.sign(data, pki, detached=False)
    started = time.monotonic()
    found = cades.unwrap(data, "x.p7m")
    assert time.monotonic() - started < 5
    assert found.content is None and "annidate" in found.problem
    assert len(found.signers) == cades.MAX_LEVELS


def letter_pdf(text: str) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    for i, line in enumerate(text.splitlines()):
        page.drawString(72, 760 - 16 * i, line)
    page.save()
    return out.getvalue()


def original_with_attachment(body: str, name: str, data: bytes) -> bytes:
    encoded = base64.b64encode(data).decode()
    lines = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    return build.crlf(
        "From: Comune di Esempio <protocollo@pec.comune.example.it>\n"
        "To: segnalazioni@pec.example.it\nSubject: Trasmissione nota prot. n. 1234\n"
        "Date: Tue, 01 Dec 2026 10:00:00 +0100\nMessage-ID: <orig-1@pec.comune.example.it>\n"
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1"\n\n--b1\n'
        f"Content-Type: text/plain; charset=utf-8\n\n{body}\n--b1\n"
        f'Content-Type: application/pkcs7-mime; name="{name}"\n'
        f'Content-Disposition: attachment; filename="{name}"\n'
        f"Content-Transfer-Encoding: base64\n\n{lines}\n--b1--\n"
    )


def signed_letter_ticket(tmp_path, capsys, letter: bytes, pki: build.Pki) -> dict:
    """The exported ticket of a PEC whose only request is `letter`, signed as nota.pdf.p7m."""
    p7m = build.sign(letter, pki, detached=False)
    message = original_with_attachment(
        "Si trasmette in allegato la nota prot. n. 1234.", "nota.pdf.p7m", p7m
    )
    (tmp_path / "ca.pem").write_bytes(pki.trust_pem)
    (tmp_path / "busta.eml").write_bytes(build.envelope(pki, message))
    config = config_file(tmp_path, "ca.pem")
    assert ingest(config, tmp_path / "busta.eml", capsys=capsys)[0]["outcome"] == "ticket"
    [ticket] = export(config, capsys)
    return ticket


def test_a_signed_pdf_letter_drives_the_classification(tmp_path, capsys):
    pki = build.make_pki()
    letter = letter_pdf(
        "Oggetto: palo della pubblica illuminazione pericolante\n"
        "Si segnala che il palo IP-123456 in via Verdi 3 e' inclinato e sta per cadere\n"
        "sul marciapiede: si chiede un intervento urgente di messa in sicurezza."
    )
    ticket = signed_letter_ticket(tmp_path, capsys, letter, pki)
    assert ticket["pole_codes"] == ["IP-123456"]
    assert ticket["request_type"] == "manutenzione" and ticket["urgency"] == "emergenza"
    assert [a["filename"] for a in ticket["attachments"]] == ["nota.pdf.p7m", "nota.pdf"]
    [signed] = ticket["pec"]["signed_attachments"]
    assert signed["document"] == "nota.pdf" and signed["problem"] is None
    assert "Posta Certificata Gestore di Prova" in signed["signers"][0]
    assert ticket["pec"]["certified"] is True
