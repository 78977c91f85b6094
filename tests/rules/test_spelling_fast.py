"""The spelling table's fast path on ASCII text (`rules.spelling._variants`, found on the text
lower-cased, case-sensitive) maps exactly what the case-insensitive substitution maps."""

from __future__ import annotations

import pytest

from rules import spelling


@pytest.mark.parametrize(
    "text",
    [
        "il palu e spentu",
        "IL PALU E SPENTU, Lampiune",
        "xpalu palux palu_ _palu palu1 1palu palu'",
        "nun s'allumina chiu",
        "scupertu scuperto scuperti scuperta",
        "",
        "nessuna parola del dialetto",
    ],
)
def test_the_fast_path_maps_what_the_substitution_maps(text):
    table = spelling.words()
    expected = spelling._pattern().sub(lambda m: table.get(m.group().lower(), m.group()), text)
    assert spelling._variants(text, table) == expected
