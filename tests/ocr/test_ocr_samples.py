"""Every real fax image of shared/samples/fax/ is read, or refused with a clear reason.

The expected words come from SOURCES.md (what tesseract reads of each file), not from this
code. Real Pillow/libtiff, poppler and tesseract."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr import read_document

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "fax"

# file -> words its pages must show (header line or body), as SOURCES.md says tesseract reads
READABLE = {
    "imagetiff-g3test.tif": ["17:12", "TECH"],  # a test chart: its header line only
    "imagetiff-fax2d.tif": ["Oxford", "Leffler", "backup"],
    "twelvemonkeys-g3aoe.tif": ["Testdokument"],
    "asterisk-udptl-1page.tif": ["Leave Request Form"],
    "libtiffnet-g3-premature-eol.tif": ["Transport-Profi"],
    "libtiffnet-ccitt1.tif": ["SLEREXE", "January"],
    "libtiffnet-ccitt4.tif": ["lancement"],
    "twelvemonkeys-g32ds.tif": ["Kofax"],
    "pillow-g4-fillorder-test.tif": ["26 of 27"],
    "pillow-g4-multi.tiff": ["Page2", "Page3"],
    "ocrmypdf-ccitt.pdf": ["LinnSequencer"],
}
BLANK = {"commonsimaging-1pagefax.tif"}
REFUSED = {"hylafax-jbig.tif": "JBIG"}

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"no samples at {SAMPLES}")


def test_every_sample_has_an_expectation():
    files = {p.name for p in SAMPLES.iterdir() if p.suffix != ".md"}
    assert files == set(READABLE) | BLANK | set(REFUSED)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(READABLE))
def test_sample_is_read(name):
    doc = read_document((SAMPLES / name).read_bytes())
    assert doc.error is None and doc.problems == ()
    seen = "\n".join(f"{p.header}\n{p.text}" for p in doc.pages)
    for words in READABLE[name]:
        assert words.lower() in seen.lower(), seen[:500]
    assert doc.confidence is not None and doc.confidence > 0.4


def test_multi_page_sample_gives_every_page():
    doc = read_document((SAMPLES / "pillow-g4-multi.tiff").read_bytes())
    assert [p.number for p in doc.pages] == [1, 2, 3]


def test_blank_sample_is_a_page_without_words():
    doc = read_document((SAMPLES / "commonsimaging-1pagefax.tif").read_bytes())
    assert doc.error is None
    assert len(doc.pages) == 1 and doc.pages[0].words == 0
    assert doc.text == "" and doc.confidence is None


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unsupported_sample_is_refused_with_its_reason(name):
    doc = read_document((SAMPLES / name).read_bytes())
    assert doc.pages == ()
    assert REFUSED[name] in doc.error and "non supportata" in doc.error
