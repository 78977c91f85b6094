"""Pages the wrong way round, and pages read side by side: real tesseract, real OSD.

A sideways page must be turned before its skew is measured: levelled by the spurious angle
that the projection finds on lines running down, tesseract broke this page's lines and lost
its code (the benchmark's 12-fine-sideways-270)."""

from __future__ import annotations

import threading

from ocr import Limits, read_document, tesseract
from ocr.preprocess import layout
from ocr.reading import pole_codes
from rules import DEFAULT_POLE_FORMATS
from tests.ocr import faxpages as fp

LETTER = [
    "Alla cortese attenzione dell'ufficio tecnico,",
    "segnaliamo il palo IP-195028 piegato",
    "davanti alla scuola media, con fili scoperti.",
    "Il Dirigente scolastico",
]


def test_the_projection_tells_lines_running_down_from_lines_running_across():
    upright = fp.page(fp.REQUEST, header=fp.HEADER, skew=2.5).convert("L")
    assert not layout(upright).sideways
    assert abs(layout(upright).skew + 2.5) <= 0.5  # the angle that undoes the page's 2.5°
    for turn in (90, 270):
        assert layout(fp.page(fp.REQUEST, turn=turn).convert("L")).sideways


def test_a_fine_page_fed_sideways_is_turned_before_it_is_levelled():
    doc = read_document(fp.tiff([fp.page(LETTER, header=fp.HEADER, turn=270)]))
    [page] = doc.pages
    assert page.rotated == 270  # OSD's way, clockwise
    assert pole_codes(doc, DEFAULT_POLE_FORMATS) == ("IP-195028",)
    assert "fili scoperti" in page.text


class Counting:
    """Real tesseract, counting how many pages it reads at the same time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0

    def read(self, image, timeout_s):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return tesseract.read(image, timeout_s)
        finally:
            with self.lock:
                self.now -= 1

    def orientation(self, image, timeout_s):
        return tesseract.orientation(image, timeout_s)


def test_a_fax_s_pages_are_read_side_by_side_and_given_back_in_order():
    texts = [[f"Pagina {n}: il palo IP-00451{n} è spento"] for n in range(1, 5)]
    data = fp.tiff([fp.page(lines) for lines in texts], fine=False)
    engine = Counting()
    doc = read_document(data, limits=Limits(parallel_pages=2), engine=engine)
    assert engine.most == 2  # never more than the limit, and more than one
    assert [p.number for p in doc.pages] == [1, 2, 3, 4]
    assert [p.text.split(":")[0] for p in doc.pages] == [f"Pagina {n}" for n in range(1, 5)]
    assert pole_codes(doc, DEFAULT_POLE_FORMATS) == tuple(f"IP-00451{n}" for n in range(1, 5))


def test_one_page_at_a_time_when_the_limit_says_so():
    data = fp.tiff([fp.page(["uno due tre"]), fp.page(["quattro cinque"])])
    engine = Counting()
    doc = read_document(data, limits=Limits(parallel_pages=1), engine=engine)
    assert engine.most == 1 and len(doc.pages) == 2
