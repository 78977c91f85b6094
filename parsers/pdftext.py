"""The text of a PDF, by poppler's `pdftotext` (the one place that program is run).

Text PDFs only: a scanned PDF gives (almost) no text, and its pages belong to the OCR stage.
Bounded: a time limit, and the output cut at `max_chars`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

TIMEOUT_S = 30
MAX_CHARS = 200_000


class PdfTextError(RuntimeError):
    """pdftotext is missing, failed or took too long."""


def available() -> bool:
    return shutil.which("pdftotext") is not None


def text(pdf: bytes, max_chars: int = MAX_CHARS) -> str:
    """The PDF's text, pages in order; raises PdfTextError."""
    if not available():
        raise PdfTextError("pdftotext is not installed (Debian package poppler-utils)")
    with tempfile.TemporaryDirectory(prefix="pdftext-") as tmp:
        source = Path(tmp) / "in.pdf"
        source.write_bytes(pdf)
        try:
            done = subprocess.run(
                ["pdftotext", "-q", "-enc", "UTF-8", str(source), "-"],
                capture_output=True,
                timeout=TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PdfTextError(f"pdftotext took more than {TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise PdfTextError(f"pdftotext failed (exit {done.returncode})")
    return done.stdout.decode("utf-8", "replace")[:max_chars]
