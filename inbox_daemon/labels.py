"""Printable sheets of pole labels: the code in large type and a QR code a phone can scan.

The contracts ask the supplier to label every pole with its code and, from the second year, a
QR code through which a citizen can report a fault. Each label's QR holds the configured
`[poles] label` with the code in place of `{code}` (a URL of the web form, or a mailto: with
the code in the subject); the code is percent-encoded there, so a code with a slash stays one
path segment. reportlab draws both the page and the QR code (its QR widget, at error
correction level M, which survives a scratched or weathered label).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

COLUMNS, ROWS = 3, 7  # 21 labels of 70 x 42.3 mm: the common A4 sheet of adhesive labels
LABEL_W, LABEL_H = A4[0] / COLUMNS, A4[1] / ROWS
QR_SIDE = 34 * mm
MARGIN = 3 * mm
CALL_TO_ACTION = "Guasto? Inquadra il codice"


@dataclass(frozen=True)
class Label:
    code: str
    address: str = ""
    municipality: str = ""


def label_content(template: str, code: str) -> str:
    """What the QR code of `code`'s label holds."""
    return template.replace("{code}", quote(code, safe=""))


def write_sheets(labels: Sequence[Label], template: str, out: Path) -> int:
    """Write the labels to `out` as A4 pages; return how many pages."""
    canvas = Canvas(str(out), pagesize=A4)
    canvas.setTitle("Etichette dei punti luce")
    per_page = COLUMNS * ROWS
    pages = 0
    for start in range(0, len(labels), per_page):
        for slot, label in enumerate(labels[start : start + per_page]):
            column, row = slot % COLUMNS, slot // COLUMNS
            _draw(canvas, label, template, column * LABEL_W, A4[1] - (row + 1) * LABEL_H)
        canvas.showPage()
        pages += 1
    canvas.save()
    return pages


def _draw(canvas: Canvas, label: Label, template: str, x: float, y: float) -> None:
    qr = QrCodeWidget(label_content(template, label.code), barLevel="M")
    left, bottom, right, top = qr.getBounds()
    scale = QR_SIDE / max(right - left, top - bottom)
    drawing = Drawing(QR_SIDE, QR_SIDE, transform=[scale, 0, 0, scale, 0, 0])
    drawing.add(qr)
    renderPDF.draw(drawing, canvas, x + MARGIN, y + (LABEL_H - QR_SIDE) / 2)
    text_x = x + MARGIN * 2 + QR_SIDE
    width = LABEL_W - QR_SIDE - MARGIN * 3
    size = _fitting_size(canvas, label.code, width)
    canvas.setFont("Helvetica-Bold", size)
    canvas.drawString(text_x, y + LABEL_H * 0.58, label.code)
    canvas.setFont("Helvetica", 6.5)
    for i, line in enumerate((label.address, label.municipality, CALL_TO_ACTION)):
        canvas.drawString(text_x, y + LABEL_H * 0.40 - i * 8, line[:40])


def _fitting_size(canvas: Canvas, text: str, width: float, largest: float = 16) -> float:
    """The largest type size, at most `largest`, at which `text` fits in `width`."""
    size = largest
    while size > 6 and canvas.stringWidth(text, "Helvetica-Bold", size) > width:
        size -= 0.5
    return size
