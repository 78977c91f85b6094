"""One file's pages read: text and confidence per page, QR labels, the fax header line.

A page is read upright first. Only when that reading is poor (few words, or low confidence)
is tesseract asked the page's orientation (OSD) and the page read again turned: OSD costs as
much as a reading, and most pages come the right way up. A page that fails (a timeout, a
tesseract error) costs only itself; a file that cannot be opened gives a `Document` with its
`error` and no pages. Nothing here raises for a bad file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from ocr import qr, slips, tesseract
from ocr.errors import OcrError
from ocr.pages import Limits, Page, split
from ocr.preprocess import deskew, despeckle
from ocr.qr import Label
from ocr.tesseract import Reading
from rules.poles import code_from_label, find_poles
from rules.types import PoleFormat

POOR_CONFIDENCE = 0.70  # below this, or with fewer words, the page may be turned
POOR_WORDS = 8
SURE_ORIENTATION = 1.0  # tesseract's OSD "orientation confidence" worth acting on
# The gateway's line across the top of a fax page: a date or time, and a page count or a
# phone number ("03/12/2026 10:15  +39 06 1234567  P.001/002").
_HEADER = re.compile(
    r"(\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{1,2}:\d{2}).*"
    r"(\b(?:p(?:ag)?\.?|page|pagina)\s*\d+\s*(?:/|di|of)\s*\d+|\+?\d[\d ]{6,})",
    re.IGNORECASE,
)


class Engine(Protocol):
    """What reads a page: `ocr.tesseract` in the daemon; a test may pass a failing one."""

    def read(self, image: Image.Image, timeout_s: float) -> Reading: ...

    def orientation(self, image: Image.Image, timeout_s: float) -> tuple[int, float]: ...


@dataclass(frozen=True)
class PageText:
    """What one page says."""

    number: int
    text: str  # the body, slips inside words put right (`slips.py`)
    confidence: float  # mean word confidence, 0-1; 0 for a page without words
    words: int = 0
    rotated: int = 0  # degrees the page was turned (clockwise) before it was read
    header: str = ""  # the gateway's header line, apart from the body
    labels: tuple[Label, ...] = ()
    error: str | None = None  # this page could not be read


@dataclass(frozen=True)
class Document:
    """One file's pages, or why it could not be read (`error`)."""

    pages: tuple[PageText, ...] = ()
    error: str | None = None
    skipped: int = 0  # pages past `Limits.max_pages`, not read

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.pages if p.text)

    @property
    def confidence(self) -> float | None:
        """The mean confidence of the pages that have words; None when none has."""
        read = [p.confidence for p in self.pages if p.words]
        return round(sum(read) / len(read), 3) if read else None

    @property
    def labels(self) -> tuple[Label, ...]:
        return tuple(label for page in self.pages for label in page.labels)

    @property
    def problems(self) -> tuple[str, ...]:
        """Why the file or some of its pages were not read, for the ticket."""
        found = [self.error] if self.error else []
        found += [f"pagina {p.number}: {p.error}" for p in self.pages if p.error]
        if self.skipped:
            found.append(f"{self.skipped} pagine oltre il limite, non lette")
        return tuple(found)


def read_document(
    data: bytes,
    mime_type: str = "",
    limits: Limits | None = None,
    engine: Engine = tesseract,
) -> Document:
    """Every page of a TIFF, PDF or image file; never raises for a bad file."""
    limits = limits or Limits()
    try:
        pages = split(data, mime_type, limits)
    except OcrError as exc:
        return Document(error=str(exc))
    return Document(tuple(read_page(p, limits, engine) for p in pages.pages), skipped=pages.skipped)


def read_page(page: Page, limits: Limits, engine: Engine = tesseract) -> PageText:
    """One page: its QR labels, then its text, turned upright when it reads poorly."""
    labels = qr.decode(page.image)
    image, _ = deskew(despeckle(page.image))
    try:
        reading, rotated = _upright(image, limits.page_timeout_s, engine)
    except OcrError as exc:
        return PageText(page.number, "", 0.0, labels=labels, error=str(exc))
    header, body = split_header(reading.text)
    return PageText(
        page.number,
        slips.normalise(body),
        reading.confidence,
        reading.words,
        rotated,
        header,
        labels,
    )


def _upright(image: Image.Image, timeout_s: float, engine: Engine) -> tuple[Reading, int]:
    first = engine.read(image, timeout_s)
    if first.words >= POOR_WORDS and first.confidence >= POOR_CONFIDENCE:
        return first, 0
    angle, sure = engine.orientation(image, timeout_s)
    if angle not in (90, 180, 270) or sure < SURE_ORIENTATION:
        return first, 0
    # OSD's "Rotate" is clockwise; Pillow's rotate() turns counter-clockwise
    turned = engine.read(image.rotate(-angle, expand=True, fillcolor=255), timeout_s)
    better = turned.words * turned.confidence > first.words * first.confidence
    return (turned, angle) if better else (first, 0)


def split_header(text: str) -> tuple[str, str]:
    """The fax header line (the first line, when it looks like one) and the rest."""
    first, _, rest = text.partition("\n")
    if _HEADER.search(first):
        return first.strip(), rest.lstrip("\n")
    return "", text


def pole_codes(doc: Document, formats: Sequence[PoleFormat]) -> tuple[str, ...]:
    """Codes from the labels first (a decoded code is certain), then those read in the text."""
    decoded = [code_from_label(label.text, formats) for label in doc.labels]
    read = [hit.code for page in doc.pages for hit in find_poles(page.text, formats)]
    return tuple(dict.fromkeys(code for code in [*decoded, *read] if code))
