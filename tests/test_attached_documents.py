"""Letters attached to plain e-mail (a text PDF, a .txt) are read by the rules, with real
poppler; a text PDF is opened by pdftotext once, not again by the OCR stage's scan check."""

from __future__ import annotations

import os
import shutil
from email.message import EmailMessage

import pytest

from tests.fax.test_fax_tickets import gateway_mail, run
from tests.pec.test_pec_cades import letter_pdf

LETTER = (
    "Oggetto: palo della pubblica illuminazione pericolante\n"
    "Si segnala che il palo IP-123456 in via Verdi 3 e' inclinato e sta per cadere\n"
    "sul marciapiede: si chiede un intervento urgente di messa in sicurezza."
)
pytestmark = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils missing")


def mail_with(name: str, maintype: str, subtype: str, data: bytes) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Ufficio Tecnico <tecnico@comune.example.it>"
    mail["To"] = "segnalazioni@example.it"
    mail["Subject"] = "Trasmissione nota"
    mail["Message-ID"] = f"<{name}-{len(data)}@comune.example.it>"
    mail.set_content("Si trasmette in allegato la nota.")
    mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return mail.as_bytes()


@pytest.fixture
def counted_pdftotext(tmp_path, monkeypatch):
    """The real pdftotext behind a script that logs each run (found first on PATH)."""
    log = tmp_path / "pdftotext.log"
    shim = tmp_path / "bin" / "pdftotext"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho run >> "{log}"\nexec {shutil.which("pdftotext")} "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    return lambda: len(log.read_text().splitlines()) if log.exists() else 0


def test_an_unsigned_text_pdf_letter_drives_the_classification(make_context, counted_pdftotext):
    ticket, row = run(
        make_context(),
        mail_with("nota.pdf", "application", "pdf", letter_pdf(LETTER)),
        "in",
        "email",
    )
    assert row["pole_codes"] == ["IP-123456"]
    assert row["request_type"] == "manutenzione" and row["urgency"] == "emergenza"
    assert "inclinato" in ticket.text
    [hit] = [h for h in row["rule_hits"] if h["rule"] == "documents.text"]
    assert hit["value"] == "nota.pdf"
    assert not [h for h in row["rule_hits"] if h["rule"].startswith("ocr.")]  # not OCR'd
    assert counted_pdftotext() == 1  # read once: the scan check used what it found


def test_a_plain_text_attachment_is_read(make_context):
    text = "Il lampione IP-654321 di via Dante è spento da una settimana.".encode()
    _, row = run(
        make_context(), mail_with("segnalazione.txt", "text", "plain", text), "in", "email"
    )
    assert row["pole_codes"] == ["IP-654321"]
    assert row["request_type"] == "manutenzione"


def test_a_broken_pdf_is_kept_with_the_reason_and_the_mail_still_classified(make_context):
    raw = mail_with("nota.pdf", "application", "pdf", b"%PDF-1.4\nnot really a pdf\n")
    ticket, row = run(make_context(), raw, "in", "email")
    [hit] = [h for h in row["rule_hits"] if h["rule"] == "documents.text"]
    assert "pdftotext" in hit["evidence"]
    assert [a["filename"] for a in row["attachments"]] == ["nota.pdf"]
    assert ticket.number  # a ticket all the same, from the mail's own text


def test_a_faxs_pdf_is_left_to_the_ocr(make_context):
    ctx = make_context('[[sources]]\nname = "fax"\nkind = "folder"\npath = "d"\nchannel = "fax"\n')
    raw = gateway_mail(
        "Fax da 0612345678", "Fax ricevuto.", [("fax.pdf", "application/pdf", letter_pdf(LETTER))]
    )
    _, row = run(ctx, raw, "fax")
    assert not [h for h in row["rule_hits"] if h["rule"] == "documents.text"]
    assert [h for h in row["rule_hits"] if h["rule"] == "ocr.pages"]
