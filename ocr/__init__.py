"""Pages of faxes and photos to text, QR contents and pole codes.

Pure: takes bytes and plain values, returns frozen dataclasses; never imports the daemon.
Each external program sits behind one small wrapper (`tesseract.py`, `poppler.py`); `qr.py`
wraps the zxing-cpp decoder.

    doc = read_document(data, "image/tiff", Limits())   # never raises for a bad file
    doc.text, doc.confidence, doc.labels, doc.error
"""

from __future__ import annotations

from ocr.errors import OcrError
from ocr.pages import Limits, Page, split
from ocr.reading import Document, PageText, read_document

__all__ = ["Document", "Limits", "OcrError", "Page", "PageText", "read_document", "split"]
