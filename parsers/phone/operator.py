"""A call an operator took, written as a message so that it goes the way every request goes
(spool, rules, number, report): `tickets add --channel phone`.

The message is ours, never a sender's: the daemon reads these headers only on messages it
spooled itself on channel `phone` (a citizen's mail carrying them stays an e-mail).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from parsers.message import ParsedMessage
from parsers.phone.callers import clean_number

KIND = "X-Inbox-Phone-Call"
NUMBER = "X-Inbox-Phone-Number"
NAME = "X-Inbox-Phone-Name"
OPERATOR = "X-Inbox-Phone-Operator"


@dataclass(frozen=True)
class OperatorCall:
    number: str | None
    name: str | None
    operator: str | None
    called_at: datetime | None


def call_message(
    number: str, text: str, at: datetime, name: str | None = None, operator: str | None = None
) -> bytes:
    """The message of one call: the same call registered twice is the same bytes (one
    ticket); its Message-ID is derived from them for the same reason."""
    msg = EmailMessage()
    digits = clean_number(number) or number.strip()
    who = f"{digits} ({name})" if name else digits
    msg["Subject"] = f"Telefonata da {who}"
    msg["Date"] = format_datetime(at)
    msg[KIND] = "operator"
    msg[NUMBER] = digits
    if name:
        msg[NAME] = name
    if operator:
        msg[OPERATOR] = operator
    key = "\x1f".join((digits, at.isoformat(), text, name or ""))
    msg["Message-ID"] = f"<call-{hashlib.sha256(key.encode()).hexdigest()[:32]}@inbox-daemon>"
    msg.set_content(text)
    return msg.as_bytes()


def read_operator_call(msg: ParsedMessage) -> OperatorCall | None:
    """The call `call_message` wrote, or None for any other message."""
    if (msg.header(KIND) or "").strip() != "operator":
        return None
    return OperatorCall(
        number=clean_number(msg.header(NUMBER) or ""),
        name=msg.header(NAME),
        operator=msg.header(OPERATOR),
        called_at=msg.date,
    )
