"""Fax OCR: seconds per page and pole-code recall, for the daemon's OCR stage, raw tesseract
and OCRmyPDF, on the same generated faxes.

    .venv/bin/python bench/fax_ocr.py            # --no-ocrmypdf to leave it out
    .venv/bin/python bench/fax_ocr.py --pages-per-fax 1 --parallel-pages 1   # page by page

A report, not a test (issue 15: recall ≥ 98 % and ≥ OCRmyPDF's; time per page ≤ 1.3× raw
tesseract's). The pages are Italian requests rendered at both fax resolutions (204×196 and
204×98 dpi), each with its own pole code: upright, skewed 2.5° and -3° with speckle, upside
down, and sideways both ways (24 pages). They are sent as faxes of `--pages-per-fax` pages
(4: six faxes, each of one resolution), multi-page G4 TIFF as a gateway writes them. Each fax
is given to the three engines in turn (interleaved, so that a machine that gets busier part
way through weighs on all three alike). A page counts as recalled when the pole matcher
(`rules.poles`, the same for all three) finds its code in the text the engine gave the fax.

- daemon: `ocr.read_document` (square pixels, despeckle, lines turned to run across, OSD for
  a page fed sideways or reading poorly, deskew, QR; pages in parallel, one single-threaded
  tesseract per core) then `ocr.reading.pole_codes`;
- raw: `tesseract FILE - -l ita` on the TIFF as it is, as an operator would run it (its
  OpenMP threads as installed: `OMP_THREAD_LIMIT` removed from its environment), pages one
  after the other as tesseract reads a multi-page TIFF;
- OCRmyPDF: `ocrmypdf --rotate-pages --deskew --clean -l ita --sidecar` on the same TIFF
  (needs the `ocrmypdf` package, ghostscript and unpaper), with its own default of one job
  per core.

Seconds per page: the wall time an engine took over all the faxes, over the pages; CPU per
page: user + system time of the engine's processes and threads (the daemon's own, and its
tesseracts'), over the pages.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ocr import Limits, read_document, tesseract  # noqa: E402
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


def pages() -> list[tuple[str, bool, object, str]]:
    """The 24 pages: name, fine resolution or not, image, and the code each one carries."""
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
                made.append((f"{n:02d}-{'fine' if fine else 'std'}-{variant}", fine, image, code))
    return made


Fax = tuple[Path, list[tuple[str, str]]]  # the TIFF, and its pages' names and codes


def faxes(folder: Path, per_fax: int) -> list[Fax]:
    """The pages as faxes of `per_fax` pages, each fax of one resolution."""
    made: list[Fax] = []
    for fine in (True, False):
        same = [p for p in pages() if p[1] is fine]
        for start in range(0, len(same), per_fax):
            group = same[start : start + per_fax]
            path = folder / f"fax-{len(made) + 1:02d}-{'fine' if fine else 'std'}.tif"
            path.write_bytes(fp.tiff([image for _, _, image, _ in group], fine=fine))
            made.append((path, [(name, code) for name, _, _, code in group]))
    return made


class Daemon:
    def __init__(self, limits: Limits | None) -> None:
        self.limits = limits

    def __call__(self, path: Path, _: Path) -> set[str]:
        doc = read_document(path.read_bytes(), limits=self.limits)
        return set(pole_codes(doc, DEFAULT_POLE_FORMATS))


def raw_tesseract(path: Path, _: Path) -> set[str]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_THREAD_LIMIT"}
    done = subprocess.run(
        ["tesseract", str(path), "-", "-l", "ita"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    return {hit.code for hit in find_poles(done.stdout, DEFAULT_POLE_FORMATS)}


def ocrmypdf(path: Path, work: Path) -> set[str]:
    sidecar, out = work / f"{path.stem}.txt", work / f"{path.stem}.pdf"
    command = [sys.executable, "-m", "ocrmypdf", "-q", "-l", "ita", "--rotate-pages", "--deskew"]
    command += ["--clean", "--sidecar", str(sidecar), str(path), str(out)]
    subprocess.run(command, capture_output=True, text=True, timeout=1200)
    text = sidecar.read_text(encoding="utf-8") if sidecar.exists() else ""
    return {hit.code for hit in find_poles(text, DEFAULT_POLE_FORMATS)}


def cpu() -> float:
    """User + system seconds of this process (its threads) and of its finished children."""
    me, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


Engine = Callable[[Path, Path], set[str]]


def measure(engines: list[tuple[str, Engine]], made: list[Fax], work: Path) -> list[dict]:
    """Each fax through each engine in turn; per engine its wall and CPU time and recall."""
    totals = {name: {"wall": 0.0, "cpu": 0.0, "found": 0, "missed": []} for name, _ in engines}
    for path, expected in made:
        for name, engine in engines:
            start, cpu_start = time.perf_counter(), cpu()
            codes = engine(path, work)
            total = totals[name]
            total["wall"] += time.perf_counter() - start
            total["cpu"] += cpu() - cpu_start
            for page, code in expected:
                if code in codes:
                    total["found"] += 1
                else:
                    total["missed"].append(page)
    count = sum(len(expected) for _, expected in made)
    return [
        {
            "engine": name,
            "s_per_page": t["wall"] / count,
            "cpu_per_page": t["cpu"] / count,
            "recall": t["found"] / count,
            "missed": t["missed"],
        }
        for name, t in totals.items()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-ocrmypdf", action="store_true")
    parser.add_argument("--pages-per-fax", type=int, default=4, metavar="N")
    parser.add_argument(
        "--parallel-pages", type=int, default=0, metavar="N", help="the daemon's; 0: one per core"
    )
    args = parser.parse_args()
    limits = Limits(parallel_pages=args.parallel_pages) if args.parallel_pages else None
    engines: list[tuple[str, Engine]] = [
        ("raw tesseract", raw_tesseract),
        ("daemon OCR stage", Daemon(limits)),
    ]
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
        made = faxes(work, args.pages_per_fax)
        tesseract.version()  # pytesseract (and NumPy) imported before the clock starts
        count = sum(len(expected) for _, expected in made)
        print(
            f"{count} pages in {len(made)} faxes (G4 TIFF, 204×196 and 204×98 dpi), "
            f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}\n"
        )
        results = measure(engines, made, work)
    print(
        f"{'engine':<42} {'s/page':>7} {'×raw':>5} {'CPU s/p':>7} {'×raw':>5} {'recall':>7}  missed"
    )
    raw = results[0]
    for r in results:
        missed = ", ".join(r["missed"]) or "-"
        print(
            f"{r['engine']:<42} {r['s_per_page']:>7.2f} {r['s_per_page'] / raw['s_per_page']:>5.2f}"
            f" {r['cpu_per_page']:>7.2f} {r['cpu_per_page'] / raw['cpu_per_page']:>5.2f}"
            f" {r['recall']:>7.1%}  {missed}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
