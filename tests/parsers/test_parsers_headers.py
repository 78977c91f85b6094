"""parsers.headers and parsers.charsets: decoding that never raises."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from parsers import charsets, headers


@pytest.mark.parametrize(
    ("value", "expected", "defect"),
    [
        ("plain", "plain", None),
        ("=?utf-8?q?a_b?=  =?utf-8?q?c?=", "a bc", None),  # whitespace between words dropped
        ("=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b", None),
        ("=?UTF-8?B?w6g?=", "è", None),  # missing padding
        ("=?iso-8859-2*sl?Q?Doma=E8e?=", "Domače", None),  # RFC 2231 language tag
        ("=?utf-16?B?RABlAHMAaQBnAG4A?=", "Design", None),
        ("=?x-unknown?q?citt=E0?=", "città", "undecodable charset x-unknown"),
        ("=?utf-8?b?!!!?=", "=?utf-8?b?!!!?=", "broken encoded-word"),
        ("riga\r\n piegata", "riga piegata", None),
        ("nul\x00byte", "nul byte", None),
    ],
)
def test_decode(value: str, expected: str, defect: str | None) -> None:
    text, defects = headers.decode(value, "Subject")
    assert text == expected
    assert any(defect in d for d in defects) if defect else defects == []


def test_decode_raw_bytes_uses_hint_then_cp1252() -> None:
    gb = "提示".encode("gb2312").decode("ascii", "surrogateescape")
    assert headers.decode(gb, "Subject", hint="gb2312")[0] == "提示"
    latin = "città".encode("latin-1").decode("ascii", "surrogateescape")
    assert headers.decode(latin, "Subject")[0] == "città"


def test_huge_header_is_linear() -> None:
    value = "=?utf-8?Q?date=3E2017-08-20T10:08:28.617=3C/pr?=\r\n\t" * 4000
    text, _ = headers.decode(value)
    assert text.startswith("date>2017-08-20") and len(text) > 100_000


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@b> <c@d>", ("<a@b>", "<c@d>")),
        ("junk <a@b> more", ("<a@b>",)),
        ("", ()),
        (None, ()),
    ],
)
def test_message_ids(value, expected) -> None:
    assert headers.message_ids(value) == expected


def test_first_message_id_without_brackets() -> None:
    assert headers.first_message_id(" id-without-brackets@x ") == "id-without-brackets@x"


def test_received_date_after_last_semicolon() -> None:
    value = "from a (b; c) by d; Tue, 4 Mar 2025 08:00:00 +0000"
    assert headers.received_date(value) == (datetime(2025, 3, 4, 8, 0, tzinfo=UTC), None)
    assert headers.received_date("from a by b") == (None, None)


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("x-mac-cyrillic", "mac-cyrillic"),
        ('"ISO-8859-1"', "iso8859-1"),
        ("3Diso-8859-1", "iso8859-1"),  # double quoted-printable
        ("ks_c_5601-1987", "cp949"),
        ("gb2312", "gb18030"),
        ("x-unknown", None),
        ("invalid-charset", None),
        ("base64", None),  # a codec, but not a charset
        (None, None),
    ],
)
def test_codec_for(label, codec) -> None:
    assert charsets.codec_for(label) == codec


def test_mostly_utf8_with_a_cut_character() -> None:
    data = "Картинка с очень".encode() + b" \xd1"
    text, defect = charsets.decode(data, "utf-8", "text/plain part")
    assert text.startswith("Картинка с очень") and "utf-8 with replacement" in defect
