"""Cleaning a fax page before OCR: line noise away, text lines level.

Both work on the grey page and are cheap next to tesseract: despeckling is two 3×3 filters,
and the skew is measured on a page shrunk four times, by the classic projection profile (text
lines that run level make the row sums of ink most uneven).
"""

from __future__ import annotations

from PIL import Image, ImageChops, ImageFilter, ImageStat

MAX_SKEW = 5.0  # degrees either way; a page fed worse than that is read as it is
STEP = 0.5
_NEIGHBOURS = ImageFilter.Kernel((3, 3), [1, 1, 1, 1, 0, 1, 1, 1, 1], scale=8)


def despeckle(image: Image.Image) -> Image.Image:
    """Isolated black dots (line noise) made white; nothing else is touched. A median filter
    would also clean them, but it eats the thin strokes of small fax type."""
    alone = image.filter(_NEIGHBOURS).point(lambda v: 255 if v > 250 else 0)
    return ImageChops.lighter(image, alone)


def skew(image: Image.Image) -> float:
    """The angle (degrees, counter-clockwise) that levels the page's text lines; 0 for a page
    with too little ink to tell."""
    small = image.reduce(4).point(lambda v: 255 if v < 128 else 0)  # ink white, for sums
    if ImageStat.Stat(small).mean[0] < 0.5:
        return 0.0
    steps = int(MAX_SKEW / STEP)
    angles = [i * STEP for i in range(-steps, steps + 1)]
    best = max(angles, key=lambda a: _unevenness(small, a))
    fine = [best + d for d in (-0.25, 0.0, 0.25)]
    return max(fine, key=lambda a: _unevenness(small, a))


def deskew(image: Image.Image) -> tuple[Image.Image, float]:
    """The page levelled, and the angle it was turned by (0: left as it was)."""
    angle = skew(image)
    if abs(angle) < STEP:
        return image, 0.0
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255), angle


def _unevenness(ink: Image.Image, angle: float) -> float:
    turned = ink.rotate(angle, resample=Image.Resampling.NEAREST) if angle else ink
    rows = turned.resize((1, turned.height), Image.Resampling.BOX)  # each row's mean ink
    return ImageStat.Stat(rows).var[0]
