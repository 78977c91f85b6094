"""parsers.mime.parse on hand-made messages: one feature per table row."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta, timezone

import pytest

from parsers.errors import ParseError
from parsers.mime import parse

BASE = (
    "From: =?utf-8?q?Mario_Ross=C3=AC?= <Mario.Rossi@Example.IT>\n"
    "To: segnalazioni@comune.example.it, Ufficio <Ufficio@Example.it>\n"
    "Subject: Lampione spento\n"
    "Date: Mon, 3 Mar 2025 10:12:00 +0100\n"
    "Message-ID: <abc@example.it>\n"
)


def mail(headers: str, body: bytes | str = "Il lampione è spento.\n") -> bytes:
    """Raw message bytes with CRLF line ends; `body` str is encoded as UTF-8."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    head = headers.strip("\n").replace("\n", "\r\n").encode("utf-8")
    return head + b"\r\n\r\n" + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def multipart(headers: str, *parts: tuple[str, bytes | str]) -> bytes:
    """A multipart/mixed message; each part is (its header lines, its body)."""
    chunks = [f"{headers.strip()}\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=BB\n"]
    body = b""
    for part_headers, part_body in parts:
        data = part_body.encode("utf-8") if isinstance(part_body, str) else part_body
        body += b"--BB\n" + part_headers.strip().encode("utf-8") + b"\n\n" + data + b"\n"
    return mail(chunks[0], body + b"--BB--\n")


# --- headers, addresses, dates -------------------------------------------------------------


def test_addresses_and_ids() -> None:
    message = parse(
        mail(
            BASE + "Cc: =?iso-8859-1?q?Anna_Bianchi?= <ANNA@example.it>\n"
            "Reply-To: Risposte <Risposte@Example.it>\n"
            "In-Reply-To: <prev@example.it>\n"
            "References: <one@example.it>\n <prev@example.it>\n"
        )
    )
    assert (message.from_name, message.from_address) == ("Mario Rossì", "mario.rossi@example.it")
    assert message.to == ("segnalazioni@comune.example.it", "ufficio@example.it")
    assert message.cc == ("anna@example.it",)
    assert message.reply_to == "risposte@example.it"
    assert message.message_id == "<abc@example.it>"
    assert message.in_reply_to == "<prev@example.it>"
    assert message.references == ("<one@example.it>", "<prev@example.it>")


def test_headers_are_decoded_in_order() -> None:
    message = parse(mail(BASE + "X-Note: =?utf-8?b?w6hjY28=?= fatto\nX-Note: second\n"))
    names = [name for name, _ in message.headers]
    assert names == ["From", "To", "Subject", "Date", "Message-ID", "X-Note", "X-Note"]
    assert message.header("x-note") == "ècco fatto"
    assert message.headers[-1] == ("X-Note", "second")


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("=?utf-8?q?Palo_pericolante_in_via_Ros=C3=A0?=", "Palo pericolante in via Rosà"),
        ("=?utf-8?b?UGFsbyDDqA==?= =?utf-8?b?IGNhZHV0bw==?=", "Palo è caduto"),  # joined words
        ("=?utf-8?q?caff=C3?= =?utf-8?q?=A8?=", "caffè"),  # a character split in two words
        ("=?x-mac-cyrillic?b?j/Do4uXy?=", "Привет"),  # charset alias
        ("=?utf-8?b?@@@?= resto", "=?utf-8?b?@@@?= resto"),  # broken word kept as text
    ],
)
def test_subject_encoded_words(subject: str, expected: str) -> None:
    assert parse(mail(BASE.replace("Subject: Lampione spento", f"Subject: {subject}"))).subject == (
        expected
    )


def test_raw_8bit_subject_is_read_as_utf8_else_cp1252() -> None:
    raw = mail(BASE).replace(b"Lampione spento", "Lampione è spento".encode("cp1252"))
    message = parse(raw)
    assert message.subject == "Lampione è spento"
    assert any("raw 8-bit bytes in Subject" in d for d in message.defects)


@pytest.mark.parametrize(
    ("date", "expected", "defect"),
    [
        ("Mon, 3 Mar 2025 10:12:00 +0100", datetime(2025, 3, 3, 9, 12, tzinfo=UTC), None),
        ("Mon, 3 Mar 2025 10:12:00 -0000", datetime(2025, 3, 3, 10, 12, tzinfo=UTC), None),
        ("Mon, 3 Mar 2025 10:12:00", datetime(2025, 3, 3, 10, 12, tzinfo=UTC), "no usable time"),
        ("lunedì 3 marzo", None, "unreadable Date"),
        ("Mon, 31 Feb 2025 10:12:00 +0100", None, "unreadable Date"),
    ],
)
def test_date(date: str, expected: datetime | None, defect: str | None) -> None:
    message = parse(mail(BASE.replace("Mon, 3 Mar 2025 10:12:00 +0100", date)))
    assert message.date == expected
    if expected is not None:
        assert message.date.tzinfo is not None
    assert any(defect in d for d in message.defects) if defect else not message.defects


def test_sender_offset_is_kept() -> None:
    message = parse(mail(BASE))
    assert message.date.utcoffset() == timedelta(hours=1)


def test_top_received_is_the_first_received_header() -> None:
    received = (
        "Received: from mx.example.it by in.example.it; Mon, 3 Mar 2025 10:15:30 +0100\n"
        "Received: from out.example.org by mx.example.it; Mon, 3 Mar 2025 09:13:00 +0000\n"
    )
    message = parse(mail(received + BASE))
    assert message.top_received_at == datetime(
        2025, 3, 3, 10, 15, 30, tzinfo=timezone(timedelta(hours=1))
    )


def test_missing_headers_and_no_date() -> None:
    message = parse(mail("X-Mailer: test", "solo testo\n"))
    assert (message.subject, message.from_address, message.from_name) == ("", None, "")
    assert message.date is None and message.message_id is None and message.to == ()
    assert "no From header" in message.defects and "no Date header" in message.defects
    assert message.body_text == "solo testo"


def test_empty_body() -> None:
    message = parse(mail(BASE, ""))
    assert message.body_text == "" and message.new_text == "" and message.attachments == ()
    assert message.subject == "Lampione spento"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty input"),
        (b" \r\n\r\n", "empty input"),
        (os.urandom(4096).replace(b":", b"") + b"\x00" * 64, "binary content"),
    ],
)
def test_unreadable_input_raises_parse_error(raw: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse(raw)


def test_not_bytes_raises_parse_error() -> None:
    with pytest.raises(ParseError, match="bytes"):
        parse("From: a@b.it\n\ntext")  # type: ignore[arg-type]


def test_text_without_headers_is_kept() -> None:
    assert parse(b"Il palo 12 e' caduto in via Roma.\r\n").body_text == (
        "Il palo 12 e' caduto in via Roma."
    )


# --- body text and charsets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "cte", "body", "expected", "defect"),
    [
        # windows-1252 bytes (euro sign, curly quotes) declared as ISO-8859-1: very common
        ("text/plain; charset=iso-8859-1", "8bit", b"Costo \x80 100, \x93urgente\x94 citt\xe0",
         "Costo € 100, “urgente” città", None),
        ("text/plain; charset=ISO-8859-1", "quoted-printable", b"Costo =80 5 =E8 =93ok=94",
         "Costo € 5 è “ok”", None),
        ("text/plain; charset=iso-8859-1", "8bit", "già UTF-8".encode(), "già UTF-8",
         "declared as iso-8859-1 but decoded as utf-8"),
        ("text/plain; charset=x-mac-cyrillic", "8bit", "Привет".encode("mac_cyrillic"),
         "Привет", None),
        ("text/plain; charset=x-unknown", "8bit", b"citt\xe0 \x80", "città €",
         "undecodable charset x-unknown in text/plain part, decoded as cp1252"),
        ("text/plain; charset=utf-16", "base64", base64.b64encode("Ciao è".encode("utf-16")),
         "Ciao è", None),
        ("text/plain; charset=utf-8", "8bit", b"rotto \xe8 qui", "rotto è qui",
         "undecodable utf-8 bytes"),
        ("text/plain", "8bit", b"senza charset \xe8", "senza charset è", None),
    ],
)  # fmt: skip
def test_text_charsets(content_type, cte, body, expected, defect) -> None:
    headers = BASE + f"MIME-Version: 1.0\nContent-Type: {content_type}\n"
    message = parse(mail(headers + f"Content-Transfer-Encoding: {cte}", body))
    assert message.body_text == expected
    if defect:
        assert any(defect in d for d in message.defects), message.defects
    else:
        assert not message.defects


HTML = (
    "<html><head><style>p {color: red}</style><title>Oggetto</title></head><body>"
    "<script>alert('x')</script><p>Il lampione &egrave; spento, l&#8217;area &agrave; buia"
    "&nbsp;&amp; pericolosa.</p><div>Via&nbsp;Roma&nbsp;12</div></body></html>"
)


def test_html_only_body_is_converted() -> None:
    message = parse(mail(BASE + "Content-Type: text/html; charset=utf-8", HTML))
    assert message.body_text == ("Il lampione è spento, l’area à buia & pericolosa.\n\nVia Roma 12")


def test_plain_text_is_preferred_over_html() -> None:
    alternative = BASE + "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=AA"
    body = (
        "--AA\nContent-Type: text/plain; charset=utf-8\n\nTesto semplice\n"
        f"--AA\nContent-Type: text/html; charset=utf-8\n\n{HTML}\n--AA--\n"
    )
    assert parse(mail(alternative, body)).body_text == "Testo semplice"


def test_blank_plain_part_falls_back_to_html() -> None:
    alternative = BASE + "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=AA"
    body = f"--AA\nContent-Type: text/plain\n\n \n--AA\nContent-Type: text/html\n\n{HTML}\n--AA--\n"
    assert parse(mail(alternative, body)).body_text.startswith("Il lampione è spento")


def test_multipart_without_matching_boundary_is_recovered() -> None:
    headers = BASE + "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=DECLARED"
    body = "--actual\nContent-Type: text/plain\n\nTesto recuperato\n--actual--\n"
    message = parse(mail(headers, body))
    assert message.body_text == "Testo recuperato"
    assert "multipart/mixed without a matching boundary" in message.defects
    assert "re-split" in message.extra["recovered"]


# --- attachments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("disposition", "expected", "original"),
    [
        ('attachment; filename="../../etc/passwd"', "passwd", "../../etc/passwd"),
        ('attachment; filename="..\\\\..\\\\boot.ini"', "boot.ini", "..\\..\\boot.ini"),
        ('attachment; filename="C:\\\\x\\\\y.pdf"', "y.pdf", "C:\\x\\y.pdf"),
        ('attachment; filename="/etc/passwd"', "passwd", "/etc/passwd"),
        ("attachment; filename*=utf-8''evil%00.pdf", "evil.pdf", "evil\x00.pdf"),
        ("attachment; filename*=UTF-8''fattura%20n%C2%B0%201%20%E2%82%AC.pdf",
         "fattura n° 1 €.pdf", "fattura n° 1 €.pdf"),
        ("attachment; filename*0*=UTF-8''rela%C3%A7%C3%A3o; filename*1=.pdf",
         "relação.pdf", "relação.pdf"),  # RFC 2231 continuation
        ('attachment; filename="=?UTF-8?B?Zm90byBwYWxvLmpwZw==?="', "foto palo.jpg",
         "foto palo.jpg"),  # RFC 2047 in a quoted name (Outlook)
        ('attachment; filename="CON.txt"', "_CON.txt", "CON.txt"),
        ('attachment; filename=".."', "attachment-0.pdf", ".."),
        ("attachment", "attachment-0.pdf", None),
        (f'attachment; filename="{"x" * 300}.pdf"', "x" * 196 + ".pdf", "x" * 300 + ".pdf"),
    ],
)  # fmt: skip
def test_attachment_names(disposition: str, expected: str, original: str | None) -> None:
    raw = multipart(
        BASE,
        ("Content-Type: text/plain", "Vedi allegato"),
        (f"Content-Type: application/pdf\nContent-Disposition: {disposition}", "%PDF-1.4"),
    )
    attachment = parse(raw).attachments[0]
    assert attachment.filename == expected
    assert attachment.original_filename == original
    assert attachment.payload == b"%PDF-1.4"


def test_raw_nul_in_name_is_removed() -> None:
    raw = multipart(BASE, ("Content-Type: application/pdf; name=x", b"data"))
    raw = raw.replace(b"name=x", b'name="fattura\x00.exe.pdf"')
    assert parse(raw).attachments[0].filename == "fattura.exe.pdf"


def test_large_attachment_is_truncated_with_full_size() -> None:
    data = os.urandom(25 * 1024 * 1024)
    raw = multipart(
        BASE,
        ("Content-Type: text/plain", "Foto del palo"),
        (
            "Content-Type: image/jpeg; name=foto.jpg\nContent-Transfer-Encoding: base64",
            base64.encodebytes(data),
        ),
    )
    message = parse(raw, max_attachment_bytes=1024 * 1024)
    attachment = message.attachments[0]
    assert attachment.truncated and attachment.size == len(data)
    assert attachment.payload == data[: 1024 * 1024]
    assert any("foto.jpg is 26214400 bytes: truncated" in d for d in message.defects)
    assert message.body_text == "Foto del palo"


def test_small_attachment_is_not_truncated() -> None:
    raw = multipart(BASE, ("Content-Type: application/pdf; name=a.pdf", "12345"))
    attachment = parse(raw, max_attachment_bytes=5).attachments[0]
    assert (attachment.truncated, attachment.size, attachment.payload) == (False, 5, b"12345")


def test_inline_image_and_duplicate_names() -> None:
    related = BASE + "MIME-Version: 1.0\nContent-Type: multipart/related; boundary=RR"
    image = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    body = (
        '--RR\nContent-Type: text/html\n\n<p>Guardate <img src="cid:i1"></p>\n'
        "--RR\nContent-Type: image/png; name=image001.png\nContent-ID: <i1>\n"
        f"Content-Disposition: inline\nContent-Transfer-Encoding: base64\n\n{image}\n"
        "--RR\nContent-Type: image/png; name=image001.png\nContent-Transfer-Encoding: base64\n\n"
        f"{image}\n--RR\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\n"
        f"{image}\n--RR--\n"
    )
    message = parse(mail(related, body))
    assert [a.filename for a in message.attachments] == [
        "image001.png",
        "image001-1.png",
        "attachment-2.gif",
    ]
    assert message.attachments[0].payload.startswith(b"\x89PNG")
    assert message.body_text == "Guardate"


def test_forward_as_attachment_keeps_eml_and_its_text() -> None:
    inner = mail(
        "From: anna@example.it\nSubject: Palo abbattuto\nDate: Mon, 3 Mar 2025 08:00:00 +0100",
        "Il palo IP-123456 e' stato abbattuto da un'auto.\n",
    )
    raw = multipart(BASE, ("Content-Type: message/rfc822", inner))
    message = parse(raw)
    attachment = message.attachments[0]
    assert (attachment.filename, attachment.content_type) == ("attachment-0.eml", "message/rfc822")
    assert b"Subject: Palo abbattuto" in attachment.payload
    assert message.body_text == "Il palo IP-123456 e' stato abbattuto da un'auto."
    assert "attached message" in message.extra["body_source"]


def test_forwarded_message_text_does_not_leak_into_body() -> None:
    inner = mail("From: anna@example.it\nSubject: vecchio", "testo inoltrato\n")
    raw = multipart(BASE, ("Content-Type: text/plain", "Vi giro la segnalazione"),
                    ("Content-Type: message/rfc822", inner))  # fmt: skip
    assert parse(raw).body_text == "Vi giro la segnalazione"


# --- new_text through the whole parser -------------------------------------------------------


def test_outlook_html_reply_is_cut() -> None:
    html = (
        "<div><p>Il guasto persiste, nessun tecnico &egrave; passato.</p></div>"
        '<div style="border-top:solid #E1E1E1 1.0pt"><p><b>Da:</b> Comune &lt;c@example.it&gt;'
        "<br><b>Inviato:</b> luned&igrave; 3 marzo 2025 10:12<br><b>A:</b> Mario"
        "<br><b>Oggetto:</b> Segnalazione 2025/000123</p></div><p>Abbiamo preso in carico.</p>"
    )
    message = parse(mail(BASE + "Content-Type: text/html; charset=utf-8", html))
    assert message.new_text == "Il guasto persiste, nessun tecnico è passato."
    assert "Abbiamo preso in carico." in message.body_text


def test_gmail_html_blockquote_reply_is_cut() -> None:
    html = (
        '<div dir="ltr">Sollecito l&#39;intervento.</div><br><div class="gmail_quote">'
        '<div class="gmail_attr">Il giorno lun 3 mar 2025 alle ore 10:12 Comune &lt;'
        "c@example.it&gt; ha scritto:<br></div><blockquote>Richiesta registrata.</blockquote>"
    )
    message = parse(mail(BASE + "Content-Type: text/html; charset=utf-8", html))
    assert message.new_text == "Sollecito l'intervento."


# --- flags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra_headers", "bounce", "auto", "bulk"),
    [
        ("", False, False, False),
        ("Content-Type: multipart/report; report-type=delivery-status; boundary=x", True, False,
         False),
        ("Content-Type: multipart/report; report-type=disposition-notification; boundary=x",
         False, False, False),
        ("Return-Path: <>", True, False, False),
        ("Return-Path: <>\nAuto-Submitted: auto-replied", False, True, False),
        ("Auto-Submitted: auto-generated", False, True, False),
        ("Auto-Submitted: no", False, False, False),
        ("X-Autoreply: yes", False, True, False),
        ("X-Autorespond: vacation", False, True, False),
        ("Precedence: bulk", False, False, True),
        ("Precedence: list", False, False, True),
        ("List-Id: <annunci.example.it>", False, False, True),
        ("List-Unsubscribe: <mailto:leave@example.it>", False, False, True),
    ],
)  # fmt: skip
def test_flags_from_headers(extra_headers: str, bounce: bool, auto: bool, bulk: bool) -> None:
    message = parse(mail(BASE + extra_headers))
    assert (message.is_bounce, message.is_auto_submitted, message.is_bulk) == (bounce, auto, bulk)


@pytest.mark.parametrize(
    ("header", "value", "bounce", "auto"),
    [
        ("From", "Mail Delivery System <MAILER-DAEMON@mx.example.it>", True, False),
        ("From", "postmaster@example.it", True, False),
        ("Subject", "Risposta automatica: Lampione spento", False, True),
        ("Subject", "Fuori sede fino al 10 marzo", False, True),
        ("Subject", "Out of Office: Lampione spento", False, True),
        ("Subject", "Luce assente in via Roma", False, False),
        ("Subject", "Re: Risposta automatica non ricevuta", False, False),
    ],
)
def test_flags_from_sender_and_subject(header: str, value: str, bounce: bool, auto: bool):
    lines = [line for line in BASE.splitlines() if not line.startswith(f"{header}:")]
    message = parse(mail("\n".join([*lines, f"{header}: {value}"])))
    assert (message.is_bounce, message.is_auto_submitted) == (bounce, auto)
