"""Quoted ticket numbers: our forms become canonical, look-alike numbers stay out."""

from __future__ import annotations

import pytest

from rules import find_ticket_refs

CASES = [
    ("Rif. segnalazione 2026/000123", ["2026/000123"]),
    ("la vostra richiesta n. 2026/123", ["2026/000123"]),
    ("pratica 123/2026 ancora aperta", ["2026/000123"]),
    ("ticket 2026/88 e poi pratica 2026/88", ["2026/000088"]),
    ("registrata con il numero 2026/000512", ["2026/000512"]),
    ("pratica 2025/000900, segnalazione 2026/000001", ["2025/000900", "2026/000001"]),
    # look-alikes
    ("Prot. n. 12345/2026 del 10/02/2026", []),
    ("nota prot. n. 4521/2026", []),
    ("fattura n. 118/2026", []),
    ("ordine n. 2026/1234", []),
    ("in data 05/03/2026, il 2026/03/12", []),
    ("anno scolastico 2025/2026", []),
    ("123/2026", []),  # number-first needs one of our words before it
    ("Prot. n. 2026/0012345", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_ticket_refs(text, expected):
    assert find_ticket_refs(text) == expected
