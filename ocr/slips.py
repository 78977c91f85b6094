"""OCR slips inside ordinary words, put right before the rules read the text: "pa1o" is
"palo", "lampione spent0" is "lampione spento".

Only words that are mostly letters are touched (at least three letters, and at least twice as
many letters as digits), so numbers, civic numbers ("12b") and pole codes ("IP-O81O45", which
`rules.poles` reads with its own tolerance) stay as they are. A digit takes the case of the
letters around it: in "PAL0" the 0 is an O, in "pa1o" the 1 is an l (in capitals, an I).
"""

from __future__ import annotations

import re

_WORD = re.compile(r"(?<![\w-])[^\W_]*[015][^\W_]*(?![\w-])")
LOWER = str.maketrans({"0": "o", "1": "l", "5": "s"})
UPPER = str.maketrans({"0": "O", "1": "I", "5": "S"})


def normalise(text: str) -> str:
    """`text` with digit-for-letter slips inside words replaced by the letters they stand for.

    >>> normalise("il pa1o 12 in via Roma 3b è spent0, codice IP-O81O45")
    'il palo 12 in via Roma 3b è spento, codice IP-O81O45'
    """
    return _WORD.sub(_mend, text)


def _mend(match: re.Match[str]) -> str:
    word = match[0]
    letters = sum(c.isalpha() for c in word)
    digits = sum(c.isdigit() for c in word)
    if letters < 3 or letters < 2 * digits:
        return word
    upper = sum(c.isupper() for c in word) * 2 > letters
    return word.translate(UPPER if upper else LOWER)
