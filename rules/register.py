"""Which registered pole a code read from a request means: exact, one slip away, or none.

Codes typed by people or read by OCR are often one character off: a digit misread (8/3, 1/7),
two digits swapped, one dropped or doubled. A code that is not registered is corrected when
exactly one registered code is one edit away (a substitution, an adjacent swap, a deletion or
an insertion: the Damerau distance 1, which covers every single OCR confusion); with none or
several, the code stays as read and is reported unknown. A location is never invented.

Candidates are generated, not searched for: at each position only the characters that
registered codes of that length have there are tried, so that a code such as "IP-004512" costs
about two hundred set look-ups, whatever the size of the register.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Match = Literal["exact", "corrected", "ambiguous", "unknown"]


@dataclass(frozen=True)
class Located:
    """What a code read from a request turned out to be."""

    read: str  # the code as the rules extracted it
    code: str | None  # the registered code it means; None when unknown or ambiguous
    match: Match
    alternatives: tuple[str, ...] = ()  # for "ambiguous": the registered codes it could be


class PoleIndex:
    """The set of registered codes, with what it takes to correct a slip."""

    def __init__(self, codes: Iterable[str]) -> None:
        self.codes = frozenset(codes)
        # characters seen at each position, by code length: the only substitutions worth trying
        self._alphabet: dict[int, list[set[str]]] = {}
        for code in self.codes:
            columns = self._alphabet.setdefault(len(code), [set() for _ in code])
            for column, char in zip(columns, code, strict=True):
                column.add(char)

    def __len__(self) -> int:
        return len(self.codes)

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    def locate(self, read: str) -> Located:
        """The registered code that `read` means, and how sure that is."""
        if read in self.codes:
            return Located(read, read, "exact")
        found = sorted(self._one_edit_away(read))
        if len(found) == 1:
            return Located(read, found[0], "corrected")
        if found:
            return Located(read, None, "ambiguous", tuple(found))
        return Located(read, None, "unknown")

    def _one_edit_away(self, read: str) -> set[str]:
        near = {c for c in self._substitutions(read) if c in self.codes}
        near.update(c for c in self._swaps(read) if c in self.codes)
        near.update(c for c in self._deletions(read) if c in self.codes)
        near.update(c for c in self._insertions(read) if c in self.codes)
        return near

    def _substitutions(self, read: str) -> Iterable[str]:
        for i, column in enumerate(self._alphabet.get(len(read), ())):
            for char in column:
                if char != read[i]:
                    yield read[:i] + char + read[i + 1 :]

    @staticmethod
    def _swaps(read: str) -> Iterable[str]:
        for i in range(len(read) - 1):
            if read[i] != read[i + 1]:
                yield read[:i] + read[i + 1] + read[i] + read[i + 2 :]

    def _deletions(self, read: str) -> Iterable[str]:
        if len(read) - 1 in self._alphabet:
            for i in range(len(read)):
                yield read[:i] + read[i + 1 :]

    def _insertions(self, read: str) -> Iterable[str]:
        for i, column in enumerate(self._alphabet.get(len(read) + 1, ())):
            for char in column:
                yield read[:i] + char + read[i:]
