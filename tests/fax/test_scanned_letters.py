"""Scanned letters on e-mail and PEC: a PDF of pictures is OCR'd like a fax's pages, a PDF
with a text layer is not (the rules read its text already), with real tesseract and poppler.
"""

from __future__ import annotations

from email.message import EmailMessage

from tests.fax.test_fax_tickets import run
from tests.ocr import faxpages as fp
from tests.pec import build
from tests.pec.test_pec_cades import letter_pdf, original_with_attachment
from tests.pec.test_pec_ingest import config_file, export, ingest

LETTER = [
    "Oggetto: palo pericolante",
    "Si segnala che il palo IP-123456",
    "in via Verdi 3 e' inclinato e sta",
    "per cadere sul marciapiede.",
]


def _mail(pdf: bytes, name: str = "scansione.pdf") -> bytes:
    mail = EmailMessage()
    mail["From"] = "Ufficio Tecnico <tecnico@comune.example.it>"
    mail["To"] = "segnalazioni@example.it"
    mail["Subject"] = "Trasmissione nota"
    mail["Message-ID"] = f"<{name}-{len(pdf)}@comune.example.it>"
    mail.set_content("Si trasmette in allegato la nota.")
    mail.add_attachment(pdf, maintype="application", subtype="pdf", filename=name)
    return mail.as_bytes()


def test_a_scanned_pdf_letter_by_email_is_read_and_classified(make_context):
    ctx = make_context()
    scanned = fp.pdf([fp.page(LETTER)])
    _, row = run(ctx, _mail(scanned), "ingest", channel="email")
    assert row["pole_codes"] == ["IP-123456"]
    assert row["request_type"] == "manutenzione"
    assert [h for h in row["rule_hits"] if h["rule"] == "ocr.pages"]


def test_a_pdf_with_a_text_layer_is_not_ocrd(make_context):
    ctx = make_context()
    _, row = run(ctx, _mail(letter_pdf("\n".join(LETTER)), "nota.pdf"), "ingest", "email")
    assert not [h for h in row["rule_hits"] if h["rule"].startswith("ocr.")]


def test_a_scanned_letter_signed_as_p7m_in_a_pec_drives_the_classification(tmp_path, capsys):
    pki = build.make_pki()
    p7m = build.sign(fp.pdf([fp.page(LETTER)]), pki, detached=False)
    message = original_with_attachment(
        "Si trasmette in allegato la nota prot. n. 1234.", "nota.pdf.p7m", p7m
    )
    (tmp_path / "ca.pem").write_bytes(pki.trust_pem)
    (tmp_path / "busta.eml").write_bytes(build.envelope(pki, message))
    config = config_file(tmp_path, "ca.pem")
    assert ingest(config, tmp_path / "busta.eml", capsys=capsys)[0]["outcome"] == "ticket"
    [ticket] = export(config, capsys)
    assert ticket["pole_codes"] == ["IP-123456"]
    assert ticket["request_type"] == "manutenzione"
    assert ticket["pec"]["certified"] is True
    assert [a["filename"] for a in ticket["attachments"]] == ["nota.pdf.p7m", "nota.pdf"]
