"""Call records into the monthly report: `calls import` of an Asterisk Master.csv, and the
contracts' phone service levels, against figures worked out by hand for the test file."""

from __future__ import annotations

import json

from parsers.phone.cdr import BadRecord, Layout, read_records
from tests.phone.cli import run


def master_row(src, start, answer, end, lastapp, disposition, uniqueid):
    """One line as cdr_csv writes it: every field quoted but the empty `answer` and the
    integers."""
    duration = 60
    answer_field = f'"{answer}"' if answer else ""
    return (
        f'"","{src}","800","from-pstn","""Cittadino"" <{src}>","SIP/trunk-0001",'
        f'"SIP/100-0002","{lastapp}","SIP/100,30","{start}",{answer_field},"{end}",'
        f'{duration},{duration // 2},"{disposition}","DOCUMENTATION","{uniqueid}",""'
    )


# (start, seconds to answer or None, last application, disposition, what the call was)
# December 2026: Fri 4 and Mon 7 are working days (08:30-17:30), Tue 8 is a holiday.
CALLS = [
    ("2026-12-04 09:00:00", 5, "Dial", "ANSWERED", "in_time"),
    ("2026-12-04 09:10:00", 20, "Dial", "ANSWERED", "in_time"),  # exactly at the threshold
    ("2026-12-04 09:20:00", 21, "Dial", "ANSWERED", "answered"),
    ("2026-12-04 09:30:00", 90, "Queue", "ANSWERED", "answered"),
    ("2026-12-04 09:40:00", 91, "Queue", "ANSWERED", "lost"),  # answered too late
    ("2026-12-04 10:00:00", None, "Dial", "NO ANSWER", "lost"),
    ("2026-12-04 10:10:00", None, "Dial", "BUSY", "lost"),
    ("2026-12-04 10:20:00", 0, "Playback", "ANSWERED", "lost"),  # a recorded message
    ("2026-12-04 10:30:00", 8, "VoiceMail", "ANSWERED", "lost"),  # machine in service hours
    ("2026-12-07 11:00:00", 3, "Dial", "ANSWERED", "in_time"),
    ("2026-12-07 11:05:00", 12, "Dial", "ANSWERED", "in_time"),
    ("2026-12-07 11:10:00", 15, "Queue", "ANSWERED", "in_time"),
    ("2026-12-04 22:40:00", 6, "VoiceMail", "ANSWERED", "outside"),  # Friday night
    ("2026-12-08 10:00:00", 6, "VoiceMail", "ANSWERED", "outside"),  # the holiday
    ("2026-11-30 10:00:00", 2, "Dial", "ANSWERED", "november"),  # another month
]


def csv_text(calls=CALLS) -> str:
    lines = []
    for i, (start, wait, app, disposition, _) in enumerate(calls):
        answer = None
        if wait is not None:
            hh, mm, ss = start[11:].split(":")
            total = int(hh) * 3600 + int(mm) * 60 + int(ss) + wait
            answer = f"{start[:11]}{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
        end = start[:14] + "59:59"
        lines.append(
            master_row(f"33312345{i:02d}", start, answer, end, app, disposition, f"1733.{i}")
        )
    return "\n".join(lines) + "\n"


def test_service_levels_of_december(config, tmp_path, capsys):
    cdr = tmp_path / "Master.csv"
    cdr.write_text(csv_text(), encoding="utf-8")
    code, out, _ = run(config, capsys, "calls", "import", str(cdr))
    assert code == 0 and "15 calls imported" in out
    code, out, _ = run(config, capsys, "report", "--month", "2026-12", "--format", "json")
    phone = json.loads(out)["phone"]
    labels = [label for *_, label in CALLS]
    offered = labels.count("in_time") + labels.count("answered") + labels.count("lost")
    assert offered == 12  # worked out by hand: 9 calls on Friday, 3 on Monday
    assert phone["calls"] == 14  # November's is not December's
    assert phone["calls_in_service_hours"] == offered
    assert phone["calls_outside_service_hours"] == 2
    assert phone["answered_in_time"] == 5
    assert phone["answered_in_time_share"] == round(5 / 12, 4)
    assert phone["lost"] == 5
    assert phone["lost_share"] == round(5 / 12, 4)
    assert phone["by_outcome"]["busy"] == 1 and phone["by_outcome"]["voicemail"] == 1
    assert (phone["answered_in_time_target"], phone["lost_target"]) == (0.9, 0.04)


def test_the_same_file_twice_adds_nothing_and_a_grown_file_adds_the_rest(config, tmp_path, capsys):
    cdr = tmp_path / "Master.csv"
    cdr.write_text(csv_text(CALLS[:10]), encoding="utf-8")
    assert "10 calls imported" in run(config, capsys, "calls", "import", str(cdr))[1]
    assert (
        "0 calls imported, 10 already there" in run(config, capsys, "calls", "import", str(cdr))[1]
    )
    cdr.write_text(csv_text(), encoding="utf-8")  # the PBX appended five more
    assert (
        "5 calls imported, 10 already there" in run(config, capsys, "calls", "import", str(cdr))[1]
    )


def test_a_bad_line_is_named_and_the_others_are_imported(config, tmp_path, capsys):
    lines = csv_text(CALLS[:3]).splitlines()
    lines.insert(1, '"","333","800","x","","","","Dial","","ieri","","",1,1,"ANSWERED","",""')
    cdr = tmp_path / "Master.csv"
    cdr.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run(config, capsys, "calls", "import", str(cdr))
    assert code == 4 and "3 calls imported" in out
    assert "Master.csv:2: start 'ieri' is not a time" in err


def test_html_report_shows_the_levels_in_italian(config, tmp_path, capsys):
    cdr = tmp_path / "Master.csv"
    cdr.write_text(csv_text(), encoding="utf-8")
    run(config, capsys, "calls", "import", str(cdr))
    code, out, _ = run(config, capsys, "report", "--month", "2026-12", "--format", "html")
    assert code == 0
    assert "Servizio telefonico" in out and "risposte entro 20 secondi" in out
    assert "41,7%" in out  # 5 of 12


def test_mapped_columns_of_another_pbx():
    text = (
        "Data;Risposta;Chiamante;Esito;Applicazione\n".replace(";", ",")
        + "04/12/2026 09:00,04/12/2026 09:00,0612345678,ANSWERED,Dial\n"
        + "04/12/2026 09:05,,0612345679,NO ANSWER,Dial\n"
    )
    columns = {"start": "Data", "answer": "Risposta", "src": "Chiamante",
               "disposition": "Esito", "lastapp": "Applicazione"}  # fmt: skip
    records = list(read_records(text, Layout(columns, "%d/%m/%Y %H:%M")))
    assert not [r for r in records if isinstance(r, BadRecord)]
    assert [(r.src, r.disposition, r.answer is None) for r in records] == [
        ("0612345678", "ANSWERED", False), ("0612345679", "NO ANSWER", True),
    ]  # fmt: skip


def test_a_mapping_naming_a_missing_column_says_so():
    records = list(read_records("a,b\n1,2\n", Layout({"start": "Data", "disposition": "b"})))
    assert records == [BadRecord(1, "the header has no column Data")]
