"""A citizen's photo: bounded before it is decoded, stored without its metadata.

A phone's JPEG carries EXIF: the place it was taken (GPS), the device, the time. None of it
is ours to keep, so the picture is decoded and encoded again as a plain JPEG (turned upright
first, as its EXIF orientation said), which writes no metadata. The size in pixels is read
from the header before anything is decoded: a small file that would decode into gigabytes
(a "decompression bomb") is refused at that point.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = ("JPEG", "PNG", "WEBP", "GIF")  # what phones and browsers send; no plug-ins
MAX_SIDE = 2560  # stored pictures are scaled down to this: enough to see a pole's state


class PhotoError(ValueError):
    """Why a photo is refused, in Italian for the page."""


@dataclass(frozen=True)
class Photo:
    jpeg: bytes
    width: int
    height: int


def clean(data: bytes, max_pixels: int) -> Photo:
    """`data` as a metadata-free JPEG; PhotoError when it is not a picture we take."""
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            width, height = image.size
            if width * height > max_pixels:
                megapixels = max_pixels / 1_000_000
                raise PhotoError(f"La foto è troppo grande (al massimo {megapixels:g} megapixel).")
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise PhotoError("Il file non è una foto leggibile (JPEG, PNG, WebP o GIF).") from None
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, PhotoError):
            raise
        raise PhotoError("La foto è danneggiata o incompleta.") from None
    picture = upright.convert("RGB")
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85, optimize=True)
    return Photo(out.getvalue(), picture.width, picture.height)
