"""parsers.quoting.new_text: what the citizen wrote now, on Italian mail as it arrives."""

from __future__ import annotations

import pytest

from parsers.quoting import MAX_CHARS, new_text

GMAIL_IT = """\
Buongiorno,
il lampione IP-123456 in via Roma è ancora spento.

Il giorno lun 3 mar 2025 alle ore 10:12 Mario Rossi <
mario.rossi@example.it> ha scritto:

> Il lampione è spento da una settimana, c'è pericolo.
> Grazie
"""

THUNDERBIRD_IT = """\
Vi sollecito per la segnalazione precedente.

Il 03/03/2025 10:12, Mario Rossi ha scritto:
> Il palo è pericolante, rischia di cadere.
"""

OUTLOOK_IT = """\
Confermo, il guasto persiste.

________________________________
Da: Ufficio Segnalazioni <segnalazioni@example.it>
Inviato: lunedì 3 marzo 2025 10:12
A: Mario Rossi <mario@example.it>
Oggetto: Re: Palo abbattuto

Gentile utente, la richiesta 2025/000123 è registrata.
"""

OUTLOOK_OLD_IT = """\
Grazie, attendo notizie.

-----Messaggio originale-----
Da: Mario Rossi [mailto:mario@example.it]
Inviato: lunedì 3 marzo 2025 10:12
A: segnalazioni@example.it
Oggetto: palo

Il palo è caduto sulla strada, pericolo!
"""

OUTLOOK_EN = """\
Still broken.

-----Original Message-----
From: Desk <desk@example.it>
Sent: Monday, March 3, 2025 10:12 AM
To: Mario
Subject: RE: lamp

Ticket registered.
"""

FORWARD_NO_TEXT = """\

-------- Messaggio Inoltrato --------
Oggetto: \tLampione spento
Data: \tMon, 3 Mar 2025 10:12:00 +0100
Mittente: \tAnna Bianchi <anna@example.it>
A: \tcomune@example.it

Segnalo che il lampione di piazza Garibaldi è spento da tre giorni.
"""

GMAIL_FORWARD_OF_REPLY = """\
---------- Forwarded message ---------
Da: Anna Bianchi <anna@example.it>
Date: lun 3 mar 2025 alle ore 10:12
Subject: Re: cavi scoperti
To: <comune@example.it>

Ci sono cavi scoperti in via Dante 5.

Il giorno dom 2 mar 2025 alle ore 09:00 Comune <comune@example.it> ha scritto:
> Può indicarci il civico?
"""

SIGNATURE = """\
Il lampione in via Verdi lampeggia.

Cordiali saluti
Mario Rossi
Tel. 333 1234567

--
Mario Rossi
Via Garibaldi 12

Inviato da iPhone
"""

GDPR = """\
Segnalo un cavo scoperto in via Dante 5.

Distinti saluti
Giulia Neri

Ai sensi del D.Lgs. 196/2003 e del Regolamento (UE) 2016/679 (GDPR), le informazioni \
contenute in questo messaggio sono riservate e destinate esclusivamente al destinatario. \
Se avete ricevuto questo messaggio per errore, vi preghiamo di cancellarlo.

Rispetta l'ambiente: stampa questa e-mail solo se necessario.
"""

INTERLEAVED = """\
> Dove si trova il palo?
In via Roma, davanti al civico 3.
> Da quanto tempo?
Da lunedì.
"""

POSTSCRIPT = """\
Il lampione è spento.

Cordiali saluti
Mario
P.S. il codice sul palo è IP-654321
"""

MOBILE_FOOTER = """\
Palo inclinato in piazza.

Inviato dal mio smartphone Samsung Galaxy
"""

CASES = [
    ("gmail_it", GMAIL_IT, "Buongiorno,\nil lampione IP-123456 in via Roma è ancora spento."),
    ("thunderbird_it", THUNDERBIRD_IT, "Vi sollecito per la segnalazione precedente."),
    ("outlook_it", OUTLOOK_IT, "Confermo, il guasto persiste."),
    ("outlook_old_it", OUTLOOK_OLD_IT, "Grazie, attendo notizie."),
    ("outlook_en", OUTLOOK_EN, "Still broken."),
    ("forward", FORWARD_NO_TEXT, FORWARD_NO_TEXT.strip().splitlines()[-1]),
    ("forward_of_reply", GMAIL_FORWARD_OF_REPLY, "Ci sono cavi scoperti in via Dante 5."),
    ("signature", SIGNATURE, "Il lampione in via Verdi lampeggia."),
    ("gdpr", GDPR, "Segnalo un cavo scoperto in via Dante 5."),
    ("interleaved", INTERLEAVED, "In via Roma, davanti al civico 3.\nDa lunedì."),
    ("postscript_kept", POSTSCRIPT, POSTSCRIPT.strip()),
    ("mobile_footer", MOBILE_FOOTER, "Palo inclinato in piazza."),
]  # fmt: skip


@pytest.mark.parametrize(("name", "body", "expected"), CASES, ids=[c[0] for c in CASES])
def test_new_text(name: str, body: str, expected: str) -> None:
    assert new_text(body) == expected


KEPT = [
    # prose that looks like a reply header or a disclaimer must stay
    'Il tecnico venuto ieri ha scritto: "riparato", ma il palo è ancora spento.',
    "Da: lunedì il lampione è spento.\nOggetto della segnalazione: via Roma.",
    "Avete violato la privacy pubblicando il mio nome.\n\nChiedo la rimozione dei dati.",
    "Cordiali saluti",  # stripping would leave nothing: keep the body
    "> tutto il testo è citato\n> davvero",
]


@pytest.mark.parametrize("body", KEPT)
def test_request_is_never_removed(body: str) -> None:
    assert new_text(body) == body


@pytest.mark.parametrize(
    "complaint",
    [
        "Il vostro addetto ha diffuso i miei dati, violando la privacy e la riservatezza.",
        "Ai sensi del GDPR chiedo la cancellazione dei miei dati, che mi avete inviato per errore.",
    ],
)
def test_privacy_complaint_is_not_a_disclaimer(complaint: str) -> None:
    body = f"Buongiorno.\n\n{complaint}"
    assert new_text(body) == body


def test_huge_body_is_capped() -> None:
    body = "riga di testo\n" * (MAX_CHARS // 7)
    assert len(new_text(body)) <= MAX_CHARS


@pytest.mark.parametrize(
    "line",
    [
        "-" * 200_000,
        " " * 200_000 + "x",
        "Da" + " " * 200_000 + "x",
        "-- Original Message" + " " * 200_000 + "x",
        "Cordiali saluti" + " " * 200_000 + "x",
        "Il 3/3/2025 ha scritto" + " " * 200_000 + "x",
    ],
    ids=["dashes", "spaces", "label", "separator", "salutation", "attribution"],
)
def test_long_lines_never_hide_the_request(line: str) -> None:
    # Their cost (linear, not quadratic) is timed by bench/pathological_inputs.py.
    assert new_text(f"testo\n{line}\n").startswith("testo")
