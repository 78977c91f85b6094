"""Decoding and bounding: pages out of TIFF/PDF/images, square pixels, refusals with reasons."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ocr import Limits, OcrError, read_document, split
from ocr.pages import tiff_compression
from tests.ocr import faxpages as fp


def test_standard_resolution_pages_are_made_square():
    page = fp.page(["prova"])
    [fine] = split(fp.tiff([page], fine=True)).pages
    [standard] = split(fp.tiff([page], fine=False)).pages
    assert standard.stretched and not fine.stretched
    assert standard.image.width == fine.image.width == fp.WIDTH
    assert abs(standard.image.height - page.height * 204 / 196) < 4  # 98 dpi rows, 204 dpi made


@pytest.mark.parametrize("compression", ["group3", "group4"])
def test_g3_and_g4_tiff_pages_are_grey_images(compression):
    data = fp.tiff([fp.page(["uno"]), fp.page(["due"])], compression=compression)
    pages = split(data).pages
    assert [p.number for p in pages] == [1, 2]
    assert {p.image.mode for p in pages} == {"L"}


def test_exif_orientation_of_a_photo_is_honoured():
    photo = Image.new("L", (300, 100), 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90° clockwise to view"
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", exif=exif)
    [page] = split(buffer.getvalue(), "image/jpeg").pages
    assert page.image.size == (100, 300)


def test_a_heic_photo_from_a_phone_is_read():
    buffer = io.BytesIO()
    fp.page(["Palo IP-004512"]).convert("RGB").save(buffer, "HEIF", quality=90)
    doc = read_document(buffer.getvalue(), "image/heic")
    assert doc.error is None and "IP-004512" in doc.text


def test_pages_past_the_limit_are_counted_not_read():
    data = fp.tiff([fp.page([]), fp.page([]), fp.page([])])
    result = split(data, limits=Limits(max_pages=2))
    assert len(result.pages) == 2 and result.skipped == 1
    doc = read_document(data, limits=Limits(max_pages=2))
    assert doc.problems == ("1 pagine oltre il limite, non lette",)


def test_a_page_above_the_pixel_limit_is_refused_before_decoding():
    with pytest.raises(OcrError, match=r"1728×2200 pixel, oltre il limite"):
        split(fp.tiff([fp.page([])]), limits=Limits(max_pixels=1_000_000))


def test_a_pdf_page_too_large_is_rendered_smaller():
    data = fp.pdf([fp.page([])])
    [page] = split(data, limits=Limits(max_pixels=2_000_000)).pages
    assert page.image.width * page.image.height <= 2_000_000
    assert page.dpi < 300


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "file vuoto"),
        (b"hello, not an image", "formato non riconosciuto"),
        (b"%PDF-1.4\n garbage", "PDF illeggibile"),
    ],
)
def test_broken_files_are_refused_with_a_reason(data, reason):
    doc = read_document(data)
    assert doc.pages == () and reason in doc.error


def test_a_truncated_tiff_is_refused_with_a_reason():
    data = fp.tiff([fp.page(fp.REQUEST)])  # Pillow writes the page index at the end
    doc = read_document(data[: len(data) // 2])
    assert doc.pages == () and "file troncato" in doc.error


def test_a_tiff_with_damaged_page_data_does_not_raise():
    data = bytearray(fp.tiff([fp.page(fp.REQUEST)]))
    data[200:4000] = (bytes(range(256)) * 15)[:3800]  # noise over the coded lines
    doc = read_document(bytes(data))
    assert doc.error is not None or len(doc.pages) == 1  # refused, or read as far as it goes


def test_tiff_compression_is_read_from_the_header():
    assert tiff_compression(fp.tiff([fp.page([])], compression="group4")) == 4
    assert tiff_compression(fp.tiff([fp.page([])], compression="group3")) == 3
    assert tiff_compression(b"II*\x00\xff\xff\xff\xff") is None
