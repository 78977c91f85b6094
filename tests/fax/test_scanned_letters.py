"""Scanned letters on e-mail and PEC: a PDF of pictures is OCR'd like a fax's pages, a PDF
with a text layer is not (the rules read its text already), with real tesseract and poppler.
"""

from __future__ import annotations

from tests.fax.test_fax_tickets import run
from tests.ocr import faxpages as fp
from tests.pec import build
from tests.pec.test_pec_cades import letter_pdf, signed_letter_ticket
from tests.test_attached_documents import mail_with

LETTER = [
    "Oggetto: palo pericolante",
    "Si segnala che il palo IP-123456",
    "in via Verdi 3 e' inclinato e sta",
    "per cadere sul marciapiede.",
]


def _mail(pdf: bytes, name: str = "scansione.pdf") -> bytes:
    return mail_with(name, "application", "pdf", pdf)


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
    ticket = signed_letter_ticket(tmp_path, capsys, fp.pdf([fp.page(LETTER)]), build.make_pki())
    assert ticket["pole_codes"] == ["IP-123456"]
    assert ticket["request_type"] == "manutenzione"
    assert ticket["pec"]["certified"] is True
    assert [a["filename"] for a in ticket["attachments"]] == ["nota.pdf.p7m", "nota.pdf"]
