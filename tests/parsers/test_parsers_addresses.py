"""Plain address lists are read without mail-parser's recovery, exactly as it reads them.

The parser reads a plain list (`Name <a@b>`, `<a@b>`, `a@b`, comma-separated) itself and gives
anything else to mail-parser (issue 12: the recovery was a quarter of a parse). Each value
here, and every address header of the sample mail, is read both ways: wherever the plain
reader answers, mail-parser must answer the same; where they would differ it must decline.
"""

from __future__ import annotations

import email
import email.policy
import itertools
from pathlib import Path

import pytest
from mailparser.utils import get_addresses

from parsers.mime import _plain_addresses, _split_addresses, parse

SAMPLES = Path(__file__).resolve().parents[1].parent.parent / "shared" / "samples"
ADDRESS_HEADERS = ("from", "to", "cc", "reply-to", "sender")

PLAIN = [
    "Cittadino 1 <cittadino1@example.it>",
    "<m@x.it>",
    "m@x.it",
    "Mario.Rossi@Example.IT",
    "a@b.it, C D <c@d.it>",
    "a@b.it,",
    "  Mario   Rossi  <m@x.it>  ",
    "Mario\tRossi <m@x.it>",
    "Mario Rossi<m@x.it>",
    '"Rossi, Mario" <M.Rossi@X.it>',
    '"Rossi,  Mario" <m@x.it>',
    '"Mario"<m@x.it>',
    'Mario "Bob" Rossi <m@x.it>',
    '"a@b.it" <c@d.it>',
    "=?utf-8?q?Mario_Rossi?= <m@x.it>",
    "=?iso-8859-1?q?Niccol=F2?= <n@x.it>, Ufficio Tecnico <ut@comune.example.it>",
    "Niccolò Rossi <n@x.it>",
    "Dott. Rossi <rossi@x.it>",
    "segnalazioni@example.it, Mario Rossi <m@x.it>, <b@c.it>",
]
NOT_PLAIN = [
    "=?utf-8?q?Ufficio:_Rossi?= <Mario19@example.org>",  # issue 13: a colon in the name
    "=?utf-8?q?Ufficio:_Rossi?= mario19@example.org",
    "Ufficio Rossi",
    "Mario <m@x.it> (home)",
    "m@x.it (Mario Rossi)",
    "a@b.it b@c.it",
    "a@b.it,, b@c.it",
    "undisclosed-recipients:;",
    "Gruppo: a@b.it, c@d.it;",
    '"Rossi \\"Bob\\"" <m@x.it>',
    '"" <m@x.it>',
    "Mario a@b.it <c@d.it>",
    "<@route.example:m@x.it>",
    "m@[192.0.2.1]",
    "a@b@c.it",
    '"quoted local"@x.it',
    "Mario <m@x.it",
    "",
]


@pytest.mark.parametrize("value", PLAIN)
def test_a_plain_list_is_read_as_mail_parser_reads_it(value: str) -> None:
    assert _plain_addresses(value) == get_addresses(value, decode_names=False)


@pytest.mark.parametrize("value", NOT_PLAIN)
def test_anything_else_goes_to_mail_parser(value: str) -> None:
    assert _plain_addresses(value) is None
    assert _split_addresses(value) == get_addresses(value, decode_names=False)


NAMES = ["", "Anna", "Anna  Rossi", '"Rossi, Anna"', "Dott. Rossi", '"A" B', "A:B", "(c)", "A@B"]
ADDRESSES = ["a@b.it", "<a@b.it>", "<A.b+c@x.example.it>", "a@b", "<a@b.it", "a.b@c.it>"]
SEPARATORS = [",", ", ", " ,", ",,", " "]


def test_every_combination_reads_as_mail_parser_reads_it() -> None:
    """Names, addresses and separators put together: wherever the plain reader answers, the
    answer is mail-parser's."""
    answered = 0
    for first, second, separator in itertools.product(
        itertools.product(NAMES, ADDRESSES), itertools.product(NAMES, ADDRESSES), SEPARATORS
    ):
        value = f"{first[0]} {first[1]}{separator}{second[0]} {second[1]}"
        plain = _plain_addresses(value)
        if plain is not None:
            answered += 1
            assert plain == get_addresses(value, decode_names=False), value
    assert answered > 100


def _sample_values() -> list[str]:
    values = []
    for path in sorted(SAMPLES.rglob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
        for name, value in message.raw_items():
            if name.lower() in ADDRESS_HEADERS and isinstance(value, str):
                values.append(value.replace("\r\n", "").replace("\n", ""))
    return values


def test_every_address_header_of_the_samples_reads_as_before() -> None:
    values = _sample_values()
    if not values:
        pytest.skip(f"no sample mail under {SAMPLES}")
    plain = [v for v in values if _plain_addresses(v) is not None]
    assert plain, "the samples hold plain address lists: the plain reader must answer some"
    for value in values:
        assert _split_addresses(value) == get_addresses(value, decode_names=False), value


def test_the_parsed_message_takes_its_addresses_from_the_plain_reader() -> None:
    raw = (
        b'From: "Rossi, Mario" <Mario.Rossi@Example.IT>\r\nTo: a@b.it, Ufficio <u@c.it>\r\n'
        b"Subject: x\r\n\r\nciao\r\n"
    )
    message = parse(raw)
    assert (message.from_name, message.from_address) == ("Rossi, Mario", "mario.rossi@example.it")
    assert message.to == ("a@b.it", "u@c.it")
