"""Street names as people write them, in the register and in requests."""

from __future__ import annotations

import pytest

from rules.addresses import find_streets, normalise_street, split_address
from rules.poles import DEFAULT_POLE_FORMATS, code_from_label


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("P.zza Dante", "piazza dante"),
        ("PIAZZA DANTE", "piazza dante"),
        ("V.le dell'Università", "viale dell universita"),
        ("C.so Vittorio Emanuele II", "corso vittorio emanuele ii"),
        ("Via G. Garibaldi", "via garibaldi"),
        ("L.go S. Francesco", "largo san francesco"),
        ("v. Roma", "via roma"),
        ("Piazzale  Cadorna", "piazzale cadorna"),
    ],
)
def test_streets_are_normalised_the_same_however_written(written, normal):
    assert normalise_street(written) == normal


@pytest.mark.parametrize(
    ("address", "street", "civic"),
    [
        ("Via Roma 12", "via roma", 12),
        ("Via Roma, 12/A", "via roma", 12),
        ("P.zza Dante n. 3", "piazza dante", 3),
        ("Viale Europa snc", "viale europa snc", None),
        ("Corso Italia", "corso italia", None),
    ],
)
def test_register_addresses_split_into_street_and_civic(address, street, civic):
    assert split_address(address) == (street, civic)


KNOWN = {"via roma", "piazza dante", "viale dell universita", "via dei mille"}


def test_a_registered_street_is_found_in_a_request_with_its_civic_number():
    text = "Buongiorno, il lampione davanti al civico 12 di Via Roma n. 14 è spento."
    [mention] = find_streets(text, KNOWN)
    assert (mention.street, mention.civic) == ("via roma", 14)
    [before] = find_streets("davanti al civico 18 di Via Roma", KNOWN)
    assert (before.street, before.civic) == ("via roma", 18)
    [square] = find_streets("luce spenta in p.zza Dante da ieri", KNOWN)
    assert (square.street, square.civic) == ("piazza dante", None)


def test_the_longest_registered_name_wins_and_unknown_streets_are_not_invented():
    assert [m.street for m in find_streets("in via dei Mille 5", KNOWN)] == ["via dei mille"]
    assert find_streets("v. sotto il messaggio precedente", KNOWN) == []
    assert find_streets("in via Verdi 3", KNOWN) == []


@pytest.mark.parametrize(
    "content",
    [
        "IP-004512",
        "https://cc.example.it/p/IP-004512",
        "https://cc.example.it/segnala?palo=IP-004512&src=qr",
        "https://cc.example.it/p/IP%20004512/",
        "mailto:segnalazioni@example.it?subject=Segnalazione%20palo%20IP-004512",
        "MAILTO:segnalazioni@example.it?body=Palo%20IP004512",
    ],
)
def test_the_code_is_read_out_of_a_label_however_it_is_carried(content):
    assert code_from_label(content, DEFAULT_POLE_FORMATS) == "IP-004512"


def test_a_label_without_a_code_gives_none():
    assert code_from_label("https://cc.example.it/", DEFAULT_POLE_FORMATS) is None
