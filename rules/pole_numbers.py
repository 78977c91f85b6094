"""Pole codes written without their prefix: «palo n. 145117», «i pali 141700, 141701 e 141702».

Citizens read the number off the label and leave the letters out. A bare number is taken for a
code only where the text says it is one: after a word that names a pole or a light point
(«palo», «lampione», «punto luce», OCR slips such as «pa1o» included) in the same sentence,
within a short reach, so that a list of numbers after one noun counts too. «matricola» and
«targhetta» alone are not enough: printers and meters have them too (office-equipment
contracts). A number that its own word claims for something else («prot. n.», «fattura»,
«tel.», «€») is left alone, and so is any number wider or narrower than the code's digits.

The width and the canonical form come from the configured format, which must have exactly one
group of fixed-width digits (`IP[\\s-]*(?P<num>\\d{6})` → six digits, "IP-{num}"); a format with
several groups cannot be told from a bare number and gets no bare matching. A code found this way
is the same string as one written in full, so the register's lookup and correction treat it alike.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rules.types import PoleFormat

_L, _O = "[l1I|]", "[o0]"  # letters OCR and hurried typists swap with digits inside the nouns
POLE_NOUNS = (
    rf"pa{_L}[io]",  # palo, pali
    rf"pa{_L}ett[oi]",
    rf"{_L}ampi{_O}n(?:e|i|cin[oi])",
    rf"punt[oi][ -]+{_L}uce",
    rf"s{_O}stegn[oi]",
    rf"cande{_L}abr[oi]",
    r"corp[oi]\s+i[l1][l1]uminant[ei]",
)
_NOUN = re.compile(rf"(?<![^\W\d_])(?:{'|'.join(POLE_NOUNS)})(?![^\W\d_])", re.IGNORECASE)
# how far after the noun a number may stand: «il palo che si trova davanti al civico 3 è il …»
REACH = 120
# a sentence ends at . ! ? followed by a capital, or at a blank line; «n. 145117» does not end one
_SENTENCE_END = re.compile(r"[.!?;](?=\s+[A-ZÀ-Ý])|\n\s*\n")
# words that claim the number after them for something else than a pole
CLAIMANTS = (
    "prot", "protocollo", "pratica", "fattura", "fatt", "bolletta", "ordine", "contratto",
    "tel", "telefono", "cell", "cellulare", "fax", "ticket", "pos", "iban", "cap", "euro",
    "rif", "riferimento", "cig", "cup", "determina", "delibera", "ordinanza", "verbale",
    "sinistro", "polizza", "targa", "codice fiscale", "partita iva", r"p\.iva",
)  # fmt: skip
_NUMBER_WORDS = r"(?:n|nr|num|numero|n\.ro|n°|nº|no|#|:)"
_CLAIMED = re.compile(
    rf"(?:(?<![^\W\d_])(?:{'|'.join(CLAIMANTS)})|€)\.?\s*(?:{_NUMBER_WORDS}\.?\s*)*$", re.IGNORECASE
)
_FIXED_DIGITS = re.compile(r"\(\?P<(?P<name>\w+)>\\d\{(?P<width>\d+)\}\)")


@lru_cache(maxsize=64)
def bare_number(fmt: PoleFormat) -> tuple[re.Pattern[str], str, re.Pattern[str]] | None:
    """The pattern of the format's digits written alone, the group's name, and a run of that
    many digits (which every match holds: a text without one is not read further); None when
    the format cannot be written without its prefix (no single fixed-width digit group)."""
    groups = list(_FIXED_DIGITS.finditer(fmt.regex))
    fields = set(re.findall(r"\{(\w+)", fmt.canonical))
    if len(groups) != 1 or fields != {groups[0]["name"]}:
        return None
    width, name = int(groups[0]["width"]), groups[0]["name"]
    # a slash may join two codes («156001/156002», checked in `_joined`), not a year to a number
    slash = rf"/(?!\d{{{width}}}(?!\d))"
    number = re.compile(rf"(?<![\w-])(?<!\d[.,])\d{{{width}}}(?!\d|[.,-]\d|{slash})")
    return number, name, re.compile(rf"\d{{{width}}}")


def find_bare(text: str, fmt: PoleFormat) -> list[tuple[str, str, int, int]]:
    """(code, raw, start, end) of each bare number a pole noun introduces, in order.

    >>> [c for c, *_ in find_bare("i pali n. 141700, 141701 e 141702 di via Roma",
    ...  PoleFormat(r"IP[\\s-]*(?P<num>\\d{6})", "IP-{num}"))]
    ['IP-141700', 'IP-141701', 'IP-141702']
    """
    compiled = bare_number(fmt)
    if compiled is None:
        return []
    number, name, run = compiled
    if run.search(text) is None:
        return []  # most messages: no number of the code's width, no noun need be looked for
    return after_nouns(text, fmt, number, name)


def after_nouns(
    text: str, fmt: PoleFormat, number: re.Pattern[str], name: str
) -> list[tuple[str, str, int, int]]:
    """`find_bare`'s reading: the numbers (`number`) a pole noun introduces."""
    found: list[tuple[str, str, int, int]] = []
    reached = 0  # numbers before this offset were already looked at from an earlier noun
    for noun in _NOUN.finditer(text):
        start = max(noun.end(), reached)
        end = min(len(text), noun.end() + REACH)
        stop = _SENTENCE_END.search(text, noun.end(), end)
        end = stop.start() if stop else end
        for match in number.finditer(text, start, end):
            if text[match.start() - 1 : match.start()] == "/" and not _joined(text, match):
                continue
            if not _CLAIMED.search(text[max(0, match.start() - 30) : match.start()]):
                found.append((fmt.canonical.format(**{name: match[0]}), match[0], *match.span()))
        reached = max(reached, end)
    return found


def _joined(text: str, match: re.Match[str]) -> bool:
    """Whether the slash before `match` joins it to a number of its own width: «156001/156002»
    are two codes, «2026/156002» a protocol number."""
    width, at = len(match[0]), match.start() - 1
    before = text[max(0, at - width) : at]
    return (
        len(before) == width
        and before.isdigit()
        and not text[at - width - 1 : at - width].isdigit()
    )
