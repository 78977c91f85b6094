"""The parts of a message body, each with its role: the new text, a forwarded message, history.

Rules must see what the citizen wrote now, not the thread below it (an old "palo abbattuto"
quoted in a thank-you note is not an emergency). But a municipal office or the police that
forwards a citizen's report («si inoltra per competenza», `I:`/`Fwd:`, «Inizio messaggio
inoltrato») is sending that report: the forwarded message is the request, and its danger and
pole codes count. A reply's quoted history is context: a pole code or a ticket number there
still says which pole the reply is about («vedi sotto»), a danger there is no new one.
`split` keeps the three apart (`Parts`); `new_text` is what the rules read as the request.
The cuts are conservative: when in doubt the text stays, and when nothing would be left the
whole body is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 1_000_000  # the rules never need more; keeps every scan here cheap
_MAX_FORWARD_DEPTH = 3

_ATTRIBUTION_START = re.compile(r"^(?:il|on|le|am|el)\s", re.IGNORECASE)
_ATTRIBUTION = re.compile(
    r"^(?:il|on|le|am|el)\s.{0,300}?"
    r"(?:ha scritto|hanno scritto|wrote|a écrit|schrieb|escribió)\s*(?::\s*)?$",
    re.IGNORECASE,
)
# A date, a time or an address: what separates "Il giorno ... ha scritto:" from prose.
_ATTRIBUTION_EVIDENCE = re.compile(r"\d{1,2}[:.]\d{2}|\d{1,2}/\d{1,2}/\d{2,4}|(?:19|20)\d{2}|@")
_WROTE_END = re.compile(r"(?:ha scritto|wrote)\s*:\s*$", re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^\s*[-_=]{2,}\s*(?:messaggio originale|original message|messaggio inoltrato|"
    r"forwarded message|e-?mail originale|mail originale)[-_=\s]*$",
    re.IGNORECASE,
)
_FORWARD_INTRO = re.compile(
    r"^\s*(?:inizio messaggio inoltrato|begin forwarded message|messaggio inoltrato)\s*:\s*$",
    re.IGNORECASE,
)
# No two \s* side by side in these patterns: on a long run of spaces that backtracks
# quadratically. Every pattern here must stay linear in the line length.
_LABEL = r"^\s*(?:\*\s*)?{}\s*(?:\*\s*)?:"
_FROM = re.compile(_LABEL.format("(?:da|from|mittente)"), re.IGNORECASE)
_SENT = re.compile(_LABEL.format("(?:inviato|sent|data|date|inviato il)"), re.IGNORECASE)
_SUBJECT = re.compile(_LABEL.format("(?:oggetto|subject)"), re.IGNORECASE)
_HEADER_FIELD = re.compile(
    _LABEL.format(
        "(?:da|from|mittente|inviato|sent|data|date|a|to|cc|ccn|bcc|oggetto|subject|"
        "rispondi a|reply-to|priorità|importanza|importance|allegati|attachments)"
    ),
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*(?:_{5,}|-{5,})\s*$")
_SIGNATURE = re.compile(r"^--\s?$")
_MOBILE = re.compile(
    r"^\s*(?:inviato|inviata|spedito|sent|get|scarica|ottieni|download)\b.{0,80}"
    r"\b(?:iphone|ipad|android|outlook|samsung|galaxy|smartphone|blackberry|huawei|xiaomi|"
    r"cellulare|dispositivo|mobile|libero|yahoo|gmail|tiscali|virgilio|windows|aruba)\b.{0,40}$",
    re.IGNORECASE,
)
_SALUTATION = re.compile(
    r"^\s*(?:cordiali saluti|distinti saluti|cordialmente|saluti cordiali|saluti|"
    r"un (?:cordiale )?saluto|grazie(?:,| e| mille e)? (?:cordiali )?saluti|"
    r"best regards|kind regards|regards)[\s,.!]*$",
    re.IGNORECASE,
)
_POSTSCRIPT = re.compile(r"^\s*(?:p\.?\s?s\.?|n\.?\s?b\.?)\b", re.IGNORECASE)
_LAW = re.compile(
    r"d\.?\s?lgs|196\s*/\s*(?:20)?03|2016\s*/\s*679|\bgdpr\b|regolamento\s*\(?\s*ue|"
    r"legge\s+675",
    re.IGNORECASE,
)
_CONFIDENTIAL = re.compile(
    r"riservat|confidenzial|confidential|destinatari|per errore|in error|intended recipient|"
    r"divulgazione|diffusione",
    re.IGNORECASE,
)
_MESSAGE_WORD = re.compile(r"messaggio|comunicazione|e-?mail|message|communication", re.I)
_ECO = re.compile(
    r"(?:rispetta|pensa|salvaguarda)\w*\s+(?:l'|all')?ambiente|prima di stampare|"
    r"consider the environment|before printing",
    re.IGNORECASE,
)


# A subject that says it is a forward: "I:", "Fw:", "Fwd:", "Inoltro", also behind "R:"/"Re:".
_FORWARD_SUBJECT = re.compile(
    r"^\s*(?:(?:r|re|ris|rif|aw|sv)\s*:\s*)*(?:i|fw|fwd|tr|wg|inoltr\w*)\s*:", re.IGNORECASE
)
# The cover note of an office passing a report on: "si inoltra per competenza", "vi giro",
# "si trasmette", "quanto riferito", "per gli adempimenti". A reply's "vedi sotto" is no forward.
_FORWARD_COVER = re.compile(
    r"\b(?:inoltr\w*|trasmett\w*|trasmission\w*|(?:vi|le|ti|si)\s+gir[oa]\b|per\s+competenza|"
    r"per\s+quanto\s+di\s+competenza|per\s+(?:opportuna\s+)?conoscenza|per\s+gli\s+adempimenti|"
    r"per\s+i\s+provvedimenti|quanto\s+(?:segnalato|riferito|pervenut\w*|comunicato)|"
    r"segnalazione\s+(?:pervenut|ricevut)\w*|sotto\s+riportat\w*)",
    re.IGNORECASE,
)
_FORWARD_HEADER = re.compile(r"inoltrat|forwarded", re.IGNORECASE)


@dataclass(frozen=True)
class Parts:
    """A body cut into roles: `text` typed now, `forwarded` the message passed on (the
    request), `quoted` the history of a reply (context: pole codes and thread only)."""

    text: str
    forwarded: str = ""
    quoted: str = ""

    @property
    def request(self) -> str:
        """What the request says: the new text, then the forwarded message."""
        return "\n\n".join(part for part in (self.text, self.forwarded) if part)


def new_text(body: str, subject: str = "") -> str:
    """The request in `body`: its new text, plus the forwarded message when it is a forward;
    without quoted replies, signature and legal disclaimer."""
    return split(body, subject).request


def split(body: str, subject: str = "") -> Parts:
    """`body` cut into its new text, a forwarded message and the quoted history."""
    lines = body[:MAX_CHARS].split("\n")
    parts = _strip(lines, 0, bool(_FORWARD_SUBJECT.match(subject or "")))
    return parts if parts.request.strip() else Parts(body)


def _strip(lines: list[str], depth: int, forward: bool = False) -> Parts:
    found = find_reply_header(lines)
    head = lines if found is None else lines[: found[0]]
    quoted = [line.lstrip()[1:] for line in head if line.lstrip().startswith(">")]
    head = [line for line in head if not line.lstrip().startswith(">")]
    below = [] if found is None else lines[found[1] :]
    if found is not None and not _meaningful(head) and depth < _MAX_FORWARD_DEPTH:
        # A forward (or a reply with nothing typed above it): the earlier message is the request.
        return _strip(below, depth + 1)
    head = _tidy(_drop_signature(_drop_disclaimers(head)))
    passes_on = found is not None and _is_forward(lines, found, head, forward)
    if passes_on and depth < _MAX_FORWARD_DEPTH:
        inner = _strip(below, depth + 1)
        return Parts(head, inner.request, inner.quoted)
    history = "\n".join([*quoted, *below]).strip()
    return Parts(head, "", history)


def _is_forward(lines: list[str], found: tuple[int, int], head: str, subject: bool) -> bool:
    """A header block below a cover note passes a message on (not a reply quoting one)."""
    header = lines[found[0] : found[1]]
    if any(_FORWARD_HEADER.search(line) for line in header if _SEPARATOR.match(line)):
        return True
    if any(_FORWARD_INTRO.match(line) for line in header):
        return True
    if header and _ATTRIBUTION_START.match(header[0].lstrip()):
        return False  # "Il giorno ... ha scritto:": a reply
    return subject or bool(_FORWARD_COVER.search(head))


def find_reply_header(lines: list[str]) -> tuple[int, int] | None:
    """(first line, line after) of the first reply/forward header, or None."""
    for i, line in enumerate(lines):
        if line.lstrip().startswith(">"):
            continue
        end = _header_end(lines, i)
        if end is not None:
            return _with_rule_above(lines, i), end
    return None


def _header_end(lines: list[str], i: int) -> int | None:
    line = lines[i]
    if _SEPARATOR.match(line) or _FORWARD_INTRO.match(line):
        return _skip_fields(lines, i + 1)
    if _FROM.match(line) and _outlook_block(lines, i):
        return _skip_fields(lines, i)
    if _ATTRIBUTION_START.match(line.lstrip()):
        for size in (1, 2, 3):
            wrapped = lines[i : i + size]
            if size > 1 and not wrapped[-1].strip():
                break  # an attribution is wrapped, never split by a blank line
            joined = " ".join(part.strip() for part in wrapped)
            if _ATTRIBUTION.match(joined) and _ATTRIBUTION_EVIDENCE.search(joined):
                return i + size
    if _WROTE_END.search(line) and _next_is_quote(lines, i + 1):
        return i + 1
    return None


def _outlook_block(lines: list[str], i: int) -> bool:
    """Da:/From: followed within a few lines by Inviato:/Data: and Oggetto:/Subject:."""
    window = lines[i + 1 : i + 8]
    return any(_SENT.match(line) for line in window) and any(_SUBJECT.match(ln) for ln in window)


def _skip_fields(lines: list[str], i: int) -> int:
    """Index after a block of header fields (Da:, A:, Oggetto:...) and blank lines."""
    while i < len(lines) and (not lines[i].strip() or _is_field(lines, i)):
        i += 1
    return i


def _is_field(lines: list[str], i: int) -> bool:
    if _HEADER_FIELD.match(lines[i]):
        return True
    # A long Da:/A: value wrapped by the mailer: an indented or bracketed continuation.
    previous = lines[i - 1] if i else ""
    return bool(_HEADER_FIELD.match(previous)) and lines[i].startswith((" ", "\t", "<"))


def _with_rule_above(lines: list[str], i: int) -> int:
    """Include the "________" line Outlook puts above its header block."""
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    return j if j >= 0 and _RULE.match(lines[j]) else i


def _next_is_quote(lines: list[str], i: int) -> bool:
    for line in lines[i : i + 3]:
        if line.strip():
            return line.lstrip().startswith(">")
    return False


def _meaningful(lines: list[str]) -> bool:
    return any(line.strip() and not _MOBILE.match(line) for line in lines)


def _paragraphs(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [block for block in blocks if block]


def _drop_disclaimers(lines: list[str]) -> list[str]:
    """Remove privacy/confidentiality notices, never the first paragraph."""
    blocks = _paragraphs(lines)
    kept = blocks[:1] + [block for block in blocks[1:] if not _is_disclaimer(block)]
    if len(kept) == len(blocks):
        return lines
    return [line for block in kept for line in [*block, ""]]


def _is_disclaimer(block: list[str]) -> bool:
    """A notice has a law reference and two confidentiality phrases, or three of them.

    One phrase is not enough: a citizen may complain about privacy in words of the law.
    """
    text = " ".join(block)
    phrases = {match.lower() for match in _CONFIDENTIAL.findall(text)}
    if _LAW.search(text) and len(phrases) >= 2:
        return True
    if len(phrases) >= 3 and _MESSAGE_WORD.search(text):
        return True
    return len(block) <= 3 and bool(_ECO.search(text))


def _drop_signature(lines: list[str]) -> list[str]:
    lines = _cut_at_delimiter(lines)
    lines = _drop_trailing(lines, _MOBILE)
    return _cut_salutation(lines)


def _cut_at_delimiter(lines: list[str]) -> list[str]:
    """Cut at the "-- " signature delimiter when a short signature follows it."""
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line) and i > 0:
            rest = [x for x in lines[i + 1 :] if x.strip()]
            if len(rest) <= 15:
                return lines[:i]
    return lines


def _drop_trailing(lines: list[str], pattern: re.Pattern[str]) -> list[str]:
    end = len(lines)
    while end and (not lines[end - 1].strip() or pattern.match(lines[end - 1])):
        end -= 1
    return lines[:end]


def _cut_salutation(lines: list[str]) -> list[str]:
    """Cut "Cordiali saluti" and up to five short lines after it (a name, a phone)."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    for i in content[-6:]:
        if not _SALUTATION.match(lines[i]):
            continue
        tail = [line for line in lines[i + 1 :] if line.strip()]
        short = all(len(line.strip()) <= 80 for line in tail)
        if len(tail) <= 5 and short and not any(_POSTSCRIPT.match(line) for line in tail):
            return lines[:i]
    return lines


def _tidy(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        line = line.rstrip()
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip()
