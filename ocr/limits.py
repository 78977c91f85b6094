"""How much one file may cost: kept apart from `pages` so that naming the limits (the
daemon's configuration does) does not load Pillow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """How much one file may cost: pages read, pixels per page, seconds per page, and how
    many of its pages are read at once."""

    max_pages: int = 30
    max_pixels: int = 40_000_000  # an A4 page at 600 dpi is 35 Mpx
    page_timeout_s: float = 60.0
    parallel_pages: int = 0  # pages read at once (one tesseract each); 0: one per core
