"""The one wrapper around poppler (`pdfinfo`, `pdftoppm`, through pdf2image): page sizes and
one page rendered, each bounded in time; poppler's failures become OcrError."""

from __future__ import annotations

import re
import shutil
import subprocess

from pdf2image import convert_from_bytes, pdfinfo_from_bytes
from pdf2image.exceptions import PDFInfoNotInstalledError, PDFPageCountError, PDFSyntaxError
from PIL import Image

from ocr.errors import OcrError

_SIZE = re.compile(r"([\d.]+)\s*x\s*([\d.]+)")
POPPLER_ERRORS = (PDFPageCountError, PDFSyntaxError, PDFInfoNotInstalledError, ValueError, OSError)


def version() -> str | None:
    """`pdftoppm -v`'s version line, or None when poppler is not installed."""
    if shutil.which("pdftoppm") is None:
        return None
    done = subprocess.run(["pdftoppm", "-v"], capture_output=True, text=True, timeout=10)
    return (done.stderr or done.stdout).splitlines()[0].strip()


def page_sizes(data: bytes, timeout_s: float) -> list[tuple[float, float]]:
    """Each page's size in points (1/72 inch), as `pdfinfo -l` lists them."""
    try:
        info = pdfinfo_from_bytes(data, timeout=timeout_s, last_page=10_000)
    except subprocess.TimeoutExpired:
        raise OcrError(f"PDF: pdfinfo oltre {timeout_s:.0f} s") from None
    except POPPLER_ERRORS as exc:
        raise OcrError(f"PDF illeggibile: {_first_line(exc)}") from None
    pages = int(info.get("Pages", 0))
    if pages < 1:
        raise OcrError("PDF senza pagine")
    sizes = [
        _size(info.get(f"Page {n:4d} size") or info.get("Page size", ""))
        for n in range(1, pages + 1)
    ]
    return sizes


def render(data: bytes, number: int, dpi: int, timeout_s: float) -> Image.Image:
    """Page `number` (1-based) as a grey image at `dpi`."""
    try:
        images = convert_from_bytes(
            data, dpi=dpi, first_page=number, last_page=number, grayscale=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise OcrError(f"PDF pagina {number}: resa oltre {timeout_s:.0f} s") from None
    except POPPLER_ERRORS as exc:
        raise OcrError(f"PDF pagina {number} illeggibile: {_first_line(exc)}") from None
    if not images:
        raise OcrError(f"PDF pagina {number}: poppler non ha reso nulla")
    return images[0]


def _size(text: str) -> tuple[float, float]:
    found = _SIZE.search(str(text))
    if not found:
        return 612.0, 792.0  # poppler's default page: US Letter
    return float(found[1]), float(found[2])


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
