"""A web report as a message: the same bytes every other channel stores.

Written as RFC 5322 mail so that the spool, the parser, the rules, the register and the
acknowledgement treat it as they treat an e-mail, with no second path to keep in step. The
fault chosen and the pole's code go into the subject and the text the rules read (they are
the strongest evidence the citizen gives), and into `X-Inbox-Web-*` headers for people.

The text is put together here from the stdlib's encoders (`formataddr`, quoted-printable,
base64; RFC 2047 words in `_words`) rather than by `EmailMessage`, whose default
policy parses back every header it is given and folds it again: 1.6 ms of the web server's
event loop per report, a third of all its work under load, for a message whose shape never
changes. Every value that reaches a header is one line already (`one_line`, `form.check`).
"""

from __future__ import annotations

import base64
import quopri
import secrets
from datetime import datetime
from email.utils import format_datetime, formataddr

from inbox_daemon.header_text import one_line
from inbox_daemon.web.form import FAULTS, Report

NO_EMAIL_LOCAL = "noreply"  # a report with a phone only: never acknowledged by mail (acks.py)
MAX_LINE = 998  # RFC 5322: longer lines, as a long paragraph typed in one go, go encoded
WORD_BYTES = 45  # an RFC 2047 word of 45 bytes is 72 characters: a folded line within 76


def build(
    report: Report,
    *,
    nonce: int,
    host: str,
    client: str,
    received_at: datetime,
    photo: bytes | None = None,
) -> bytes:
    """The stored bytes of one submission; `nonce` (from its form token) names it."""
    date = format_datetime(received_at)
    name = one_line(report.name, limit=100)
    received = f"from web client [{one_line(client, limit=64)}] by {host} (inbox-daemon)"
    head = [
        ("Received", f"{received} with HTTP;\n {date}"),
        # a name not in ASCII is one RFC 2047 word, however long: split, the stdlib's own
        # address parser reads the fold between two words as a space inside the name
        ("From", formataddr((name, report.email or f"{NO_EMAIL_LOCAL}@{host}"), "utf-8")),
        ("To", f"modulo-web@{host}"),
        ("Subject", subject(report)),
        ("Date", date),
        ("Message-ID", f"<web-{nonce:016x}@{host}>"),
        ("X-Inbox-Web-Fault", report.fault),
    ]
    if report.code:
        head.append(("X-Inbox-Web-Code", one_line(report.code, limit=32)))
    if report.phone:
        head.append(("X-Inbox-Web-Phone", one_line(report.phone, limit=32)))
    head.append(("MIME-Version", "1.0"))
    text = _text_part(body(report))
    if photo is None:
        return _headers(head) + text
    boundary = f"=_{secrets.token_hex(16)}"
    head.append(("Content-Type", f'multipart/mixed; boundary="{boundary}"'))
    picture = (
        b"Content-Type: image/jpeg\nContent-Transfer-Encoding: base64\n"
        b'Content-Disposition: attachment; filename="foto.jpg"\n\n'
    ) + base64.encodebytes(photo)  # lines of 76
    edge = f"--{boundary}".encode()
    return b"\n".join([_headers(head), edge, text, edge, picture, edge + b"--", b""])


def subject(report: Report) -> str:
    what = FAULTS[report.fault][0] if report.fault != "altro" else "segnalazione"
    where = f"palo {one_line(report.code, limit=32)} - " if report.code else ""
    return f"Segnalazione dal sito: {where}{what}"


def body(report: Report) -> str:
    lines = []
    if report.fault_sentence:
        lines.append(report.fault_sentence)
    if report.code:
        lines.append(f"Codice del palo: {one_line(report.code, limit=32)}")
    if report.text:
        lines += ["", report.text]
    lines += ["", "--", f"Nome: {one_line(report.name, limit=100)}"]
    if report.email:
        lines.append(f"E-mail: {report.email}")
    if report.phone:
        lines.append(f"Telefono: {report.phone}")
    return "\n".join(lines) + "\n"


def _headers(fields: list[tuple[str, str]]) -> bytes:
    """The header block, each value as it is when ASCII, else as RFC 2047 words."""
    lines = [f"{name}: {value if value.isascii() else _words(value)}\n" for name, value in fields]
    return "".join(lines).encode("ascii")


def _words(value: str) -> str:
    """`value` as RFC 2047 "B" words of UTF-8, one per folded line, each within 76 characters
    (45 bytes a word), never cutting a character. `email.header.Header` gives the same, with
    a search for the best split that cost a tenth of a millisecond per header."""
    words, chunk = [], b""
    for char in value:
        data = char.encode("utf-8", "replace")
        if len(chunk) + len(data) > WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += data
    words.append(chunk)
    return "\n ".join(f"=?utf-8?b?{base64.b64encode(word).decode()}?=" for word in words)


def _text_part(text: str) -> bytes:
    """The body as a text/plain part (its header lines, a blank line, its text): 8bit, or
    quoted-printable when a line is too long."""
    data = text.encode("utf-8", "replace")  # "replace": a lone surrogate cannot be stored
    if max(len(line) for line in data.split(b"\n")) <= MAX_LINE:
        encoding, payload = ("7bit" if data.isascii() else "8bit"), data
    else:
        encoding, payload = "quoted-printable", quopri.encodestring(data)
    return (
        f'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: {encoding}\n\n'
    ).encode() + payload
