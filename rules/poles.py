"""Pole codes in free text, typed by hand or read by OCR from a fax.

Formats come from the configuration (`[[poles.formats]]`): a regex with a named group `num` and
a canonical template such as "IP-{num}". Faxes turn 0 into O and 1 into l, so every `\\d` of the
configured regex is rewritten into a class that also admits the letters OCR confuses with digits;
the captured groups are mapped back to digits before the template is applied. A `\\d{n}` also
tolerates single spaces between its digits ("IP 123 456"), but such a spaced code is refused
when another digit group follows, because that is how phone and protocol numbers look.

The literal prefix outside the named groups is made as tolerant: an "I" admits the l, 1 and |
that OCR and hurried typists put for it ("lP-O81O45"), and a run of literal letters may be
written as an acronym, with a dot or a space between its letters and a dot or an underscore after
them ("I.P. 071233", "I P 071 233", "IP_081901").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qs, unquote, urlsplit

from rules.engine import RulesError
from rules.pole_numbers import find_bare
from rules.types import PoleFormat

DEFAULT_POLE_FORMATS: tuple[PoleFormat, ...] = (
    PoleFormat(regex=r"IP[\s\-–/]*(?P<num>\d{6})", canonical="IP-{num}"),
)

OCR_DIGITS = {"O": "0", "o": "0", "I": "1", "l": "1", "|": "1", "S": "5", "s": "5", "B": "8"}
OCR_LETTERS = {"I": "Il1|"}  # prefix letters and what OCR reads for them (matched ignoring case)
ACRONYM_GAP = r"\.?[ ]?"  # between the letters of a literal prefix: "I.P", "I P"
ACRONYM_END = r"[._]?"  # after them: "I.P.", "IP_"
QUANTIFIERS = frozenset("?*+{")
_CLASS_BODY = "0-9" + re.escape("".join(OCR_DIGITS))
DIGIT = f"(?-i:[{_CLASS_BODY}])"  # case-sensitive inside: "b" is not an 8
_TO_DIGITS = str.maketrans({**OCR_DIGITS, " ": None})
_TOKEN = re.compile(  # just enough regex syntax to find digits, classes and groups
    r"(?P<cls>\[\^?\]?(?:\\.|[^\]\\])*\])"  # a character class
    r"|(?P<digit>\\d)(?:\{(?P<count>\d+)\})?"  # a digit, maybe with an exact count
    r"|\\."  # any other escape
    r"|\(\?P<(?P<group>\w+)>"  # a named group opens
    r"|(?P<special>\(\?(?:P=\w+\)|[aiLmsux-]+[:)]|#[^)]*\)|[:=!]|<[=!]))"  # flags, look-arounds
    r"|.",
    re.DOTALL,
)
_FOLLOWING_DIGITS = re.compile(r"[ .]?\d")


@dataclass(frozen=True)
class PoleHit:
    """A pole code found in text: canonical code, the text as written, and where."""

    code: str
    raw: str
    start: int
    end: int


def find_poles(text: str, formats: Sequence[PoleFormat]) -> list[PoleHit]:
    """Pole codes in order of appearance, each canonical code once.

    >>> [h.code for h in find_poles("pali IP-O12345 e ip 000102", DEFAULT_POLE_FORMATS)]
    ['IP-012345', 'IP-000102']
    """
    hits = []
    for fmt in formats:
        pattern = compile_format(fmt)
        for match in pattern.finditer(text):
            hit = _accept(match, fmt, text)
            if hit is not None:
                hits.append(hit)
        hits.extend(PoleHit(*found) for found in find_bare(text, fmt))
    hits.sort(key=lambda h: h.start)
    seen: set[str] = set()
    return [h for h in hits if not (h.code in seen or seen.add(h.code))]


@lru_cache(maxsize=64)
def compile_format(fmt: PoleFormat) -> re.Pattern[str]:
    """The configured regex made OCR-tolerant, case-insensitive and bounded on the left.

    The left boundary keeps "VIP 123456" out; a trailing digit is refused so that a longer number
    is not cut into a code. Raises RulesError for a bad regex or a template naming a missing group.
    """
    try:
        pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{ocr_tolerant(fmt.regex)})(?!\d)", re.IGNORECASE)
    except re.error as exc:
        raise RulesError(f"pole format {fmt.regex!r}: bad regex: {exc}") from None
    fields = set(re.findall(r"\{(\w+)", fmt.canonical))
    missing = fields - set(pattern.groupindex)
    if missing:
        raise RulesError(
            f"pole format {fmt.regex!r}: canonical {fmt.canonical!r} names groups the regex "
            f"lacks: {', '.join(sorted(missing))}"
        )
    return pattern


def ocr_tolerant(regex: str) -> str:
    r"""Rewrite each `\d` into the OCR digit class; `\d{n}` also admits single inner spaces.

    Literal letters outside named groups become an OCR-tolerant acronym (see the module doc).
    """
    tokens = list(_TOKEN.finditer(regex))
    out = []
    depth = 0  # open groups; `named` holds the depths where a named group opened
    named: list[int] = []
    for i, token in enumerate(tokens):
        if token["group"] or token["special"] or token[0] == "(":
            depth += 1
            if token["group"]:
                named.append(depth)
            out.append(token[0])
            continue
        if token[0] == ")":
            if named and named[-1] == depth:
                named.pop()
            depth = max(depth - 1, 0)
            out.append(token[0])
            continue
        if named or not _is_letter(token):
            out.append(_tolerant(token))
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        prev = tokens[i - 1] if i else None
        out.append(_letter(token[0]))
        if nxt is not None and nxt[0] in QUANTIFIERS:
            continue  # a quantified letter keeps its quantifier
        if nxt is not None and _is_letter(nxt):
            out.append(ACRONYM_GAP)
        elif prev is not None and _is_letter(prev):
            out.append(ACRONYM_END)
    return "".join(out)


def _is_letter(token: re.Match[str]) -> bool:
    char = token[0]
    return len(char) == 1 and char.isascii() and char.isalpha()


def _letter(char: str) -> str:
    similar = OCR_LETTERS.get(char.upper())
    return f"[{re.escape(similar)}]" if similar else char


def _tolerant(token: re.Match[str]) -> str:
    if token["cls"]:
        return re.sub(r"\\.", lambda e: _CLASS_BODY if e[0] == r"\d" else e[0], token[0])
    if not token["digit"]:
        return token[0]
    count = int(token["count"] or 1)
    return DIGIT if count == 1 else f"{DIGIT}(?:[ ]?{DIGIT}){{{count - 1}}}"


def _accept(match: re.Match[str], fmt: PoleFormat, text: str) -> PoleHit | None:
    """The canonical hit, or None when the match looks more like a word or a longer number."""
    groups = match.groupdict(default="")
    for name in digit_groups(fmt.regex) & set(groups):
        value = groups[name]
        digits = value.translate(_TO_DIGITS)
        if sum(c.isdigit() for c in value) * 2 < len(digits):  # mostly letters: a word
            return None
        if " " in value and _FOLLOWING_DIGITS.match(text, match.end()):
            return None
        groups[name] = digits
    return PoleHit(fmt.canonical.format(**groups), match.group(0), *match.span())


@lru_cache(maxsize=64)
def digit_groups(regex: str) -> frozenset[str]:
    r"""Names of the groups whose sub-pattern holds a `\d`: only those are mapped to digits."""
    names: set[str] = set()
    open_groups: list[str] = []
    for token in _TOKEN.finditer(regex):
        if token["digit"] or (token["cls"] and r"\d" in token[0]):
            names.update(name for name in open_groups if name)
        elif token["group"] or token[0] == "(":
            open_groups.append(token["group"] or "")
        elif token[0] == ")" and open_groups:
            open_groups.pop()
    return frozenset(names)


def code_from_label(content: str, formats: Sequence[PoleFormat]) -> str | None:
    """The pole code a QR label carries, whether bare, in a URL (a query parameter or the
    last path segment) or in a `mailto:` link (its subject, then its body).

    >>> code_from_label("https://cc.example.it/p/IP-004512?src=qr", DEFAULT_POLE_FORMATS)
    'IP-004512'
    >>> code_from_label("mailto:cc@example.it?subject=Palo%20IP-000102", DEFAULT_POLE_FORMATS)
    'IP-000102'
    """
    for part in _label_parts(content.strip()):
        hits = find_poles(part, formats)
        if hits:
            return hits[0].code
    return None


def _label_parts(content: str) -> list[str]:
    """Where a code may sit in a label's content, most specific first."""
    parsed = urlsplit(content)
    if parsed.scheme.lower() == "mailto":
        query = parse_qs(parsed.query)
        return [*query.get("subject", []), *query.get("body", []), unquote(parsed.path)]
    if parsed.scheme.lower() in {"http", "https"}:
        values = [v for vs in parse_qs(parsed.query).values() for v in vs]
        segments = [unquote(s) for s in parsed.path.split("/") if s]
        return [*values, *reversed(segments)]
    return [content]
