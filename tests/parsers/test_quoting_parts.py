"""parsers.quoting.split: a forwarded message is the request, a reply's history is context."""

from __future__ import annotations

from parsers.quoting import new_text, split

POLICE_FORWARD = """\
Si inoltra per competenza quanto segnalato da un cittadino.
Comando Polizia Locale

-----Messaggio originale-----
Da: Mario Rossi <mario@example.it>
Inviato: lunedì 2 novembre 2026 08:14
A: pl@comune.example.it
Oggetto: palo

Il palo IP-044120 in via Roma è piegato sulla strada e sta per cadere.
"""

OUTLOOK_REPLY = """\
Ancora niente, stiamo sempre al buio.

-----Messaggio originale-----
Da: segnalazioni@example.it
Inviato: 20 ottobre 2026 09:00
A: s.fabbri@example.it
Oggetto: vostra pratica 2026/004512

La sua segnalazione per il punto luce IP-019045 è registrata.
"""

GMAIL_REPLY = """\
Il lampione è ancora spento, vedi sotto.

Il giorno 12 ott 2026, alle ore 20:14, Marco Pini <marco@example.it> ha scritto:
> Il lampione IP-038812 è a terra con i fili scoperti.
"""

APPLE_FORWARD = """\
Vedi sotto.

Inizio messaggio inoltrato:

Da: Anna Conti <anna@example.it>
Oggetto: fili

Al parco c'è un lampione con lo sportello aperto e i fili fuori.
"""


def test_a_forward_with_a_cover_note_keeps_the_forwarded_report_as_the_request():
    parts = split(POLICE_FORWARD, "I: palo")
    assert parts.text.startswith("Si inoltra per competenza")
    assert "IP-044120" in parts.forwarded and "sta per cadere" in parts.forwarded
    assert "Oggetto:" not in parts.forwarded  # its header block is not the report
    assert "sta per cadere" in new_text(POLICE_FORWARD, "I: palo")


def test_the_cover_note_alone_says_forward_without_a_forward_subject():
    assert "sta per cadere" in split(POLICE_FORWARD).forwarded


def test_a_forward_separator_says_forward_whatever_the_cover_note():
    parts = split(APPLE_FORWARD)
    assert "fili fuori" in parts.forwarded and parts.quoted == ""


def test_an_outlook_reply_keeps_the_earlier_message_as_quoted_history_only():
    parts = split(OUTLOOK_REPLY, "R: vostra pratica 2026/004512")
    assert parts.text == "Ancora niente, stiamo sempre al buio."
    assert parts.forwarded == ""
    assert "IP-019045" in parts.quoted
    assert "IP-019045" not in new_text(OUTLOOK_REPLY)


def test_a_reply_quoting_with_chevrons_is_history_even_when_it_says_vedi_sotto():
    parts = split(GMAIL_REPLY, "Re: lampione")
    assert parts.forwarded == ""
    assert "IP-038812" in parts.quoted and "fili scoperti" not in parts.text


def test_a_plain_message_has_one_part():
    parts = split("Il lampione di via Po è spento.\n\nCordiali saluti\nMario")
    assert parts.text == "Il lampione di via Po è spento."
    assert (parts.forwarded, parts.quoted) == ("", "")
