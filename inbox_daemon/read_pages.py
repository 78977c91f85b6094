"""The "read pages" stage: a fax's pages, a photo's label and a scanned letter, read before
the rules run.

A fax exists only as pixels: the gateway's mail says who called and when (`parsers.fax`), and
the request itself is in the attached TIFF or PDF. Each such attachment is OCR'd (`ocr/`), its
text joins the message's text, so that classifying, locating and the ticket's text all see it,
and the codes of QR labels found on its pages are kept apart: a decoded code is certain, and
`PagesRead.weigh` puts it before any code read by the rules. A fax's pages are read in
parallel within the worker that analyses it, one tesseract per core (`ocr.reading`).

What cannot be read is kept and said: a broken or hostile file fails that attachment alone
(a rule hit gives the reason; the file stays stored with the ticket), and a fax whose pages
give no readable text becomes a ticket `da_classificare`, for an operator to read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import ocr
import rules
from inbox_daemon.attached_documents import is_pdf
from parsers import pdftext
from parsers.fax import PROFILES, FaxCall, Profile, generic, read_call
from parsers.message import Attachment
from rules.poles import code_from_label

if TYPE_CHECKING:  # the stage's types; `analysis` imports this module for its table
    from inbox_daemon.analysis import Analysis, Tools
    from inbox_daemon.config.sources import SourceBase

PAGE_TYPES = ("image/", "application/pdf")
FAX_FILE_ENDINGS = (".tif", ".tiff", ".pdf", ".png", ".jpg", ".jpeg")
MIN_PHOTO_PIXELS = 500 * 500  # on e-mail, smaller images are logos and signatures, not photos
SCANNED_PROBE_CHARS = 200  # of a PDF's text layer, enough to tell a scan from a document
POOR_CONFIDENCE = 0.5  # a fax read worse than this is left to an operator


@dataclass(frozen=True)
class PageSettings:
    """What the stage needs of the configuration: each fax source's gateway profile."""

    profiles: Mapping[str, Profile] = field(default_factory=dict)  # source name -> profile
    tz: tzinfo = field(default_factory=lambda: ZoneInfo("Europe/Rome"))  # a gateway's own time
    limits: ocr.Limits = field(default_factory=ocr.Limits)


def settings(sources: Iterable[SourceBase], tz: tzinfo) -> PageSettings:
    """Each source's gateway profile (`fax_profile`, and `fax_patterns` for the generic one):
    any source may bring a fax, an SMTP ingress by its recipient."""
    profiles = {}
    for source in sources:
        profile = PROFILES[source.fax_profile]
        own = source.fax_patterns
        if source.fax_profile == "generic" and own is not None:
            facts = {name: getattr(own, name) for name in generic.FACTS}
            profile = generic.configured(facts, own.time_formats)
        profiles[source.name] = profile
    return PageSettings(profiles, tz)


@dataclass(frozen=True)
class PagesRead:
    """What the stage read: each attachment's pages, and the gateway's facts of the call."""

    documents: tuple[tuple[Attachment, ocr.Document], ...] = ()
    call: FaxCall | None = None
    label_codes: tuple[str, ...] = ()  # decoded from QR labels: certain
    is_fax: bool = False

    @property
    def confidence(self) -> float | None:
        found = [doc.confidence for _, doc in self.documents if doc.confidence is not None]
        return round(sum(found) / len(found), 3) if found else None

    @property
    def page_count(self) -> int:
        return sum(len(doc.pages) + doc.skipped for _, doc in self.documents)

    def weigh(self, verdict: rules.Verdict) -> rules.Verdict:
        """The rules' verdict with the labels' codes first, the reasons pages were not read,
        and `da_classificare` for a fax whose pages could not be read well enough."""
        codes = tuple(dict.fromkeys((*self.label_codes, *verdict.pole_codes)))
        hits = [*verdict.hits, *self.hits()]
        kind = verdict.request_type
        if self.is_fax and (self.confidence or 0.0) < POOR_CONFIDENCE:
            kind = "da_classificare"
            why = "nessun testo leggibile" if self.confidence is None else "testo poco leggibile"
            hits.append(rules.Hit("ocr.poor", "request_type", kind, why))
        return replace(verdict, pole_codes=codes, hits=tuple(hits), request_type=kind)

    def hits(self) -> list[rules.Hit]:
        found = []
        for part, doc in self.documents:
            conf = "-" if doc.confidence is None else f"{doc.confidence:.2f}"
            found.append(
                rules.Hit(
                    "ocr.pages", "text", part.filename, f"{len(doc.pages)} pag., conf. {conf}"
                )
            )
            found += [rules.Hit("ocr.unreadable", "text", part.filename, p) for p in doc.problems]
        found += [
            rules.Hit("ocr.qr", "pole_codes", code, "etichetta QR") for code in self.label_codes
        ]
        return found

    def fax(self) -> dict[str, Any] | None:
        """The ticket's `fax` (DESIGN.md): number, station_id, pages, ocr_confidence."""
        if not self.is_fax:
            return None
        call = self.call or FaxCall("none")
        return {
            "number": call.number,
            "station_id": call.station_id,
            "pages": call.pages if call.pages is not None else self.page_count,
            "ocr_confidence": self.confidence,
        }


def read_pages(work: Analysis, tools: Tools) -> Analysis:
    """OCR and QR for the attachments that hold pages; a fax's gateway facts."""
    parsed = work.parsed
    assert parsed is not None
    settings = tools.pages or PageSettings()
    is_fax = work.pending.channel == "fax"
    scans = work.documents.is_scan if work.documents else None
    parts = [a for a in parsed.attachments if holds_pages(a, is_fax, scans)]
    if not parts and not is_fax:
        return work
    # each part kept without its bytes: from a worker, the analysis travels back by pipe
    documents = tuple((replace(part, payload=b""), _read(part, settings.limits)) for part in parts)
    call = _call(work, settings) if is_fax else None
    read = PagesRead(documents, call, _label_codes(documents, tools), is_fax)
    text = "\n\n".join([parsed.new_text, *(doc.text for _, doc in documents if doc.text)])
    return replace(work, parsed=replace(parsed, new_text=text.strip()), pages=read)


def holds_pages(
    part: Attachment, is_fax: bool, is_scan: Callable[[str], bool | None] | None = None
) -> bool:
    """Pages worth reading: every image or PDF of a fax; on e-mail and PEC, photos (not
    logos) and scanned PDFs (a letter scanned, or signed as `nota.pdf.p7m` and unwrapped by
    `certify`): a PDF with a text layer is not OCR'd, its text reached the rules through
    `read_documents`, whose `is_scan` says what pdftotext found (not run again here)."""
    name = part.filename.lower()
    typed = part.content_type.startswith(PAGE_TYPES)
    if is_fax:
        return typed or name.endswith(FAX_FILE_ENDINGS)
    if is_pdf(part):
        known = is_scan(part.filename) if is_scan else None
        return scanned_pdf(part) if known is None else known
    if not part.content_type.startswith("image/"):
        return False
    from ocr.pages import pixels  # Pillow: loaded by the first image, not by every start

    return pixels(part.payload) >= MIN_PHOTO_PIXELS


def scanned_pdf(part: Attachment) -> bool:
    """A PDF whose pages are pictures: no text layer for pdftotext to give."""
    if not part.payload or part.truncated:
        return False
    try:
        return not pdftext.text(part.payload, SCANNED_PROBE_CHARS).strip()
    except pdftext.PdfTextError:
        return False  # a PDF poppler cannot open gives no pages to the OCR either


def _read(part: Attachment, limits: ocr.Limits) -> ocr.Document:
    if part.truncated:
        return ocr.Document(error="allegato troncato al limite di dimensione: non letto")
    return ocr.read_document(part.payload, part.content_type, limits)


def _label_codes(
    documents: tuple[tuple[Attachment, ocr.Document], ...], tools: Tools
) -> tuple[str, ...]:
    codes = [
        code_from_label(label.text, tools.pole_formats)
        for _, doc in documents
        for label in doc.labels
    ]
    return tuple(dict.fromkeys(code for code in codes if code))


def _call(work: Analysis, settings: PageSettings) -> FaxCall | None:
    assert work.parsed is not None
    profile = settings.profiles.get(work.pending.source, PROFILES["generic"])
    return read_call(profile, work.parsed.subject, work.parsed.body_text, settings.tz)
