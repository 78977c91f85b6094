"""Pages from a fax or a photo, decoded and made fit for OCR: grey, square pixels, upright.

TIFF (Class F: CCITT G3 1D/2D, G4, either fill order) is decoded by Pillow through libtiff;
PDF is rendered by poppler (`poppler.py`); PNG, JPEG, HEIC (pillow-heif) and the other still
formats Pillow knows are read as photos, turned as their EXIF orientation says. Fax standard
resolution (204×98 dpi) has pixels twice as tall as wide: tesseract reads such letters as
squashed, so every page is
stretched to square pixels first.

The work is bounded before it is done: the pixel count of a page is read from its header and a
page above `Limits.max_pixels` is refused before it is decoded (a decompression bomb costs
nothing); at most `Limits.max_pages` pages are read, and `open_pages` decodes each one only
when it is taken, so that a long fax is not held in memory whole.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from ocr import poppler
from ocr.errors import OcrError
from ocr.limits import Limits

pillow_heif.register_heif_opener()  # HEIC/HEIF photos open like any image (EXIF included)

TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
# TIFF compressions a fax may carry that Pillow's libtiff does not decode, by tag value.
UNSUPPORTED_TIFF = {9: "JBIG (T.85)", 10: "JBIG2 / MRC (T.82)", 34661: "JBIG (ISO)"}
OCR_DPI = 300  # what tesseract reads best; fax pages (204 dpi across) are left at theirs
DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    struct.error,
    EOFError,
    Image.DecompressionBombError,
)


@dataclass(frozen=True)
class Page:
    """One page, decoded: grey ("L"), square pixels, at `dpi` across."""

    number: int  # 1-based
    image: Image.Image
    dpi: int
    stretched: bool = False  # made square from a fax's tall pixels


@dataclass(frozen=True)
class Split:
    """The pages of a file, and how many more it had than the limit let through."""

    pages: tuple[Page, ...]
    skipped: int = 0


@dataclass(frozen=True)
class Opened:
    """A file's pages, decoded one at a time as they are taken from `pages` (so that a fax
    read page by page holds only the pages in work), and how many are past the limit."""

    pages: Iterator[Page] = field(default_factory=lambda: iter(()))
    skipped: int = 0


def split(data: bytes, mime_type: str = "", limits: Limits | None = None) -> Split:
    """The pages of a TIFF, PDF or image file, by their content (gateways often send
    application/octet-stream). Raises OcrError with the reason for a file it cannot read."""
    opened = open_pages(data, mime_type, limits)
    return Split(tuple(opened.pages), opened.skipped)


def open_pages(data: bytes, mime_type: str = "", limits: Limits | None = None) -> Opened:
    """As `split`, each page decoded when it is taken; OcrError for a file that cannot be
    opened now, and for a page that cannot be decoded when it is taken."""
    limits = limits or Limits()
    if not data:
        raise OcrError("file vuoto")
    if data.startswith(b"%PDF"):
        return _pdf_pages(data, limits)
    return _image_pages(data, limits)


def pixels(data: bytes) -> int:
    """The pixel count of an image's first page, from its header alone; 0 when unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.width * image.height
    except DECODE_ERRORS:
        return 0


def _image_pages(data: bytes, limits: Limits) -> Opened:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise OcrError(_unknown_format(data)) from None
    except DECODE_ERRORS as exc:
        raise OcrError(f"immagine illeggibile: {exc}") from None
    frames = getattr(image, "n_frames", 1)
    return Opened(_frames(image, limits), skipped=max(frames - limits.max_pages, 0))


def _frames(image: Image.Image, limits: Limits) -> Iterator[Page]:
    for number in range(1, min(getattr(image, "n_frames", 1), limits.max_pages) + 1):
        try:
            image.seek(number - 1)
            yield _normalise(number, image, limits)
        except DECODE_ERRORS as exc:
            raise OcrError(f"pagina {number} illeggibile: {exc}") from None


def _normalise(number: int, image: Image.Image, limits: Limits) -> Page:
    """Grey, upright by EXIF, square pixels; refused before decoding when too large."""
    width, height = image.size
    if width * height > limits.max_pixels:
        raise OcrError(
            f"pagina {number}: {width}×{height} pixel, oltre il limite di {limits.max_pixels}"
        )
    x_dpi, y_dpi = _dpi(image)
    image.load()
    grey = ImageOps.exif_transpose(image).convert("L")
    if y_dpi and x_dpi and abs(x_dpi - y_dpi) / x_dpi > 0.1:
        height = round(grey.height * x_dpi / y_dpi)
        if grey.width * height > limits.max_pixels:
            raise OcrError(f"pagina {number}: troppo grande una volta resa a pixel quadrati")
        return Page(
            number, grey.resize((grey.width, height), Image.Resampling.LANCZOS), x_dpi, True
        )
    return Page(number, grey, x_dpi or OCR_DPI)


def _dpi(image: Image.Image) -> tuple[int, int]:
    """Resolution across and down; (0, 0) when the file does not say. A TIFF without its
    ResolutionUnit tag still gives the ratio of its pixels, which is all that matters here."""
    dpi = image.info.get("dpi") or image.info.get("resolution")
    if not dpi or len(dpi) != 2:
        return 0, 0
    try:
        return round(float(dpi[0])), round(float(dpi[1]))
    except (TypeError, ValueError):
        return 0, 0


def _pdf_pages(data: bytes, limits: Limits) -> Opened:
    """Each page rendered at OCR resolution, lowered for a page whose size would pass the
    pixel limit (a hostile PDF may declare a page kilometres wide)."""
    sizes = poppler.page_sizes(data, timeout_s=limits.page_timeout_s)
    return Opened(_rendered(data, sizes, limits), skipped=max(len(sizes) - limits.max_pages, 0))


def _rendered(data: bytes, sizes: list[tuple[float, float]], limits: Limits) -> Iterator[Page]:
    for number, (width_pt, height_pt) in enumerate(sizes[: limits.max_pages], start=1):
        dpi = OCR_DPI
        area = width_pt * height_pt / 72 / 72  # square inches
        if area * dpi * dpi > limits.max_pixels:
            dpi = int((limits.max_pixels / area) ** 0.5)
        if dpi < 50:
            raise OcrError(f"pagina {number}: {width_pt:.0f}×{height_pt:.0f} punti, troppo grande")
        image = poppler.render(data, number, dpi, timeout_s=limits.page_timeout_s)
        yield Page(number, image.convert("L"), dpi)


def _unknown_format(data: bytes) -> str:
    """Why Pillow could not open it, as precisely as the header tells."""
    if data[:4] in TIFF_MAGIC:
        compression = tiff_compression(data)
        if compression in UNSUPPORTED_TIFF:
            name = UNSUPPORTED_TIFF[compression]
            return f"TIFF con compressione {name} ({compression}): non supportata"
        if compression is None:
            return "TIFF non decodificabile: indice delle pagine illeggibile (file troncato?)"
        return f"TIFF non decodificabile (compressione {compression})"
    return "formato non riconosciuto (non è TIFF, PDF né un'immagine nota)"


def tiff_compression(data: bytes) -> int | None:
    """The Compression tag (259) of a TIFF's first page, read from its bytes: Pillow cannot
    say it for a file it does not open."""
    try:
        order = "<" if data[:2] == b"II" else ">"
        (offset,) = struct.unpack_from(f"{order}I", data, 4)
        (count,) = struct.unpack_from(f"{order}H", data, offset)
        for i in range(min(count, 512)):
            tag, kind, _, value = struct.unpack_from(f"{order}HHI4s", data, offset + 2 + i * 12)
            if tag == 259:
                fmt = f"{order}H" if kind == 3 else f"{order}I"
                return int(struct.unpack_from(fmt, value)[0])
    except struct.error:
        return None
    return None
