"""The report form's fields (a contract: `code`, `fault`, `text`, `name`, `email`, `phone`,
`photo`), checked into a `Report` or into messages in Italian, one per field.

Plain values in, plain values out: the HTTP layer (`app.py`) reads the request, this says
what is wrong with it. Every bound is here, so that a message can be neither longer nor odder
than a citizen's report needs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# The choices, as the rules' fault kinds (rules/tables/details.toml) name them: the form's
# value is the ticket's `details.fault`; the sentence goes into the text the rules read.
FAULTS: dict[str, tuple[str, str]] = {
    "spenta": ("Il lampione è spento", "Il lampione è spento."),
    "intermittente": ("La luce lampeggia", "La luce lampeggia, si accende e si spegne."),
    "accesa_di_giorno": ("Resta acceso di giorno", "Il lampione resta acceso di giorno."),
    "palo_danneggiato": ("Il palo è danneggiato", "Il palo è danneggiato."),
    "cavi_scoperti": ("Ci sono cavi scoperti", "Ci sono cavi elettrici scoperti."),
    "altro": ("Altro (lo descriva sotto)", ""),
}
MAX_CODE, MAX_NAME, MAX_TEXT, MAX_EMAIL = 32, 100, 4000, 254
# The local part in ASCII (RFC 5322 atoms and dots): the acknowledgement is sent without
# SMTPUTF8, and a name like «jòsé@…» could not be written into the message's From.
EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,64}"
                   r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")  # fmt: skip
PHONE = re.compile(r"\+?[0-9][0-9 .\-/]{4,22}")
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 \-–/._]*")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Report:
    """A checked submission (the photo travels apart, as bytes)."""

    code: str
    fault: str
    text: str
    name: str
    email: str
    phone: str

    @property
    def fault_sentence(self) -> str:
        return FAULTS[self.fault][1]


def check(fields: Mapping[str, str]) -> tuple[Report | None, dict[str, str]]:
    """The report, or the problems by field name (Italian, for the page)."""
    get = {key: _clean(fields.get(key, "")) for key in ("code", "fault", "text", "name")}
    email, phone = _clean(fields.get("email", "")), _clean(fields.get("phone", ""))
    problems: dict[str, str] = {}
    if get["code"] and (len(get["code"]) > MAX_CODE or not CODE.fullmatch(get["code"])):
        problems["code"] = "Il codice del palo contiene caratteri non validi."
    if get["fault"] not in FAULTS:
        problems["fault"] = "Scelga che cosa non va."
    if get["fault"] == "altro" and not get["text"]:
        problems["text"] = "Descriva il problema."
    if len(get["text"]) > MAX_TEXT:
        problems["text"] = f"La descrizione può avere al massimo {MAX_TEXT} caratteri."
    if not get["name"] or len(get["name"]) > MAX_NAME:
        problems["name"] = "Scriva nome e cognome (al massimo 100 caratteri)."
    if email and (len(email) > MAX_EMAIL or not EMAIL.fullmatch(email)):
        problems["email"] = "L'indirizzo e-mail non è valido (esempio: nome@dominio.it)."
    if phone and not (PHONE.fullmatch(phone) and 6 <= sum(c.isdigit() for c in phone) <= 15):
        problems["phone"] = "Il numero di telefono non è valido (da 6 a 15 cifre)."
    if not email and not phone and "email" not in problems and "phone" not in problems:
        problems["email"] = "Indichi un indirizzo e-mail o un numero di telefono."
    if problems:
        return None, problems
    report = Report(get["code"].upper(), get["fault"], get["text"], get["name"], email, phone)
    return report, {}


def _clean(value: str) -> str:
    """One field's text: control characters out, line ends unified, outer blanks trimmed."""
    return CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
