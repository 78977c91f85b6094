"""Locating a code read from a request in a register of a few thousand poles: exact, one slip
corrected, two slips or several candidates left as read."""

from __future__ import annotations

import random

import pytest

from rules.register import PoleIndex

RNG = random.Random(20261203)
CODES = sorted({f"IP-{RNG.randrange(1_000_000):06d}" for _ in range(4000)})
INDEX = PoleIndex(CODES)


def far_from_others(code: str) -> bool:
    """No other registered code within two edits of the digits: any single slip of it can
    only mean this one (the register is random, so almost every code qualifies)."""
    digits = code[3:]
    return all(sum(a != b for a, b in zip(digits, other[3:], strict=True)) > 2
               for other in CODES if other != code)  # fmt: skip


TARGET = next(code for code in CODES[100:] if far_from_others(code) and len(set(code[3:])) > 3)


def slip(code: str, kind: str) -> str:
    """`code` with one slip of `kind` in its digits."""
    digits = list(code[3:])
    if kind == "substitution":
        digits[2] = str((int(digits[2]) + 5) % 10)
    elif kind == "swap":
        i = next(i for i in range(5) if digits[i] != digits[i + 1])
        digits[i], digits[i + 1] = digits[i + 1], digits[i]
    elif kind == "deletion":
        del digits[3]
    elif kind == "insertion":
        digits.insert(1, "7")
    return "IP-" + "".join(digits)


def test_a_registered_code_is_exact():
    assert (INDEX.locate(TARGET).code, INDEX.locate(TARGET).match) == (TARGET, "exact")


@pytest.mark.parametrize("kind", ["substitution", "swap", "deletion", "insertion"])
def test_one_slip_is_corrected_to_the_only_registered_code_near(kind):
    read = slip(TARGET, kind)
    assert read not in INDEX
    found = INDEX.locate(read)
    assert (found.read, found.code, found.match) == (read, TARGET, "corrected")


@pytest.mark.parametrize(("seen", "meant"), [("3", "8"), ("8", "3"), ("1", "7"), ("6", "5")])
def test_each_digit_misread_by_ocr_is_corrected(seen, meant):
    """OCR's own confusions among digits (a letter read for a digit is mapped by the rules
    before the register sees the code)."""
    code = next(c for c in CODES if meant in c[3:] and far_from_others(c))
    read = code[:3] + code[3:].replace(meant, seen, 1)
    assert INDEX.locate(read).code == code


def test_two_slips_are_not_corrected():
    index = PoleIndex(["IP-004512", "IP-900000"])
    assert index.locate("IP-004821").match == "unknown"  # two digits changed
    assert index.locate("IP-00451").code == "IP-004512"  # one dropped: corrected
    assert index.locate("IP-0045").match == "unknown"  # two dropped


def distance_at_most_one(a: str, b: str) -> bool:
    """The oracle, by definition: equal, or one substitution, adjacent swap, deletion or
    insertion apart."""
    if a == b:
        return True
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        swap = len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
        return len(diff) == 1 or (swap and a[diff[1]] == b[diff[0]])
    short, long = sorted((a, b), key=len)
    return len(long) == len(short) + 1 and any(
        long[:i] + long[i + 1 :] == short for i in range(len(long))
    )


def test_the_index_agrees_with_a_brute_force_search_over_the_whole_register():
    rng = random.Random(7)
    kinds = ["substitution", "swap", "deletion", "insertion"]
    reads = [slip(rng.choice(CODES), rng.choice(kinds)) for _ in range(150)]
    reads += [f"IP-{rng.randrange(1_000_000):06d}" for _ in range(150)]
    for read in reads:
        near = sorted(c for c in CODES if distance_at_most_one(read, c))
        found = INDEX.locate(read)
        if read in CODES:
            assert found.match == "exact"
        elif len(near) == 1:
            assert (found.match, found.code) == ("corrected", near[0]), read
        elif near:
            assert (found.match, found.alternatives) == ("ambiguous", tuple(near)), read
        else:
            assert found.match == "unknown", read


def test_a_code_near_two_registered_ones_is_ambiguous_and_names_both():
    index = PoleIndex(["IP-004512", "IP-004519", "IP-100000"])
    found = index.locate("IP-004513")
    assert (found.code, found.match, found.alternatives) == (
        None,
        "ambiguous",
        ("IP-004512", "IP-004519"),
    )


def test_an_empty_register_knows_nothing():
    assert PoleIndex([]).locate("IP-004512").match == "unknown"


def test_codes_of_other_formats_and_lengths_are_corrected_too():
    index = PoleIndex(["PL/MI/0042", "QE-17", "LAMP-AB12"])
    assert index.locate("PL/MI/0047").code == "PL/MI/0042"
    assert index.locate("QE-1").code == "QE-17"  # a digit dropped
    assert index.locate("LAMP-AB123").code == "LAMP-AB12"  # one added
