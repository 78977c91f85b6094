"""Street names as people write them, made comparable: «P.zza Dante» is «piazza dante».

A request without a pole code often names a street («il lampione davanti al civico 12 di via
Roma»). Both the register's addresses and the request's text go through the same `words`, so
that abbreviations (p.zza, v.le, c.so, l.go), accents, apostrophes, initials («via G.
Garibaldi») and case do not matter; a street is then recognised in a text only when the
register knows it, which keeps «v. sotto» (vedi sotto) from being a street.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

ABBREVIATIONS = {
    "v": "via", "vle": "viale", "v.le": "viale", "p.zza": "piazza", "pzza": "piazza",
    "p.za": "piazza", "pza": "piazza", "p.le": "piazzale", "ple": "piazzale", "c.so": "corso",
    "cso": "corso", "l.go": "largo", "lgo": "largo", "str": "strada", "vic": "vicolo",
    "v.lo": "vicolo", "loc": "localita", "fraz": "frazione", "s": "san", "ss": "santi",
    "l.mare": "lungomare", "lgmare": "lungomare",
}  # fmt: skip
STREET_TYPES = frozenset({
    "via", "viale", "piazza", "piazzale", "piazzetta", "corso", "largo", "vicolo", "strada",
    "localita", "frazione", "lungomare", "lungotevere", "contrada", "borgo", "salita", "rampa",
    "traversa", "circonvallazione", "galleria", "vico",
})  # fmt: skip
LONGEST_NAME = 7  # words after the street type
_TOKEN = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)*\.?")
_CIVIC_WORDS = frozenset({"n", "nr", "num", "numero", "civico", "civ"})
_CIVIC = re.compile(r"(\d{1,4})[a-z]?$")
_ADDRESS = re.compile(
    r"^(?P<street>.*?)[\s,]+(?:n[r°.]*\s*)?(?P<civic>\d{1,4})(?:\s*[/-]?\s*[a-z])?\W*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class StreetMention:
    """A registered street named in a text, with the civic number given after it, if any."""

    street: str  # as `normalise_street` writes it
    civic: int | None
    raw: str  # the words of the text, for the rule hit


def words(text: str) -> list[str]:
    """Lower-case ASCII words with abbreviations spelt out and initials («G.») left out."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    out = []
    for token in _TOKEN.findall(plain.replace("'", " ").replace("’", " ")):
        bare = token.rstrip(".")
        if bare in ABBREVIATIONS or token in ABBREVIATIONS:
            out.append(ABBREVIATIONS.get(token, ABBREVIATIONS.get(bare, bare)))
        elif token.endswith(".") and len(bare) == 1 and bare.isalpha():
            continue  # an initial: «via G. Garibaldi» is «via Garibaldi»
        else:
            out.extend(part for part in bare.split(".") if part)
    return out


@lru_cache(maxsize=65536)
def normalise_street(name: str) -> str:
    """Cached: a register names each street once per pole on it."""
    return " ".join(words(name))


def split_address(address: str) -> tuple[str, int | None]:
    """A register's address as (street, civic number): «Via Roma, 12/A» -> ("via roma", 12)."""
    match = _ADDRESS.match(address.strip())
    if match:
        return normalise_street(match["street"]), int(match["civic"])
    return normalise_street(address), None


def find_streets(text: str, known: Collection[str]) -> list[StreetMention]:
    """The registered streets a text names, in order, each with the civic number given after
    it («via Roma 12», «via Roma n. 12») or before it («al civico 12 di via Roma»)."""
    tokens = words(text)
    found: list[StreetMention] = []
    i = 0
    while i < len(tokens):
        end = _longest_known(tokens, i, known) if tokens[i] in STREET_TYPES else None
        if end is None:
            i += 1
            continue
        civic, after = _civic_after(tokens, end)
        civic = civic if civic is not None else _civic_before(tokens, i)
        street = " ".join(tokens[i:end])
        found.append(StreetMention(street, civic, " ".join(tokens[i:after])))
        i = after
    return found


def _longest_known(tokens: list[str], start: int, known: Collection[str]) -> int | None:
    for end in range(min(len(tokens), start + 1 + LONGEST_NAME), start + 1, -1):
        if " ".join(tokens[start:end]) in known:
            return end
    return None


def _civic_before(tokens: list[str], start: int) -> int | None:
    """«al civico 18 di via Roma»: the number given before the street."""
    if start >= 3 and tokens[start - 1] in {"di", "in"} and tokens[start - 3] in _CIVIC_WORDS:
        match = _CIVIC.fullmatch(tokens[start - 2])
        return int(match[1]) if match else None
    return None


def _civic_after(tokens: list[str], end: int) -> tuple[int | None, int]:
    """The civic number right after a street (maybe behind «n.» or «civico»)."""
    at = end + 1 if end < len(tokens) and tokens[end] in _CIVIC_WORDS else end
    if at < len(tokens):
        match = _CIVIC.fullmatch(tokens[at])
        if match:
            return int(match[1]), at + 1
    return None, end
