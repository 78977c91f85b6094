"""Realistic fax pages for the tests: Italian text rendered at fax resolution, with what real
faxes have (a gateway header line, speckle, a slight skew, pages fed the wrong way round,
QR labels), saved as CCITT G3/G4 TIFF or PDF as gateways send them."""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

WIDTH = 1728  # every fax page is 1728 pixels across (A4 at 204 dpi)
FINE = (204, 196)
STANDARD = (204, 98)
FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def page(
    lines: Sequence[str],
    *,
    header: str | None = None,
    qr: str | None = None,
    skew: float = 0.0,
    speckle: int = 0,
    turn: int = 0,
    size: int = 36,
    seed: int = 1,
) -> Image.Image:
    """A fine-resolution page (square pixels at 204 dpi), bilevel: the text from the top,
    a QR label below it, turned `turn` degrees counter-clockwise as a page fed wrongly."""
    height = 2200
    image = Image.new("L", (WIDTH, height), 255)
    draw = ImageDraw.Draw(image)
    if header:
        draw.text((40, 20), header, font=font(24), fill=0)
    y = 160
    for line in lines:
        draw.text((120, y), line, font=font(size), fill=0)
        y += int(size * 1.6)
    if qr:
        symbol = segno.make(qr, error="m")
        buffer = io.BytesIO()
        symbol.save(buffer, kind="png", scale=8, border=4)
        label = Image.open(buffer).convert("L")
        image.paste(label, (120, y + 60))
    if skew:
        image = image.rotate(skew, resample=Image.Resampling.BICUBIC, fillcolor=255)
    image = image.point(lambda v: 255 if v > 128 else 0).convert("1")
    if speckle:
        rng = random.Random(seed)
        pixels = image.load()
        for _ in range(speckle):
            pixels[rng.randrange(WIDTH), rng.randrange(height)] = 0
    return image.rotate(turn, expand=True) if turn else image


def standard(image: Image.Image) -> Image.Image:
    """The page as a standard-resolution fax sends it: every other line (98 dpi down)."""
    return image.resize((image.width, image.height // 2), Image.Resampling.NEAREST)


def tiff(pages: Sequence[Image.Image], *, fine: bool = True, compression: str = "group4") -> bytes:
    """A multi-page TIFF Class F as a gateway writes it."""
    if not fine:
        pages = [standard(p) for p in pages]
    buffer = io.BytesIO()
    first, *rest = [p.convert("1") for p in pages]
    first.save(
        buffer,
        "TIFF",
        compression=compression,
        dpi=FINE if fine else STANDARD,
        save_all=True,
        append_images=rest,
    )
    return buffer.getvalue()


def pdf(pages: Sequence[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    first, *rest = [p.convert("L") for p in pages]
    first.save(buffer, "PDF", resolution=204.0, save_all=True, append_images=rest)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("L").save(buffer, "PNG")
    return buffer.getvalue()


REQUEST = [
    "Spett.le Servizio Illuminazione Pubblica,",
    "con la presente si segnala che il lampione",
    "in via Garibaldi 12 è spento da tre giorni.",
    "Il palo riporta il codice IP-004512.",
    "Si chiede un intervento di manutenzione.",
    "Distinti saluti, Parrocchia San Marco",
]
HEADER = "03/12/2026 10:15  +39 06 1234567  PARROCCHIA S MARCO  P.001/001"
