"""Every real-world sample parses, and selected ones yield the content a reader would see.

The samples are read in place from the shared folder (read-only): CPython's own e-mail test
messages and 77 wild files, 31 of which break Python's email package.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parsers.errors import ParseError
from parsers.message import ParsedMessage
from parsers.mime import parse

SAMPLES = Path(__file__).parents[2].parent / "shared" / "samples"
CPYTHON = SAMPLES / "email-cpython"
WILD = SAMPLES / "email-wild"

pytestmark = pytest.mark.skipif(
    not WILD.is_dir() or not CPYTHON.is_dir(),
    reason=f"shared samples not found at {SAMPLES} (they live outside the repository)",
)


def _sample_files() -> list[Path]:
    if not SAMPLES.is_dir():
        return []
    return sorted([*CPYTHON.glob("msg_*.txt"), *WILD.glob("*.eml")])


def _parse(name: str) -> ParsedMessage:
    folder = CPYTHON if name.startswith("msg_") else WILD
    return parse((folder / name).read_bytes())


def _all_text(message: ParsedMessage) -> list[str]:
    values = [message.subject, message.from_name, message.body_text, message.new_text]
    values += [value for pair in message.headers for value in pair]
    values += [a.filename for a in message.attachments]
    values += [a.original_filename or "" for a in message.attachments]
    return values + list(message.defects) + list(message.to) + list(message.cc)


@pytest.mark.parametrize("path", _sample_files(), ids=lambda p: p.name)
def test_every_sample_parses_into_clean_values(path: Path) -> None:
    try:
        message = parse(path.read_bytes())
    except ParseError as exc:  # allowed only for unreadable input: there is none here
        pytest.fail(f"{path.name}: {exc}")
    for value in _all_text(message):
        value.encode("utf-8")  # no lone surrogates: they break UTF-8 sinks (SQLite, JSON)
    for when in (message.date, message.top_received_at):
        assert when is None or when.utcoffset() is not None
    for index, attachment in enumerate(message.attachments):
        assert attachment.index == index
        assert attachment.filename not in ("", ".", "..")
        assert not re.search(r"[/\\\x00-\x1f]", attachment.filename)
        assert len(attachment.payload) <= attachment.size
    assert bool(message.new_text.strip()) == bool(message.body_text.strip())
    assert message.from_address is None or message.from_address == message.from_address.lower()


CONTENT = [
    # name, field, expected (a callable check on the field's value)
    ("phpmmp-001.eml", "subject", lambda v: v == "Scientific conferences, Bulgaria 2019"),
    ("phpmmp-001.eml", "body_text", lambda v: re.search("[а-яА-Я]{3}", v) and "\ufffd" not in v),
    ("phpmmp-001.eml", "body_text", lambda v: "Dear Colleague," in v),
    ("sa-003.eml", "subject", lambda v: v == "Design and manufacturing"),  # UTF-16 encoded-word
    ("sa-003.eml", "body_text", lambda v: v.startswith("Dear potencial partner,")),  # UTF-16 body
    ("mime4j-001.eml", "body_text", lambda v: v == "first part"),  # no clean opening boundary
    ("mime4j-002.eml", "body_text", lambda v: v == "Foo\n\nAAA"),  # inner opening missing
    ("mimekit-008.eml", "subject", lambda v: v == "R: R: R: I: FR-selca LA selcaE"),
    ("mimekit-008.eml", "new_text", lambda v: v == "Test headers"),  # header block repaired
    ("mimekit-008.eml", "body_text", lambda v: "MIME-Version" not in v and "x-ms-" not in v),
    ("mimekit-011.eml", "to", lambda v: v == ("test@test.com",)),  # 135 KB To header
    ("mimekit-011.eml", "body_text", lambda v: v == "Message Body"),
    ("flanker-003.eml", "subject", lambda v: v.startswith("提示")),  # raw GB2312 header bytes
    ("flanker-001.eml", "subject", lambda v: v == "Broken MIME"),
    ("flanker-002.eml", "body_text", lambda v: v == "Hello"),  # garbage opening delimiter
    ("flanker-013.eml", "subject", lambda v: v.startswith("Die heiße Zypernsonne quälte")),
    ("rubymail-001.eml", "body_text", lambda v: "Envoyé par le service" in v),  # X-UNKNOWN
    ("rubymail-003.eml", "body_text", lambda v: v == "Hello, world!"),  # UTF-8 in boundary
    ("rubymail-004.eml", "body_text", lambda v: v.startswith("Hello\nThis is an outlook test")),
    ("mmp-001.eml", "body_text", lambda v: v.startswith("The Hare and the Tortoise")),
    ("mimetools-001.eml", "body_text", lambda v: v.startswith("This Message was undeliverable")),
    ("sisimai-001.eml", "body_text", lambda v: "Service unavailable" in v),
    ("dovecot-004.eml", "body_text", lambda v: v == "body"),
    ("sa-001.eml", "subject", lambda v: v == "Domače omrežje"),
    ("mimetools-003.eml", "body_text", lambda v: v == "just to add to your personal hell."),
    ("msg_11.txt", "body_text", lambda v: v == "Here is the body of the message."),
    ("sisimai-006.eml", "is_auto_submitted", lambda v: v is True),
    ("sisimai-006.eml", "is_bounce", lambda v: v is False),
    ("sisimai-001.eml", "is_bounce", lambda v: v is True),
    ("rubymail-011.eml", "is_bounce", lambda v: v is True),
    ("mimekit-002.eml", "is_bounce", lambda v: v is True),  # report-type anonymised: DSN part
    ("mimekit-003.eml", "body_text", lambda v: v.startswith("шостий")),  # koi8-r QP
    ("rspamd-003.eml", "subject", lambda v: v.startswith("Скидки до 36 процентов")),
]


@pytest.mark.parametrize(
    ("name", "field", "check"),
    CONTENT,
    # Stable ids (no function addresses): pytest-xdist workers must collect the same names.
    ids=[f"{i:02d}-{name}-{field}" for i, (name, field, _) in enumerate(CONTENT)],
)
def test_sample_content(name: str, field: str, check) -> None:
    value = getattr(_parse(name), field)
    assert check(value), f"{name}.{field} = {value!r:.300}"


ATTACHMENTS = [
    # name, index, filename, content type, payload start (or None to skip)
    ("dovecot-001.eml", 0, "image001.png", "image/png", b"hello world\n"),
    ("mailparser-001.eml", 0, "20160523_916527.jpg_.zip", "application/zip", b"PK"),
    ("mime4j-006.eml", 0, "Список.doc", "text/plain", None),  # koi8-r encoded-word in name=
    ("sa-001.eml", 0, "документы для отдела кадров.pdf", "application/octet-stream", None),
    ("flanker-012.eml", 0, "facejj.jpg", "image/jpeg", b"\xff\xd8"),  # "Content-Type: ; name="
    ("mimekit-009.eml", 0, "document.xml.gz", "application/gzip", b"blah blah"),
    ("flanker-015.eml", 0, None, "image/png", b"\x89PNG"),  # raw UTF-8 Cyrillic name
    ("mimetools-003.eml", 0, "attachment-0.eml", "message/rfc822", None),
    ("nodemailer-003.eml", 0, None, "image/png", b"\x89PNG"),  # the whole message is an image
]


@pytest.mark.parametrize(("name", "index", "filename", "ctype", "start"), ATTACHMENTS)
def test_sample_attachments(name: str, index: int, filename, ctype: str, start) -> None:
    attachment = _parse(name).attachments[index]
    assert attachment.content_type == ctype
    if filename:
        assert attachment.filename == filename
    if start is not None:
        assert attachment.payload.startswith(start)


def test_raw_utf8_filename_is_decoded_as_utf8() -> None:
    attachment = _parse("flanker-015.eml").attachments[0]
    assert attachment.filename.startswith("Картинка с очень, очень длинным")


# Which path read each file: the stdlib's tree, re-parsed when the header block needed
# repair; "recovered" lists part-level stdlib fallbacks.
PATHS = [
    ("dovecot-003.eml", "stdlib", "body read as text"),  # mail-parser's own parse raises here
    ("mimekit-008.eml", "stdlib, header block repaired", None),  # folded without indentation
    ("mime4j-001.eml", "stdlib", "re-split"),
    ("sisimai-001.eml", "stdlib", "body read as text"),
    ("mailparser-001.eml", "stdlib", "after the closing boundary"),
    ("phpmmp-001.eml", "stdlib", None),  # x-mac-cyrillic is an alias, not a fallback
    ("rubymail-001.eml", "stdlib", "charset fallback"),  # charset=X-UNKNOWN
    ("msg_01.txt", "stdlib", None),
]


@pytest.mark.parametrize(("name", "parser", "recovered"), PATHS)
def test_parse_path(name: str, parser: str, recovered: str | None) -> None:
    extra = _parse(name).extra
    assert extra["parser"] == parser
    if recovered is None:
        assert "recovered" not in extra
    else:
        assert recovered in extra["recovered"]


def test_message_that_crashes_mail_parser_is_read_whole() -> None:
    # mail-parser's full parse raises AttributeError on this file; it is no longer run.
    message = _parse("dovecot-003.eml")
    assert not any("mail-parser" in d for d in message.defects)
    assert message.body_text.count("hello, world") == 4


@pytest.mark.parametrize("name", ["nodemailer-001.eml", "nodemailer-002.eml", "mimekit-004.eml"])
def test_large_samples_give_their_headers(name: str) -> None:
    # How long they take is timed by bench/pathological_inputs.py.
    assert _parse(name).subject.strip()
