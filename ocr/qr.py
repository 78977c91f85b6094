"""QR codes and barcodes on a page, decoded with zxing-cpp: what a pole's label carries."""

from __future__ import annotations

from dataclasses import dataclass

import zxingcpp
from PIL import Image


@dataclass(frozen=True)
class Label:
    """One decoded symbol: its format ("QRCode", "Code128", …) and its text."""

    format: str
    text: str


def decode(image: Image.Image) -> tuple[Label, ...]:
    """Every symbol zxing-cpp finds on the page, in its order, each text once."""
    found = zxingcpp.read_barcodes(image)
    seen: set[str] = set()
    labels = []
    for symbol in found:
        if symbol.valid and symbol.text and symbol.text not in seen:
            seen.add(symbol.text)
            labels.append(Label(str(symbol.format).rsplit(".", 1)[-1], symbol.text))
    return tuple(labels)
