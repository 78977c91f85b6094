"""Fax OCR: seconds per page and pole-code recall, for the daemon's OCR stage, raw tesseract
and OCRmyPDF, on the same generated fax pages.

    .venv/bin/python bench/fax_ocr.py            # --no-ocrmypdf to leave it out

A report, not a test (issue 15: recall ≥ 98 % and ≥ OCRmyPDF's; time per page ≤ 1.3× raw
tesseract's). The pages are Italian requests rendered at both fax resolutions (204×196 and
204×98 dpi) and saved as G4 TIFF as a gateway does, each with its own pole code: upright,
skewed 2.5° and -3° with speckle, upside down, and sideways both ways (24 pages). For each
engine, a page counts as recalled when the pole matcher (`rules.poles`, the same for all
three) finds its code in the text the engine gave.

- daemon: `ocr.read_document` (square pixels, despeckle, deskew, OSD when a page reads poorly,
  QR) then `ocr.reading.pole_codes`;
- raw: `tesseract FILE - -l ita` on the TIFF as it is;
- OCRmyPDF: `ocrmypdf --rotate-pages --deskew --clean -l ita --sidecar` on the same TIFF
  (needs the `ocrmypdf` package, ghostscript and unpaper).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ocr import read_document  # noqa: E402
from ocr.reading import pole_codes  # noqa: E402
from rules import DEFAULT_POLE_FORMATS, find_poles  # noqa: E402
from tests.ocr import faxpages as fp  # noqa: E402

VARIANTS = {
    "upright": {},
    "skew+2.5": {"skew": 2.5, "speckle": 2000},
    "skew-3": {"skew": -3.0, "speckle": 3000},
    "upside-down": {"turn": 180},
    "sideways-90": {"turn": 90},
    "sideways-270": {"turn": 270},
}
TEXTS = (
    ["Spett.le Servizio Illuminazione,", "il lampione in via Garibaldi 12 è spento.",
     "Il palo riporta il codice {code}.", "Distinti saluti, Parrocchia San Marco"],
    ["Alla cortese attenzione dell'ufficio tecnico,", "segnaliamo il palo {code} piegato",
     "davanti alla scuola media, con fili scoperti.", "Il Dirigente scolastico"],
)  # fmt: skip


def pages(folder: Path) -> list[tuple[Path, str]]:
    """The 24 TIFF files and the code each one carries."""
    made = []
    n = 0
    for fine in (True, False):
        for variant, options in VARIANTS.items():
            for text in TEXTS:
                n += 1
                code = f"IP-{100_000 + n * 7919 % 900_000:06d}"
                image = fp.page(
                    [line.format(code=code) for line in text], header=fp.HEADER, **options
                )
                path = folder / f"{n:02d}-{'fine' if fine else 'std'}-{variant}.tif"
                path.write_bytes(fp.tiff([image], fine=fine))
                made.append((path, code))
    return made


def daemon(path: Path, _: Path) -> set[str]:
    return set(pole_codes(read_document(path.read_bytes()), DEFAULT_POLE_FORMATS))


def raw_tesseract(path: Path, _: Path) -> set[str]:
    done = subprocess.run(
        ["tesseract", str(path), "-", "-l", "ita"], capture_output=True, text=True, timeout=300
    )
    return {hit.code for hit in find_poles(done.stdout, DEFAULT_POLE_FORMATS)}


def ocrmypdf(path: Path, work: Path) -> set[str]:
    sidecar, out = work / f"{path.stem}.txt", work / f"{path.stem}.pdf"
    command = [sys.executable, "-m", "ocrmypdf", "-q", "-l", "ita", "--rotate-pages", "--deskew"]
    command += ["--clean", "--sidecar", str(sidecar), str(path), str(out)]
    subprocess.run(command, capture_output=True, text=True, timeout=600)
    text = sidecar.read_text(encoding="utf-8") if sidecar.exists() else ""
    return {hit.code for hit in find_poles(text, DEFAULT_POLE_FORMATS)}


def measure(
    name: str, engine: Callable[[Path, Path], set[str]], made: list[tuple[Path, str]], work: Path
) -> dict[str, object]:
    seconds, found, missed = [], 0, []
    for path, code in made:
        start = time.perf_counter()
        codes = engine(path, work)
        seconds.append(time.perf_counter() - start)
        if code in codes:
            found += 1
        else:
            missed.append(path.stem)
    return {
        "engine": name,
        "s_per_page": statistics.mean(seconds),
        "recall": found / len(made),
        "missed": missed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-ocrmypdf", action="store_true")
    args = parser.parse_args()
    engines = [("raw tesseract", raw_tesseract), ("daemon OCR stage", daemon)]
    has_ocrmypdf = shutil.which("gs") and shutil.which("unpaper")
    if not args.no_ocrmypdf:
        try:
            import ocrmypdf as _  # noqa: F401
        except ImportError:
            has_ocrmypdf = False
        if has_ocrmypdf:
            engines.append(("OCRmyPDF --rotate-pages --deskew --clean", ocrmypdf))
        else:
            print("OCRmyPDF left out: needs the ocrmypdf package, ghostscript and unpaper")
    with tempfile.TemporaryDirectory(prefix="fax-ocr-bench-") as tmp:
        work = Path(tmp)
        made = pages(work)
        print(f"{len(made)} pages (G4 TIFF, 204×196 and 204×98 dpi)\n")
        print(f"{'engine':<42} {'s/page':>7} {'×raw':>5} {'recall':>7}  missed", flush=True)
        raw = None
        for name, engine in engines:  # each line as soon as its engine is done
            r = measure(name, engine, made, work)
            raw = raw or (r["s_per_page"] if engine is raw_tesseract else None)
            ratio = f"{r['s_per_page'] / raw:>5.2f}" if raw else "    -"
            missed = ", ".join(r["missed"]) or "-"
            print(
                f"{name:<42} {r['s_per_page']:>7.2f} {ratio} {r['recall']:>7.1%}  {missed}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
