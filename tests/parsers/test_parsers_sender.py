"""A sender recovered when From: is too broken for the address-list parser (issue 13)."""

from __future__ import annotations

import pytest

from parsers.mime import parse

TAIL = "Subject: Lampione spento\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n\r\nciao\r\n"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        # Outlook: a colon inside an encoded display name reads as a group to the list parser.
        ("From: =?utf-8?q?Ufficio:_Rossi?= <Mario19@example.org>\r\n", "mario19@example.org"),
        ("From: =?utf-8?q?Ufficio:_Rossi?= mario19@example.org\r\n", "mario19@example.org"),
        # From has no address at all: Sender: says who sent it.
        ("From: Ufficio Rossi\r\nSender: Segreteria <segreteria@example.org>\r\n",
         "segreteria@example.org"),
        # Neither: the envelope sender the delivering server prepended.
        ("Return-Path: <busta@example.org>\r\nFrom: Ufficio Rossi\r\n", "busta@example.org"),
        # Brackets first, then Sender:, then Return-Path:, even when all are there.
        ("Return-Path: <busta@example.org>\r\nSender: s@example.org\r\n"
         "From: =?utf-8?q?Ufficio:_Rossi?= <mario19@example.org>\r\n", "mario19@example.org"),
        # A bounce's empty envelope sender gives nothing to answer.
        ("Return-Path: <>\r\nFrom: Mail Delivery System\r\n", None),
    ],
)  # fmt: skip
def test_sender_recovered_from_broken_headers(head: str, expected: str | None) -> None:
    assert parse((head + TAIL).encode()).from_address == expected


def test_a_readable_from_is_not_overridden_by_sender_or_envelope() -> None:
    head = "Return-Path: <busta@example.org>\r\nSender: s@example.org\r\n"
    head += "From: Anna <a@example.org>\r\n"
    message = parse((head + TAIL).encode())
    assert (message.from_name, message.from_address) == ("Anna", "a@example.org")
