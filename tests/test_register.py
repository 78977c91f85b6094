"""The pole register through the CLI: import (atomic, errors by line and column), show, and a
ticket located by its pole's code alone — exact, corrected, unknown — or by its street."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from inbox_daemon.cli import main
from inbox_daemon.errors import ExitCode
from rules import PoleFormat
from rules.poles import code_from_label
from tests.conftest import BASE_CONFIG

ROUTING = """
[[routing]]
match = { urgency = "emergenza" }
queue = "reperibilita"
[[routing]]
match = { municipality = "Pioltello" }
queue = "pioltello"
[[routing]]
match = { zone = "nord" }
queue = "zona-nord"
[[routing]]
queue = "manutenzione"
"""
HEADER = "code,address,municipality,lat,lon,panel,zone\n"
POLES = [
    ("IP-004512", "Via Roma 12", "Segrate", 45.4871, 9.2956, "Q12", "nord"),
    ("IP-004530", "Via Roma 20", "Segrate", 45.4874, 9.2960, "Q12", "nord"),
    ("IP-004570", "Via Roma 2", "Segrate", 45.4869, 9.2950, "Q12", "nord"),
    ("IP-071233", "P.zza Dante 1", "Pioltello", 45.4990, 9.3260, "Q40", ""),
    ("IP-090001", "Viale Europa 7", "Segrate", 45.4801, 9.3001, "Q41", "sud"),
]


def register_csv(rows: list[tuple], delimiter: str = ",") -> str:
    lines = [HEADER.replace(",", delimiter)]
    for row in rows:
        lines.append(delimiter.join(str(v) for v in row) + "\n")
    return "".join(lines)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    (tmp_path / "poles.csv").write_text(register_csv(POLES), encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(BASE_CONFIG + '[poles]\nregister = "poles.csv"\n' + ROUTING, encoding="utf-8")
    return path


def cli(config: Path, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), "-q", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def request(tmp_path: Path, name: str, text: str, subject: str = "Lampione spento") -> Path:
    path = tmp_path / f"{name}.eml"
    path.write_text(
        f"From: Anna Verdi <anna.{name}@example.org>\nSubject: {subject}\n"
        f"Message-ID: <{name}@example.org>\nDate: Tue, 24 Nov 2026 10:00:00 +0100\n\n{text}\n",
        encoding="utf-8",
    )
    return path


def ticket_of(config: Path, capsys, path: Path) -> dict:
    code, out, _ = cli(config, capsys, "ingest", "--json", str(path))
    assert code == ExitCode.ok
    number = json.loads(out)["ticket"]
    _, shown, _ = cli(config, capsys, "tickets", "show", number, "--json")
    return json.loads(shown)


def test_import_then_a_code_alone_locates_the_report(config_file, tmp_path, capsys):
    code, out, _ = cli(config_file, capsys, "poles", "import")
    assert code == ExitCode.ok and "5 poles loaded" in out
    row = ticket_of(config_file, capsys, request(tmp_path, "a", "Il palo IP 004512 è spento."))
    assert row["pole_codes"] == ["IP-004512"] and row["unknown_poles"] == []
    assert row["location"] == {
        "pole": "IP-004512", "address": "Via Roma 12", "municipality": "Segrate",
        "lat": 45.4871, "lon": 9.2956, "match": "exact", "read_as": None,
        "extra": {"panel": "Q12", "zone": "nord"},
    }  # fmt: skip
    assert row["queue"] == "zona-nord"  # routed by the located pole's zone


def test_a_code_one_slip_off_is_corrected_and_the_ticket_carries_the_registered_one(
    config_file, tmp_path, capsys
):
    cli(config_file, capsys, "poles", "import")
    row = ticket_of(config_file, capsys, request(tmp_path, "b", "Spento il lampione IP-071283"))
    assert row["pole_codes"] == ["IP-071233"]
    assert row["location"]["match"] == "corrected" and row["location"]["read_as"] == "IP-071283"
    assert row["queue"] == "pioltello"
    hits = {(h["rule"], h["value"], h["evidence"]) for h in row["rule_hits"]}
    assert ("locate.corrected", "IP-071233", "letto IP-071283") in hits


def test_an_unknown_or_ambiguous_code_is_kept_as_read_and_flagged(config_file, tmp_path, capsys):
    cli(config_file, capsys, "poles", "import")
    unknown = ticket_of(config_file, capsys, request(tmp_path, "c", "Palo IP-555555 spento"))
    assert unknown["pole_codes"] == ["IP-555555"] and unknown["unknown_poles"] == ["IP-555555"]
    assert unknown["location"] is None  # never invented
    ambiguous = ticket_of(config_file, capsys, request(tmp_path, "d", "Palo IP-004510 spento"))
    assert ambiguous["unknown_poles"] == ["IP-004510"] and ambiguous["location"] is None
    [why] = [h for h in ambiguous["rule_hits"] if h["rule"] == "locate.ambiguous"]
    assert "IP-004512" in why["evidence"] and "IP-004530" in why["evidence"]


def test_no_code_but_a_street_gives_its_poles_nearest_civic_first(config_file, tmp_path, capsys):
    cli(config_file, capsys, "poles", "import")
    text = "Il lampione davanti al civico 18 di v. Roma è spento da tre giorni."
    row = ticket_of(config_file, capsys, request(tmp_path, "e", text))
    assert row["location"] is None and row["pole_codes"] == []
    assert row["candidate_poles"] == ["IP-004530", "IP-004512", "IP-004570"]


def test_a_bad_register_is_refused_whole_with_each_error_by_line_and_column(
    config_file, tmp_path, capsys
):
    cli(config_file, capsys, "poles", "import")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        register_csv([
            ("IP-100001", "Via Milano 1", "Segrate", 45.5, 9.3, "", ""),
            ("IP-100002", "", "Segrate", 45.5, 9.3, "", ""),
            ("IP-100003", "Via Milano 3", "Segrate", "quarantacinque", 9.3, "", ""),
            ("IP-100001", "Via Milano 5", "Segrate", 45.5, 9.3, "", ""),
        ]),
        encoding="utf-8",
    )  # fmt: skip
    code, _, err = cli(config_file, capsys, "poles", "import", str(bad))
    assert code == ExitCode.input_not_stored and "the register is unchanged" in err
    assert "bad.csv:3: column address: empty" in err
    assert "bad.csv:4: column lat: 'quarantacinque' is not a lat in degrees" in err
    assert "bad.csv:5: column code: 'IP-100001' is already on an earlier line" in err
    code, out, _ = cli(config_file, capsys, "poles", "show", "IP-004512")  # the old one stays
    assert code == ExitCode.ok and "Via Roma 12" in out
    missing = tmp_path / "missing.csv"
    missing.write_text("code;address;lat\nIP-1;Via X;45\n", encoding="utf-8")
    code, _, err = cli(config_file, capsys, "poles", "import", str(missing))
    assert code == ExitCode.input_not_stored and "missing column(s): municipality, lon" in err


def test_a_reimport_replaces_the_register_and_a_spreadsheets_csv_is_read(
    config_file, tmp_path, capsys
):
    cli(config_file, capsys, "poles", "import")
    newer = tmp_path / "nuovo.csv"
    rows = [("ip004512", "Via Roma 12", "Segrate", "45,4871", "9,2956", "Q99", "")]
    newer.write_bytes(register_csv(rows, ";").encode("cp1252"))  # Excel's "CSV (;)"
    code, out, _ = cli(config_file, capsys, "poles", "import", str(newer))
    assert code == ExitCode.ok and "1 poles loaded" in out and "5 before" in out
    code, out, _ = cli(config_file, capsys, "poles", "show", "IP-004512")
    assert "panel:" in out and "Q99" in out and "45.487100, 9.295600" in out
    code, _, err = cli(config_file, capsys, "poles", "show", "IP-071233")  # gone with the old
    assert code == ExitCode.usage and "no pole IP-071233" in err


def test_show_lists_open_tickets_and_suggests_the_registered_code(config_file, tmp_path, capsys):
    cli(config_file, capsys, "poles", "import")
    row = ticket_of(config_file, capsys, request(tmp_path, "f", "Palo IP-090001 spento"))
    code, out, _ = cli(config_file, capsys, "poles", "show", "ip 090001")
    assert code == ExitCode.ok and "Viale Europa 7" in out and row["number"] in out
    code, _, err = cli(config_file, capsys, "poles", "show", "IP-090007")
    assert code == ExitCode.usage and "did you mean IP-090001?" in err


def test_run_loads_the_configured_register_when_the_file_changed(config_file, tmp_path, capsys):
    assert cli(config_file, capsys, "run", "--once")[0] == ExitCode.ok
    assert cli(config_file, capsys, "poles", "show", "IP-004512")[0] == ExitCode.ok
    rows = [("IP-200000", "Via Nuova 1", "Segrate", 45.5, 9.3, "", "")]
    (tmp_path / "poles.csv").write_text(register_csv(rows), encoding="utf-8")
    assert cli(config_file, capsys, "run", "--once")[0] == ExitCode.ok
    assert cli(config_file, capsys, "poles", "show", "IP-200000")[0] == ExitCode.ok
    (tmp_path / "poles.csv").write_text("not,a,register\n", encoding="utf-8")
    code, _, _ = cli(config_file, capsys, "run", "--once")  # a bad file: still runs
    assert code == ExitCode.ok
    assert cli(config_file, capsys, "poles", "show", "IP-200000")[0] == ExitCode.ok


def test_thousands_of_poles_load_and_locate(config_file, tmp_path, capsys):
    rng = random.Random(3)
    numbers = rng.sample(range(1_000_000), 5000)
    rows = [(f"IP-{n:06d}", f"Via {n % 97} {n % 50}", "Segrate", 45.4, 9.2, "", "")
            for n in numbers]  # fmt: skip
    (tmp_path / "many.csv").write_text(register_csv(rows), encoding="utf-8")
    code, out, _ = cli(config_file, capsys, "poles", "import", str(tmp_path / "many.csv"))
    assert code == ExitCode.ok and "5000 poles loaded" in out
    code_read = f"IP-{numbers[42]:06d}"
    row = ticket_of(config_file, capsys, request(tmp_path, "g", f"Palo {code_read} spento"))
    assert row["location"]["pole"] == code_read and row["location"]["match"] == "exact"


def decoded_pages(pdf: Path, tmp_path: Path) -> list[list[str]]:
    """Every QR code on every page, as a phone would read it: pdftoppm, then zxing-cpp."""
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(tmp_path / "page")],
                   check=True)  # fmt: skip
    pages = []
    for png in sorted(tmp_path.glob("page*.png")):
        found = zxingcpp.read_barcodes(Image.open(png), formats=zxingcpp.BarcodeFormat.QRCode)
        pages.append([barcode.text for barcode in found])
    return pages


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="pdftoppm (poppler-utils) is missing")
def test_label_sheets_hold_one_readable_qr_per_pole_that_leads_back_to_its_code(
    config_file, tmp_path, capsys
):
    rows = [(f"IP-{n:06d}", f"Via Roma {n}", "Segrate", 45.4, 9.2, "", "") for n in range(1, 26)]
    rows.append(("PL/MI/0042", "Via Milano 1", "Milano", 45.4, 9.2, "", ""))
    (tmp_path / "poles.csv").write_text(register_csv(rows), encoding="utf-8")
    cli(config_file, capsys, "poles", "import")
    template = "https://segnalazioni.example.it/p/{code}"
    config_file.write_text(config_file.read_text().replace(
        'register = "poles.csv"\n', f'register = "poles.csv"\nlabel = "{template}"\n'))  # fmt: skip
    pdf = tmp_path / "labels.pdf"
    code, out, _ = cli(config_file, capsys, "labels", "--all", "--out", str(pdf))
    assert code == ExitCode.ok and "26 labels on 2 page(s)" in out
    pages = decoded_pages(pdf, tmp_path)
    assert [len(page) for page in pages] == [21, 5]
    contents = sorted(text for page in pages for text in page)
    assert "https://segnalazioni.example.it/p/PL%2FMI%2F0042" in contents  # one path segment
    formats = [PoleFormat(r"IP[\s\-–/]*(?P<num>\d{6})", "IP-{num}"),
               PoleFormat(r"PL/MI/(?P<num>\d{4})", "PL/MI/{num}")]  # fmt: skip
    assert sorted(code_from_label(text, formats) for text in contents) == sorted(r[0] for r in rows)


def test_labels_default_to_a_mailto_to_the_contact_centre(config_file, tmp_path, capsys):
    cli(config_file, capsys, "poles", "import")
    (tmp_path / "codes.txt").write_text("ip 004512\nIP-071233\n", encoding="utf-8")
    config_file.write_text(
        config_file.read_text() + '[acknowledgements]\nfrom = "segnalazioni@example.it"\n'
    )
    pdf = tmp_path / "two.pdf"
    args = ("labels", "--codes", str(tmp_path / "codes.txt"), "--out", str(pdf))
    code, out, _ = cli(config_file, capsys, *args)
    assert code == ExitCode.ok and "2 labels on 1 page(s)" in out
    if shutil.which("pdftoppm"):
        [page] = decoded_pages(pdf, tmp_path)
        assert sorted(page) == [
            "mailto:segnalazioni@example.it?subject=Segnalazione%20guasto%20punto%20luce%20" + code
            for code in ("IP-004512", "IP-071233")
        ]
    (tmp_path / "codes.txt").write_text("IP-999999\n", encoding="utf-8")
    code, _, err = cli(config_file, capsys, *args)
    assert code == ExitCode.usage and "not in the register: IP-999999" in err
