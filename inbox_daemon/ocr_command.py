"""`inbox-daemon ocr FILE...`: what the read-pages stage reads from a TIFF, PDF or image, for
operators tuning a gateway (text, confidence per page, codes, QR contents). And the check that
the programs it needs are installed, for `check-config`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from inbox_daemon.config import Config
from inbox_daemon.errors import ExitCode
from inbox_daemon.read_pages import PageSettings
from ocr import Document, poppler, read_document, tesseract
from ocr.reading import pole_codes


def ocr_files(args: argparse.Namespace, config: Config) -> int:
    """Each file read as the stage reads it; exit 4 when one could not be read at all."""
    formats = config.poles.pole_formats()
    limits = PageSettings().limits
    worst = ExitCode.ok
    for path in args.files:
        try:
            doc = read_document(path.read_bytes(), limits=limits)
        except OSError as exc:
            doc = Document(error=f"file illeggibile: {exc.strerror}")
        if doc.error:
            worst = ExitCode.input_not_stored
        summary = describe(str(path), doc, pole_codes(doc, formats))
        print(json.dumps(summary, ensure_ascii=False) if args.json else as_text(summary))
    return worst


def describe(name: str, doc: Document, codes: tuple[str, ...]) -> dict[str, Any]:
    return {
        "file": name,
        "error": doc.error,
        "confidence": doc.confidence,
        "codes": list(codes),
        "qr": [label.text for label in doc.labels],
        "problems": list(doc.problems),
        "pages": [
            {
                "page": p.number,
                "confidence": p.confidence,
                "words": p.words,
                "rotated": p.rotated,
                "header": p.header,
                "qr": [label.text for label in p.labels],
                "error": p.error,
                "text": p.text,
            }
            for p in doc.pages
        ],
    }


def as_text(summary: dict[str, Any]) -> str:
    pages = len(summary["pages"])
    lines = [f"{summary['file']}: {summary['error'] or f'{pages} pagine'}"]
    for page in summary["pages"]:
        turned = f", girata di {page['rotated']}°" if page["rotated"] else ""
        lines.append(
            f"  pagina {page['page']}: confidenza {page['confidence']:.2f}, "
            f"{page['words']} parole{turned}"
        )
        lines += [f"    intestazione: {page['header']}"] * bool(page["header"])
        lines += [f"    QR: {text}" for text in page["qr"]]
        lines += [f"    errore: {page['error']}"] * bool(page["error"])
        lines += [f"    | {line}" for line in page["text"].splitlines()]
    if summary["codes"]:
        lines.append(f"  codici: {', '.join(summary['codes'])}")
    return "\n".join(lines)


def missing_programs(config: Config) -> list[str]:
    """What a fax source needs and the machine lacks: tesseract with Italian and OSD data,
    and poppler."""
    fax = [i for i, s in enumerate(config.sources) if s.channel == "fax"]
    if not fax:
        return []
    key = f"sources[{fax[0]}].channel"
    problems = []
    if tesseract.version() is None:
        problems.append(f"{key}: fax pages need tesseract (Debian: tesseract-ocr), not found")
    else:
        have = set(tesseract.languages())
        problems += [
            f"{key}: tesseract has no '{lang}' data (Debian: tesseract-ocr-{lang})"
            for lang in ("ita", "osd")
            if lang not in have
        ]
    if poppler.version() is None:
        problems.append(f"{key}: fax PDFs need poppler (Debian: poppler-utils), not found")
    return problems
