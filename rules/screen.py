"""Screens: one regex per rule that says at once when none of its patterns can match.

Most rules match nothing in most messages. Trying a rule's patterns one by one costs one scan
of the text each; a screen (the patterns joined into one alternation) settles the common
negative case in a single scan, and the patterns run one by one only when it matches. A screen
must never miss: where the patterns cannot be joined without changing their meaning, there is
none, and the rule is tried as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

Patterns = tuple[re.Pattern[str], ...]

_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")


@lru_cache(maxsize=1024)
def case_insensitive_screen(patterns: Patterns) -> re.Pattern[str] | None:
    """One regex that matches wherever any of `patterns` does, to rule a rule out fast.

    Most rules match nothing in most messages; this settles those with a single scan. None
    when the patterns cannot be joined safely (back-references would be renumbered, group
    names may clash), and the patterns are then tried one by one as usual.
    """
    if len(patterns) < 2 or any(_BACKREFERENCE.search(p.pattern) for p in patterns):
        return None
    try:
        return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.IGNORECASE)
    except re.error:
        return None


@dataclass(frozen=True)
class Screens:
    """The two screens of one rule's patterns, built once with the rule (`Rule.screens`).

    Looked up per message through `lru_cache`, they cost a hash of every pattern's compiled
    code on each call, as much as many a scan; held by the rule, they cost an attribute.
    """

    lower: re.Pattern[str] | None  # for lower-cased ASCII text (`lower_screen`)
    any_case: re.Pattern[str] | None  # for any text (`case_insensitive_screen`)
    # `lower`, or the one pattern's twin: tried at the places where a match may begin
    anchored: re.Pattern[str] | None = None

    @classmethod
    def of(cls, patterns: Patterns) -> Screens:
        lower = lower_screen(patterns)
        anchored = lower_twin(patterns[0]) if len(patterns) == 1 else lower
        return cls(lower, case_insensitive_screen(patterns), anchored)

    def earliest(self, folded: str, lowered: str | None) -> int | None:
        """Where the first match of any of the patterns starts in `folded` (`lowered`: the
        same text lower-cased, when it is ASCII), or None when none matches anywhere: one
        scan instead of one per pattern. 0 when there is no screen: anywhere, maybe.

        The screen is an alternation, so its first match starts where the earliest match of
        any of its patterns does: the patterns need not be searched before it.
        """
        if lowered is not None and self.lower is not None:
            found = self.lower.search(lowered)
        elif self.any_case is not None:
            found = self.any_case.search(folded)
        else:
            return 0
        return None if found is None else found.start()


_NON_LETTER_ESCAPE = re.compile(r"\\[xuUN0-7]")


@lru_cache(maxsize=1024)
def lower_screen(patterns: Patterns) -> re.Pattern[str] | None:
    """`case_insensitive_screen` made case-sensitive, for lower-cased ASCII text: twice as fast.

    Case-insensitive matching costs Python's regex engine its fast literal search. On ASCII
    text, lower-casing the text and the pattern's own letters (never an escape such as `\\S`)
    matches exactly where the case-insensitive pattern does. Escapes that name a character by
    code (`\\x41`) could name an upper-case letter: such patterns get no lower-case screen.
    """
    screen = case_insensitive_screen(patterns)
    if screen is None or _NON_LETTER_ESCAPE.search(screen.pattern):
        return None
    try:
        return re.compile(lower_letters(screen.pattern))
    except re.error:
        return None


_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux-]")


@lru_cache(maxsize=4096)
def lower_twin(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """`pattern` for lower-cased ASCII text: its letters lower-cased, matched case-sensitively,
    so that Python's engine keeps its fast literal search. It matches there exactly where
    `pattern` matches the text before lower-casing. None where that cannot be promised: an
    escape naming a character by code, or inline flags (`(?-i:...)` would widen)."""
    source = pattern.pattern
    if _NON_LETTER_ESCAPE.search(source) or _INLINE_FLAGS.search(source):
        return None
    try:
        return re.compile(lower_letters(source), pattern.flags & ~re.IGNORECASE)
    except re.error:
        return None


def lower_letters(pattern: str) -> str:
    """`pattern` with its letters lower-cased, escape sequences (`\\S`, `\\B`…) left alone."""
    parts = re.split(r"(\\.)", pattern, flags=re.DOTALL)
    return "".join(part if part.startswith("\\") else part.lower() for part in parts)
