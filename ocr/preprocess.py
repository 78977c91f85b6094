"""Cleaning a fax page before OCR: line noise away, text lines level and running across.

Both work on the grey page and are cheap next to tesseract: despeckling is two 3×3 filters,
and the layout is measured on a page shrunk four times, by the classic projection profile
(text lines that run level make the row sums of ink most uneven). The same profile taken down
the columns tells a page fed sideways, whose lines run down: it must be turned before its
skew is measured (lines that run down have no row-wise skew to find, and levelling such a
page by a spurious angle breaks tesseract's reading of its lines).
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageChops, ImageFilter, ImageStat

MAX_SKEW = 5.0  # degrees either way; a page fed worse than that is read as it is
STEP = 0.5
SIDEWAYS = 1.5  # columns this much more uneven than rows: the lines run down the page
_NEIGHBOURS = ImageFilter.Kernel((3, 3), [1, 1, 1, 1, 0, 1, 1, 1, 1], scale=8)


@dataclass(frozen=True)
class Layout:
    """How the text lies on the page: `sideways` when its lines run down the page, and the
    angle (degrees, counter-clockwise) that levels them once they run across."""

    sideways: bool = False
    skew: float = 0.0


def despeckle(image: Image.Image) -> Image.Image:
    """Isolated black dots (line noise) made white; nothing else is touched. A median filter
    would also clean them, but it eats the thin strokes of small fax type."""
    alone = image.filter(_NEIGHBOURS).point(lambda v: 255 if v > 250 else 0)
    return ImageChops.lighter(image, alone)


def layout(image: Image.Image) -> Layout:
    """Whether the page's lines run down it, and the angle that levels them; a page with too
    little ink to tell is taken as it is."""
    small = image.reduce(4).point(lambda v: 255 if v < 128 else 0)  # ink white, for sums
    if ImageStat.Stat(small).mean[0] < 0.5:
        return Layout()
    across, across_angle = _level(small)
    down, down_angle = _level(small.transpose(Image.Transpose.ROTATE_90))
    if down > SIDEWAYS * across:
        return Layout(True, down_angle)
    return Layout(False, across_angle)


def skew(image: Image.Image) -> float:
    """The angle (degrees, counter-clockwise) that levels the page's text lines, taken as
    running across; 0 for a page with too little ink to tell."""
    small = image.reduce(4).point(lambda v: 255 if v < 128 else 0)
    if ImageStat.Stat(small).mean[0] < 0.5:
        return 0.0
    return _level(small)[1]


def deskew(image: Image.Image, angle: float | None = None) -> tuple[Image.Image, float]:
    """The page levelled, and the angle it was turned by (0: left as it was); `angle` when
    it is known already (`layout`), else measured."""
    angle = skew(image) if angle is None else angle
    if abs(angle) < STEP:
        return image, 0.0
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255), angle


def _level(ink: Image.Image) -> tuple[float, float]:
    """The unevenness of the rows at the angle that makes them most uneven, and that angle."""
    steps = int(MAX_SKEW / STEP)
    angles = [i * STEP for i in range(-steps, steps + 1)]
    scored = {a: _unevenness(ink, a) for a in angles}
    best = max(scored, key=scored.__getitem__)
    for a in (best - STEP / 2, best + STEP / 2):
        scored[a] = _unevenness(ink, a)
    best = max(scored, key=scored.__getitem__)
    return scored[best], best


def _unevenness(ink: Image.Image, angle: float) -> float:
    turned = ink.rotate(angle, resample=Image.Resampling.NEAREST) if angle else ink
    rows = turned.resize((1, turned.height), Image.Resampling.BOX)  # each row's mean ink
    return ImageStat.Stat(rows).var[0]
