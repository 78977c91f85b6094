"""Pole codes: OCR confusions inside the digits, look-alike numbers, configured formats."""

from __future__ import annotations

import pytest

from rules import DEFAULT_POLE_FORMATS, PoleFormat, RulesError, find_poles
from rules.poles import ocr_tolerant


def codes(text: str, formats=DEFAULT_POLE_FORMATS) -> list[str]:
    return [hit.code for hit in find_poles(text, formats)]


OCR = [
    ("palo IP-O12345", ["IP-012345"]),  # O for 0
    ("palo IP 0O1234", ["IP-001234"]),  # o-like letter in the middle
    ("IP-2l0987 e IP-21O988", ["IP-210987", "IP-210988"]),  # l for 1
    ("lampione IP-00S512", ["IP-005512"]),  # S for 5
    ("IP-1B2345", ["IP-182345"]),  # B for 8
    ("ip|23456", ["IP-123456"]),  # | for 1
    ("ip-12 34 56", ["IP-123456"]),  # spaces inside the digits
    ("IP 123 460 spento", ["IP-123460"]),
    # the prefix too: I read as l, 1 or |; written as an acronym; closed by a dot or underscore
    ("palo lP-0O1122 spento", ["IP-001122"]),
    ("1P-004455 e |P-004456", ["IP-004455", "IP-004456"]),
    ("targhetta I.P. 330012", ["IP-330012"]),
    ("targa I P 330 013)", ["IP-330013"]),
    ("export IP_330014;IP.330015", ["IP-330014", "IP-330015"]),
]

LOOK_ALIKES = [
    ("Prot. n. 12345/2026 del 03/03/2026 - palo IP-004512", ["IP-004512"]),
    ("In data 05/03/2026 il palo IP-021212 è spento, tel. 347 5566778", ["IP-021212"]),
    ("palo IP-040066, Via Nazionale 120, 40065 Pianoro", ["IP-040066"]),
    ("pratica 2026/000123 relativa al palo IP-000145", ["IP-000145"]),
    ("protocollo 123456 e CAP 40121", []),  # no prefix, no pole
    ("VIP 123456", []),  # the prefix inside a word
    ("IP-0123456", []),  # seven digits: not a six-digit code cut short
    ("IP 051 612 233", []),  # a spaced code followed by more digits is a phone number
    ("IP-OOOOOO e ip SOSBIO", []),  # mostly letters: words, not damaged codes
    ("IP-01234", []),  # too short
    ("ZIP 123456", []),  # the tolerant prefix still needs a word boundary
    ("il P 123456", []),  # the l of a word is not an I
    ("I P 051 612 233", []),  # an acronym-spaced prefix before a phone number
]


@pytest.mark.parametrize(("text", "expected"), OCR)
def test_ocr_confusions_inside_the_digits(text, expected):
    assert codes(text) == expected


@pytest.mark.parametrize(("text", "expected"), LOOK_ALIKES)
def test_numbers_near_codes_are_not_codes(text, expected):
    assert codes(text) == expected


def test_several_codes_in_order_each_once():
    text = "pali IP-000103, IP-000101 e IP 000103 (di nuovo IP-OOO101)"
    assert codes(text) == ["IP-000103", "IP-000101"]


def test_a_hit_keeps_the_raw_text_and_its_place():
    text = "palo IP-O12345 spento"
    (hit,) = find_poles(text, DEFAULT_POLE_FORMATS)
    assert (hit.code, hit.raw, text[hit.start : hit.end]) == ("IP-012345", "IP-O12345", "IP-O12345")


def test_configured_formats_only_repair_their_digit_groups():
    zone = PoleFormat(r"(?P<zone>[A-Z]{2})-(?P<num>\d{4})", "{zone}-{num}")
    assert codes("palo BO-1O23 e SO-0001", [zone]) == ["BO-1023", "SO-0001"]


def test_several_formats_are_merged_in_text_order():
    formats = [*DEFAULT_POLE_FORMATS, PoleFormat(r"PL\.?\s*(?P<num>\d{5})", "PL{num}")]
    assert codes("PL. 12345 e IP-000001", formats) == ["PL12345", "IP-000001"]


def test_the_prefix_tolerance_leaves_regex_syntax_and_named_groups_alone():
    assert ocr_tolerant(r"(?i)IP") == r"(?i)[Il1\|]\.?[ ]?P[._]?"
    assert ocr_tolerant(r"I(?P<num>I\d)") == r"[Il1\|](?P<num>I(?-i:[0-9OoIl\|SsB]))"
    assert ocr_tolerant(r"IP?") == r"[Il1\|]\.?[ ]?P?"  # a quantifier keeps its letter
    fmt = PoleFormat(r"(?P<zone>[A-Z]{2})-(?P<num>\d{4})", "{zone}-{num}")
    assert codes("palo BO-1O23", [fmt]) == ["BO-1023"]


def test_digit_class_inside_a_character_class():
    assert ocr_tolerant(r"[\d-]{3}").startswith("[0-9")
    assert codes("X-1O-2", [PoleFormat(r"X-(?P<num>[\d-]{4})", "X{num}")]) == ["X10-2"]


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        (PoleFormat(r"IP(?P<num>\d{6}", "IP-{num}"), "bad regex"),
        (PoleFormat(r"IP(?P<num>\d{6})", "IP-{zone}-{num}"), "zone"),
    ],
)
def test_a_bad_format_is_a_rules_error(fmt, message):
    with pytest.raises(RulesError, match=message):
        find_poles("IP-000001", [fmt])


def test_classify_reads_codes_in_the_subject_too(classify):
    verdict = classify("è spento", subject="lampione IP-O00777")
    assert verdict.pole_codes == ("IP-000777",)
    assert any(h.field == "pole_codes" and h.evidence == "IP-O00777" for h in verdict.hits)
