"""The one error of `ocr/`: a file or page that cannot be read, with the reason an operator
reads in the ticket (the pipeline keeps the attachment and goes on)."""

from __future__ import annotations


class OcrError(Exception):
    """A file or a page that cannot be read, and why (in Italian: operators read it)."""
