"""parsers.filenames.safe_filename: names safe on every filesystem, never empty."""

from __future__ import annotations

import pytest

from parsers.filenames import MAX_NAME_BYTES, extension_for, guess_type, safe_filename

CASES = [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("C:\\x\\y.pdf", "y.pdf"),
    ("/etc/passwd", "passwd"),
    ("evil\x00.pdf", "evil.pdf"),
    ("tab\tand\nnewline.txt", "tab and newline.txt"),
    ("fattura\u202efdp.exe", "fatturafdp.exe"),  # right-to-left override hides ".exe"
    ("=?UTF-8?B?ZmF0dHVyYSDDqC5wZGY=?=", "fattura è.pdf"),  # RFC 2047 left in a name
    ('a<b>c:d|e?f*g".txt', "a_b_c_d_e_f_g_.txt"),
    ("CON", "_CON"),
    ("nul.txt", "_nul.txt"),
    ("com1.pdf", "_com1.pdf"),
    ("console.txt", "console.txt"),
    (" .hidden ", "hidden"),
    ("trailing.", "trailing"),
    ("e\u0301.txt", "é.txt"),  # NFC
]


@pytest.mark.parametrize(("name", "expected"), CASES)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name, 0, "application/octet-stream") == expected


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        (None, "application/pdf", "attachment-3.pdf"),
        ("", "image/jpeg", "attachment-3.jpg"),
        ("..", "message/rfc822", "attachment-3.eml"),
        ("/", "text/plain", "attachment-3.txt"),
        ("___", "x-unknown/thing", "attachment-3.bin"),
    ],
)
def test_empty_names_get_a_default(name, content_type: str, expected: str) -> None:
    assert safe_filename(name, 3, content_type) == expected


@pytest.mark.parametrize("stem", ["x" * 400, "è" * 300])
def test_long_names_are_cut_keeping_the_extension(stem: str) -> None:
    name = safe_filename(stem + ".docx", 0, "application/octet-stream")
    assert name.endswith(".docx") and name.startswith(stem[:10])
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES


def test_extension_table_is_host_independent() -> None:
    assert [extension_for(t) for t in ("image/png", "APPLICATION/PDF", "a/b")] == [
        ".png",
        ".pdf",
        ".bin",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("foto.jpg", "image/jpeg"), ("doc.xml.gz", "application/gzip"), ("x", None), (None, None)],
)
def test_guess_type(name, expected) -> None:
    assert guess_type(name) == expected
