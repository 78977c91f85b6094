"""A web report as a message: the same bytes every other channel stores.

Written as RFC 5322 mail so that the spool, the parser, the rules, the register and the
acknowledgement treat it as they treat an e-mail, with no second path to keep in step. The
fault chosen and the pole's code go into the subject and the text the rules read (they are
the strongest evidence the citizen gives), and into `X-Inbox-Web-*` headers for people.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from inbox_daemon.header_text import one_line
from inbox_daemon.web.form import FAULTS, Report

NO_EMAIL_LOCAL = "noreply"  # a report with a phone only: never acknowledged by mail (acks.py)


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
    msg = EmailMessage()
    name = one_line(report.name, limit=100)
    msg["Received"] = (
        f"from web client [{one_line(client, limit=64)}] by {host} (inbox-daemon) with HTTP; "
        f"{format_datetime(received_at)}"
    )
    msg["From"] = formataddr((name, report.email or f"{NO_EMAIL_LOCAL}@{host}"))
    msg["To"] = f"modulo-web@{host}"
    msg["Subject"] = subject(report)
    msg["Date"] = format_datetime(received_at)
    msg["Message-ID"] = f"<web-{nonce:016x}@{host}>"
    msg["X-Inbox-Web-Fault"] = report.fault
    if report.code:
        msg["X-Inbox-Web-Code"] = one_line(report.code, limit=32)
    if report.phone:
        msg["X-Inbox-Web-Phone"] = one_line(report.phone, limit=32)
    msg.set_content(body(report))
    if photo is not None:
        msg.add_attachment(photo, maintype="image", subtype="jpeg", filename="foto.jpg")
    return msg.as_bytes()


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
