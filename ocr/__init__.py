"""Pages of faxes and photos to text, QR contents and pole codes.

Pure: takes bytes and plain values, returns frozen dataclasses; never imports the daemon.
Each external program sits behind one small wrapper (`tesseract.py`, `poppler.py`); `qr.py`
wraps the zxing-cpp decoder.

    doc = read_document(data, "image/tiff", Limits())   # never raises for a bad file
    doc.text, doc.confidence, doc.labels, doc.error
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ocr.errors import OcrError
from ocr.limits import Limits

if TYPE_CHECKING:
    from ocr.pages import Page, split
    from ocr.reading import Document, PageText, read_document

__all__ = ["Document", "Limits", "OcrError", "Page", "PageText", "read_document", "split"]

# Pillow, zxing-cpp and the rest load when a page is first read, not with the package: a
# daemon imports this for its settings whether or not a fax ever comes (PEP 562).
_LAZY = {"Page": "ocr.pages", "split": "ocr.pages", "Document": "ocr.reading",
         "PageText": "ocr.reading", "read_document": "ocr.reading"}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ocr' has no attribute {name!r}")
