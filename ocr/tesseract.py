"""The one wrapper around the `tesseract` program (through pytesseract): text with its
confidence, and the page's orientation (OSD). Each call is bounded in time; tesseract's
failures and timeouts become OcrError, never a hung worker.

Pages are read in parallel, one tesseract each (`reading.py`), so each tesseract runs one
thread: its OpenMP threads on a busy core only wait for each other, which costs CPU time and
gains nothing (`OMP_THREAD_LIMIT=1`, unless the environment sets it). The page is handed over
as an uncompressed PGM file: pytesseract would write a PNG, and compressing it costs a
twentieth of a second per call, for tesseract to decompress it again.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ocr.errors import OcrError

LANG = "ita"
PAGE_MODE = "--psm 3"  # automatic layout, no OSD: orientation is asked apart, when needed
_ROTATE = re.compile(r"Rotate:\s*(\d+)")
_ORIENTATION_CONF = re.compile(r"Orientation confidence:\s*([\d.]+)")


def _pytesseract() -> Any:
    """pytesseract, imported when first needed: it loads NumPy (a tenth of a second and
    several MB), which a daemon that never meets a fax should not pay at every start."""
    import pytesseract

    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # pytesseract runs tesseract in os.environ
    return pytesseract


@contextmanager
def _as_file(image: Image.Image) -> Iterator[str]:
    """The image in a temporary PGM (PBM for a bilevel one) file, for tesseract to read."""
    with tempfile.NamedTemporaryFile(prefix="ocr-page-", suffix=".pnm") as file:
        image.save(file, "PPM")
        file.flush()
        yield file.name


@dataclass(frozen=True)
class Reading:
    """What tesseract read of one image: lines of text, and the mean word confidence (0-1)."""

    text: str
    confidence: float
    words: int


def version() -> str | None:
    """tesseract's version, or None when it is not installed."""
    try:
        return str(_pytesseract().get_tesseract_version())
    except (_pytesseract().TesseractNotFoundError, OSError):
        return None


def languages() -> list[str]:
    """The installed language data (`ita` must be among them)."""
    try:
        return list(_pytesseract().get_languages(config=""))
    except (_pytesseract().TesseractNotFoundError, _pytesseract().TesseractError, OSError):
        return []


def read(image: Image.Image, timeout_s: float, lang: str = LANG) -> Reading:
    """The text of `image`, line by line as tesseract laid it out, and its confidence."""
    try:
        with _as_file(image) as path:
            data = _pytesseract().image_to_data(
                path,
                lang=lang,
                config=PAGE_MODE,
                timeout=timeout_s,
                output_type=_pytesseract().Output.DICT,
            )
    except (_pytesseract().TesseractError, _pytesseract().TesseractNotFoundError, OSError) as exc:
        raise OcrError(f"tesseract: {str(exc).strip()[:200]}") from None
    except RuntimeError as exc:  # pytesseract's timeout (TesseractError is one too: first)
        raise OcrError(f"tesseract oltre {timeout_s:.0f} s") from exc
    return _reading(data)


def _reading(data: dict[str, list]) -> Reading:
    """Lines from tesseract's word table (block, paragraph, line), and the mean confidence of
    the words it found; a page without words has confidence 0."""
    lines: dict[tuple[int, int, int], list[str]] = {}
    confidences = []
    for i, word in enumerate(data["text"]):
        word = (word or "").strip()
        conf = float(data["conf"][i])
        if not word or conf < 0:
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        lines.setdefault(key, []).append(word)
        confidences.append(conf)
    text, previous = [], None
    for (block, par, _), words in lines.items():
        if previous is not None and previous != (block, par):
            text.append("")  # a blank line between paragraphs, as tesseract's own text has
        text.append(" ".join(words))
        previous = (block, par)
    confidence = sum(confidences) / len(confidences) / 100 if confidences else 0.0
    return Reading("\n".join(text), round(confidence, 3), len(confidences))


def orientation(image: Image.Image, timeout_s: float) -> tuple[int, float]:
    """Degrees to turn the page counter-clockwise to make it upright (0, 90, 180, 270), and
    tesseract's confidence in that; (0, 0) when the page has too little text to tell."""
    try:
        with _as_file(image) as path:
            osd = _pytesseract().image_to_osd(path, config="--psm 0", timeout=timeout_s)
    except (_pytesseract().TesseractError, subprocess.SubprocessError):
        return 0, 0.0  # "Too few characters": nothing to turn
    except RuntimeError as exc:  # the timeout (after TesseractError, which is one too)
        raise OcrError(f"tesseract (orientamento) oltre {timeout_s:.0f} s") from exc
    rotate, conf = _ROTATE.search(osd), _ORIENTATION_CONF.search(osd)
    return (int(rotate[1]) if rotate else 0), (float(conf[1]) if conf else 0.0)
