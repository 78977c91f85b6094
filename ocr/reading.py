"""One file's pages read: text and confidence per page, QR labels, the fax header line.

Each page is read once, the right way up, where that can be known before reading. The ink's
projection (`preprocess.layout`) tells, for the cost of a few shrunk copies, whether the
page's lines run across or down; a page whose lines run down (fed sideways) is asked its
orientation (tesseract's OSD, which then only has to choose between the two sideways ways)
and turned before its skew is measured and undone. A page whose lines run across is read at
once, as most pages come the right way up; only when that reading is poor (few words, or low
confidence) is OSD asked, for a page upside down, and the page read again turned.

A fax's pages are read in parallel, one tesseract per available core, with at most that many
pages decoded and in work at a time (`Limits.parallel_pages`). A page that fails (a timeout, a
tesseract error) costs only itself; a file that cannot be opened gives a `Document` with its
`error` and no pages. Nothing here raises for a bad file.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from ocr import qr, slips, tesseract
from ocr.errors import OcrError
from ocr.pages import Limits, Page, open_pages
from ocr.preprocess import deskew, despeckle, layout
from ocr.qr import Label
from ocr.tesseract import Reading
from rules.poles import code_from_label, find_poles
from rules.types import PoleFormat

POOR_CONFIDENCE = 0.70  # below this, or with fewer words, the page may be turned
POOR_WORDS = 8
SURE_ORIENTATION = 1.0  # tesseract's OSD "orientation confidence" worth acting on
# Pillow turns counter-clockwise; OSD's "Rotate" and `PageText.rotated` are clockwise
_CLOCKWISE = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
              270: Image.Transpose.ROTATE_90}  # fmt: skip
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
        opened = open_pages(data, mime_type, limits)
        pages = _read_all(opened.pages, limits, engine)
    except OcrError as exc:
        return Document(error=str(exc))
    return Document(pages, skipped=opened.skipped)


def parallel_pages(limits: Limits) -> int:
    """How many pages are read at once: `Limits.parallel_pages`, else one per core this
    process may use."""
    if limits.parallel_pages > 0:
        return limits.parallel_pages
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _read_all(pages: Iterator[Page], limits: Limits, engine: Engine) -> tuple[PageText, ...]:
    """The pages read, in their order: decoded here one at a time (a multi-page TIFF is one
    decoder, not to be shared), read by a small pool of threads, each waiting on its own
    tesseract. No more pages are decoded than are being read, so a 30-page fax holds a few
    pages in memory, not thirty."""
    workers = parallel_pages(limits)
    if workers == 1:
        return tuple(read_page(page, limits, engine) for page in pages)
    done: list[PageText] = []
    with ThreadPoolExecutor(workers, thread_name_prefix="ocr-page") as pool:
        in_work: deque[Future[PageText]] = deque()
        try:
            for page in pages:
                if len(in_work) >= workers:
                    done.append(in_work.popleft().result())
                in_work.append(pool.submit(read_page, page, limits, engine))
        except OcrError:  # a page that cannot be decoded fails the file: stop the rest
            for future in in_work:
                future.cancel()
            raise
        done += [future.result() for future in in_work]
    return tuple(done)


def read_page(page: Page, limits: Limits, engine: Engine = tesseract) -> PageText:
    """One page: its QR labels, then its text, read the right way up."""
    labels = qr.decode(page.image)
    try:
        reading, rotated = _upright(despeckle(page.image), limits.page_timeout_s, engine)
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
    """The page's reading and the degrees (clockwise) it was turned for it: lines made to
    run across and level before the first reading, OSD asked when they ran down or when that
    reading is poor, a second reading only of a page that OSD says to turn."""
    lie = layout(image)
    turn, sure = 0, 0.0
    if lie.sideways:
        angle, sure = engine.orientation(image, timeout_s)
        turn = angle if angle in (90, 270) and sure >= SURE_ORIENTATION else 90
    first = engine.read(deskew(_turned(image, turn), lie.skew)[0], timeout_s)
    if not _poor(first):
        return first, turn
    if lie.sideways:  # OSD was asked: when it was unsure, the one way left is the other
        if sure >= SURE_ORIENTATION:
            return first, turn
        again = (turn + 180) % 360
    else:
        angle, sure = engine.orientation(image, timeout_s)
        if angle not in (90, 180, 270) or sure < SURE_ORIENTATION:
            return first, 0
        again = angle
    # turned by 180° the lines stay as level; turned sideways (the projection was misled),
    # their skew is measured again
    skew = lie.skew if (again - turn) % 180 == 0 else None
    turned = engine.read(deskew(_turned(image, again), skew)[0], timeout_s)
    better = turned.words * turned.confidence > first.words * first.confidence
    return (turned, again) if better else (first, turn)


def _poor(reading: Reading) -> bool:
    return reading.words < POOR_WORDS or reading.confidence < POOR_CONFIDENCE


def _turned(image: Image.Image, clockwise: int) -> Image.Image:
    return image.transpose(_CLOCKWISE[clockwise]) if clockwise else image


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
