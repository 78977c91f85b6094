"""Generated fax pages through the real OCR: what a fax says, whichever way it came in.

Pages are rendered from Italian text at fax resolution (tests/ocr/faxpages.py) and read by
real tesseract and zxing-cpp; the assertions are the words and codes put on the page."""

from __future__ import annotations

import pytest

from ocr import Limits, read_document
from ocr.reading import pole_codes
from rules import DEFAULT_POLE_FORMATS
from tests.ocr import faxpages as fp


def codes(doc):
    return pole_codes(doc, DEFAULT_POLE_FORMATS)


@pytest.mark.parametrize("fine", [True, False], ids=["fine", "standard"])
def test_request_is_read_at_both_fax_resolutions(fine):
    doc = read_document(fp.tiff([fp.page(fp.REQUEST, header=fp.HEADER)], fine=fine))
    assert "spento da tre giorni" in doc.text
    assert codes(doc) == ("IP-004512",)
    assert doc.confidence > 0.8


def test_the_gateway_header_line_is_kept_apart_from_the_body():
    doc = read_document(fp.tiff([fp.page(fp.REQUEST, header=fp.HEADER)]))
    [page] = doc.pages
    assert "1234567" in page.header and "001" in page.header
    assert "1234567" not in page.text
    assert page.text.startswith("Spett.le")


def test_an_upside_down_page_is_turned_and_read():
    doc = read_document(fp.tiff([fp.page(fp.REQUEST, turn=180)], compression="group3"))
    [page] = doc.pages
    assert page.rotated == 180
    assert codes(doc) == ("IP-004512",)


@pytest.mark.slow
@pytest.mark.parametrize("turn", [90, 270])
def test_a_sideways_page_is_read(turn):
    # tesseract reads some sideways pages as they are; the others are turned by OSD
    doc = read_document(fp.tiff([fp.page(fp.REQUEST, turn=turn)], fine=False))
    assert codes(doc) == ("IP-004512",)
    assert "spento da tre giorni" in doc.text


@pytest.mark.parametrize("skew", [2.5, -3.0])
def test_a_skewed_speckled_standard_page_is_read(skew):
    page = fp.page(fp.REQUEST, header=fp.HEADER, skew=skew, speckle=3000)
    doc = read_document(fp.tiff([page], fine=False))
    assert codes(doc) == ("IP-004512",)
    assert "manutenzione" in doc.text


def test_the_code_on_page_two_of_a_multi_page_fax():
    cover = fp.page(["FAX", "Da: Scuola Media Dante Alighieri", "Pagine: 2 compresa questa"])
    body = fp.page(["Il palo IP-071233 in piazza Verdi", "è piegato e sta per cadere."])
    doc = read_document(fp.tiff([cover, body], fine=False))
    assert len(doc.pages) == 2
    assert "IP-071233" not in doc.pages[0].text
    assert codes(doc) == ("IP-071233",)


@pytest.mark.parametrize(
    "content",
    ["https://cc.example.it/p/IP-004512?src=qr", "mailto:cc@example.it?subject=Palo%20IP-004512"],
    ids=["url", "mailto"],
)
def test_a_qr_label_on_a_fax_page_gives_its_code(content):
    doc = read_document(fp.tiff([fp.page(["Guasto al palo qui sotto"], qr=content)], fine=False))
    assert [label.text for label in doc.labels] == [content]
    assert codes(doc) == ("IP-004512",)


def test_a_decoded_code_outranks_one_read_in_the_text():
    page = fp.page(["Palo IP-000102 spento"], qr="https://cc.example.it/p/IP-004512")
    assert codes(read_document(fp.png(page))) == ("IP-004512", "IP-000102")


def test_a_blank_page_has_no_words_and_no_confidence():
    doc = read_document(fp.tiff([fp.page([])]))
    assert doc.error is None and doc.pages[0].words == 0 and doc.confidence is None


def test_a_pdf_fax_is_rendered_and_read():
    doc = read_document(fp.pdf([fp.page(fp.REQUEST), fp.page(["Seconda pagina"])]))
    assert len(doc.pages) == 2
    assert codes(doc) == ("IP-004512",)


def test_ocr_slips_inside_words_are_put_right():
    doc = read_document(fp.png(fp.page(["il pa1o in via Roma è spent0"])))
    assert "il palo in via Roma è spento" in doc.text


def test_a_timeout_fails_the_page_not_the_file():
    # a real tesseract killed at its deadline: the page says so, the call returns
    doc = read_document(fp.tiff([fp.page(fp.REQUEST)]), limits=Limits(page_timeout_s=0.01))
    [page] = doc.pages
    assert page.error and "oltre" in page.error
    assert doc.problems == (f"pagina 1: {page.error}",)
