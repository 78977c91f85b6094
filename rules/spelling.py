"""Dialect and misspelt words, and OCR slips inside words, mapped to standard Italian.

The rules are written in standard Italian; people write «lampiune», «palu», «nun s'allumina»,
«scuperto», and a fax's OCR reads «spent0» or «pa1o». One table (`tables/spelling.toml`) maps
them before any rule runs, so no rule repeats the variants. The text keeps its length (a
shorter standard form is padded with spaces) so that a match's span is still the span of what
was written. Pure and linear: one alternation of literal words, two single-character classes.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from rules.prefilter import trie_regex

TABLE = Path(__file__).parent / "tables" / "spelling.toml"
# OCR slips inside a word: a zero or a one between letters («spent0», «pa1o», «1ampione»):
# `(?<=[a-z])0(?=[a-z])|(?<=[a-z]{2})0\b` and `(?<=[a-z])1(?=[a-z])|\b1(?=ampion|uce\b|uci\b)`,
# written to open with their digit (what comes before it read behind it) so that a search
# jumps from one digit to the next instead of trying a lookbehind at every character
_OCR_ZERO = re.compile(r"0(?:(?<=[a-z]0)(?=[a-z])|(?<=[a-z]{2}0)\b)", re.IGNORECASE | re.ASCII)
_OCR_ONE = re.compile(
    r"1(?:(?<=[a-z]1)(?=[a-z])|(?<=\b1)(?=ampion|uce\b|uci\b))", re.IGNORECASE | re.ASCII
)


@cache
def words(path: Path = TABLE) -> Mapping[str, str]:
    """The table: variant -> standard form, padded to the variant's length."""
    with open(path, "rb") as handle:
        table = tomllib.load(handle)["words"]
    out = {}
    for variant, standard in table.items():
        if len(standard) > len(variant):
            raise ValueError(f"{path}: {variant!r} -> {standard!r} is longer than the word")
        out[variant.lower()] = standard.lower().ljust(len(variant))
    return out


@cache
def _pattern(path: Path = TABLE) -> re.Pattern[str]:
    variants = sorted(words(path), key=len, reverse=True)
    alternation = "|".join(re.escape(v) for v in variants)
    return re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE | re.ASCII)


@cache
def _lower_pattern(path: Path = TABLE) -> re.Pattern[str]:
    r"""The variants for lower-cased ASCII text, case-sensitive and without the lookbehind, so
    that Python's engine skips to the characters a variant begins with (`_variants`); as a
    trie (`rules.prefilter.trie_regex`), one character tested per branch, not every variant.
    The order of the alternatives does not matter: the variants are letters and a match ends
    where the word does (`(?!\w)`), so at most one of them matches at a place."""
    return re.compile(rf"(?:{trie_regex(words(path))})(?!\w)", re.ASCII)


def _variants(folded: str, table: Mapping[str, str]) -> str:
    """`_pattern().sub` on ASCII text, found on it lower-cased. A match that follows a letter
    is no word of its own (the lookbehind), and none begins inside it either: every variant is
    made of letters, so the next one is looked for after it, where `re.sub` would find it."""
    lowered = folded.lower()
    parts, last = [], 0
    for match in _lower_pattern().finditer(lowered):
        start = match.start()
        if start and (lowered[start - 1].isalnum() or lowered[start - 1] == "_"):
            continue
        parts += (folded[last:start], table[match.group()])
        last = match.end()
    return "".join(parts) + folded[last:] if parts else folded


@cache
def _letters_only(path: Path = TABLE) -> bool:
    return all(variant.isascii() and variant.isalpha() for variant in words(path))


def normalise(folded: str) -> str:
    """`folded` (see `engine.fold`) with dialect, misspellings and OCR slips mapped; same length."""
    table = words()
    if folded.isascii() and _letters_only():
        text = _variants(folded, table)
    else:
        text = _pattern().sub(lambda m: table.get(m.group().lower(), m.group()), folded)
    if "0" in text:
        text = _OCR_ZERO.sub("o", text)
    if "1" in text:
        text = _OCR_ONE.sub("l", text)
    return text
