"""Pole codes written without their prefix («palo n. 145117»): found where a pole noun introduces
them, left alone where another word claims the number or no pole is named.

blind11 showed the gap (pole-code recall 0.568: a third of its codes were written as bare
numbers); these texts are written for the feature, not taken from that batch.
"""

from __future__ import annotations

import pytest

from rules import DEFAULT_POLE_FORMATS, PoleFormat, RuleInput, classify, find_poles
from rules.pole_numbers import bare_number


def codes(text: str, formats=DEFAULT_POLE_FORMATS) -> list[str]:
    return [hit.code for hit in find_poles(text, formats)]


FOUND = [
    ("Il palo n. 230417 di via Dante è spento", ["IP-230417"]),
    ("il palo nr.230418 non si accende", ["IP-230418"]),
    ("lampione numero 230419 sempre acceso", ["IP-230419"]),
    ("i pali 230420, 230421 e 230422 lampeggiano", ["IP-230420", "IP-230421", "IP-230422"]),
    ("tra il punto luce n. 230430 e il n. 230436 è tutto buio", ["IP-230430", "IP-230436"]),
    ("Il sostegno contrassegnato dal numero 230440 è piegato", ["IP-230440"]),
    ("il primo lampione spento è il 230441, l'ultimo il 230449", ["IP-230441", "IP-230449"]),
    ("(pa1o n. 230450) ancora spento", ["IP-230450"]),  # a fax's OCR slip in the noun
    ("PALO N° 230451 SPENTO", ["IP-230451"]),
    ("Segnalazione palo 230452", ["IP-230452"]),  # a subject
    # written in full and bare in the same text: one code
    ("il palo IP-230460, sì proprio il palo 230460, è spento", ["IP-230460"]),
    ("> il lampione n. 230461 in via Roma", ["IP-230461"]),  # quoted history
    # a slash joins two codes (blind12 n038 wrote «IP-156001/156002», measured as a miss)
    ("i pali IP-230470/230471 sono spenti", ["IP-230470", "IP-230471"]),
    ("pali 230472/230473 spenti", ["IP-230472", "IP-230473"]),
]

LEFT_ALONE = [
    # another word claims the number, even beside a pole noun
    ("palo spento, prot. n. 230500 del 3 marzo", []),
    ("fattura n. 230501 relativa ai lampioni di via Po", []),
    ("il lampione è spento, tel. 230502", []),
    ("per il palo abbiamo pagato € 230503", []),
    # numbers of other widths or shapes
    ("il palo n. 23051 è spento", []),  # five digits (a CAP's width)
    ("il palo n. 2305123 è spento", []),  # seven
    ("palo della pratica 2026/230504", []),
    ("palo spento, pratica 230509/2026", []),
    ("lampioni per 230.505,00 euro", []),
    # no pole named in the sentence, or too far from it
    ("Vi scrivo dalla stanza 230506 del Comune", []),
    ("Il palo è spento. Il mio codice cliente è 230507", []),
    # a printer's serial is not a pole (office-equipment contracts use the same mailbox)
    ("la stampante (matricola 230508) non stampa", []),
]


@pytest.mark.parametrize("text, expected", FOUND)
def test_a_pole_noun_introduces_a_bare_code(text, expected):
    assert codes(text) == expected


@pytest.mark.parametrize("text, expected", LEFT_ALONE)
def test_numbers_that_are_not_pole_codes_are_left_alone(text, expected):
    assert codes(text) == expected


def test_the_width_and_form_come_from_the_configured_format():
    formats = (PoleFormat(regex=r"PL[\s-]*(?P<num>\d{5})", canonical="PL{num}"),)
    assert codes("il palo n. 12345 e il 123456", formats) == ["PL12345"]


def test_a_format_with_several_groups_gets_no_bare_matching():
    fmt = PoleFormat(regex=r"(?P<zone>[A-Z]{2})-(?P<num>\d{4})", canonical="{zone}-{num}")
    assert bare_number(fmt) is None
    assert codes("il palo n. 1234 è spento", (fmt,)) == []


def test_a_bare_code_reaches_the_verdict_from_the_text_and_from_quoted_history(ruleset):
    verdict = classify(
        RuleInput(
            "lampione spento",
            "Buongiorno, il lampione n. 230600 di via Verdi è spento da ieri.",
            "a@example.it",
            quoted="Il giorno lun ha scritto:\n> anche il palo 230601 era spento",
        ),
        ruleset,
        DEFAULT_POLE_FORMATS,
    )
    assert verdict.pole_codes == ("IP-230600", "IP-230601")
