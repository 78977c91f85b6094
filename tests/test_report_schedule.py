"""The scheduled monthly report: due on the first working day of the service calendar, made
once, mailed with its page and data through the outbox to a real SMTP sink, and a report
missed while the daemon was down made at its next start. The clock is passed in: no waiting.

Expected dates are read off a printed calendar, not computed by the code under test."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from inbox_daemon.calendar import ServiceCalendar
from inbox_daemon.cli import main
from inbox_daemon.outbox import deliver_due
from inbox_daemon.report.figures import Month
from inbox_daemon.report.mailing import (
    MonthlyTrigger,
    due_at,
    due_months,
    first_working_day,
    make_due,
    next_due,
)
from inbox_daemon.store.db import open_store, transaction
from inbox_daemon.store.models import Message, Outbox, ReportRun
from tests.smtp.conftest import AckSink, free_port
from tests.smtp.test_smtp_bounds import until

ROME = ZoneInfo("Europe/Rome")
AT = time(9, 0)


@pytest.fixture
def sink() -> Iterator[AckSink]:
    """The relay the outbox sends the report through: a real SMTP server keeping each mail."""
    relay = AckSink(free_port())
    relay.start()
    yield relay
    relay.stop()


@pytest.fixture
def calendar() -> ServiceCalendar:
    return ServiceCalendar("Europe/Rome", "mon-fri 08:30-17:30", "IT", ["12-24/01-02"])


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2026, 12, (2026, 12, 1)),  # a Tuesday
        (2027, 1, (2027, 1, 4)),  # 1-2 January closed (and a holiday), then a weekend
        (2027, 5, (2027, 5, 3)),  # 1 May: a Saturday and a holiday
        (2027, 11, (2027, 11, 2)),  # 1 November: a Monday, but Ognissanti
        (2027, 8, (2027, 8, 2)),  # 1 August: a Sunday
    ],
)
def test_the_first_working_day_follows_the_service_calendar(calendar, year, month, expected):
    assert first_working_day(calendar, year, month) == datetime(*expected).date()


def test_a_dated_closure_moves_the_first_working_day():
    closed = ServiceCalendar("Europe/Rome", "mon-fri 08:30-17:30", "IT", ["2027-08-02/2027-08-06"])
    assert first_working_day(closed, 2027, 8) == datetime(2027, 8, 9).date()


def test_the_report_of_a_month_is_due_on_the_next_month_s_first_working_day(calendar):
    assert due_at(calendar, AT, Month(2026, 11)) == rome(2026, 12, 1, 9, 0)
    assert due_at(calendar, AT, Month(2026, 12)) == rome(2027, 1, 4, 9, 0)
    assert due_at(calendar, AT, Month(2026, 12)).utcoffset().total_seconds() == 3600  # CET


def test_the_next_run_is_the_next_due_report(calendar):
    assert next_due(calendar, AT, rome(2026, 12, 1, 8, 59)) == (
        Month(2026, 11),
        rome(2026, 12, 1, 9, 0),
    )
    assert next_due(calendar, AT, rome(2026, 12, 1, 9, 0)) == (Month(2026, 12), rome(2027, 1, 4, 9))
    assert next_due(calendar, AT, rome(2027, 1, 3, 23, 0)) == (Month(2026, 12), rome(2027, 1, 4, 9))
    trigger = MonthlyTrigger(calendar, AT)
    assert trigger.get_next_fire_time(None, rome(2026, 12, 20)) == rome(2027, 1, 4, 9, 0)
    fired = rome(2027, 1, 4, 9, 0)  # after a fire, the next is a month on, never the same
    assert trigger.get_next_fire_time(fired, fired) == rome(2027, 2, 1, 9, 0)


def test_due_months_are_those_due_between_two_instants(calendar):
    assert due_months(calendar, AT, rome(2026, 11, 15), rome(2026, 12, 1, 8, 59)) == []
    assert due_months(calendar, AT, rome(2026, 11, 15), rome(2026, 12, 1, 9, 0)) == [
        Month(2026, 11)
    ]
    # down from late October to 10 January: October (due 2 Nov), November, December
    assert due_months(calendar, AT, rome(2026, 10, 25), rome(2027, 1, 10)) == [
        Month(2026, 10),
        Month(2026, 11),
        Month(2026, 12),
    ]
    # the last report made was November's (due 1 December): December only
    assert due_months(calendar, AT, rome(2026, 12, 1, 9, 0), rome(2027, 1, 10)) == [Month(2026, 12)]


# --- made and mailed ------------------------------------------------------------------------

SEEDED = [  # (day in November 2026 or October, subject, text): 3 in November, 1 in October
    ("Mon, 02 Nov 2026 10:00:00 +0100", "Lampione spento", "Il lampione IP-000101 è spento."),
    ("Tue, 10 Nov 2026 11:00:00 +0100", "Reclamo", "Presento reclamo per il ritardo."),
    ("Mon, 30 Nov 2026 16:00:00 +0100", "Guasto", "Il lampione IP-000102 lampeggia."),
    ("Fri, 30 Oct 2026 10:00:00 +0100", "Guasto", "Il lampione IP-000103 è spento."),
]


CALENDAR = '[calendar]\ntimezone = "Europe/Rome"\nopening_hours = "mon-fri 08:30-17:30"\n'


def report_config(
    tmp_path: Path, relay_port: int, calendar: str = CALENDAR, send_at: str = "09:00"
) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///tickets.db"\n[storage]\ndir = "store"\n'
        + calendar
        + "[processing]\nworkers = 0\n"
        '[acknowledgements]\nfrom = "segnalazioni@example.it"\n'
        f'smtp = {{ host = "127.0.0.1", port = {relay_port}, tls = "none" }}\n'
        '[report]\nrecipients = ["referente@comune.example.it", "ufficio@comune.example.it"]\n'
        f'send_at = "{send_at}"\n',
        encoding="utf-8",
    )
    return path


def seed(config: Path, tmp_path: Path, items: list[tuple[str, str, str]]) -> None:
    for n, (date, subject, text) in enumerate(items):
        path = tmp_path / f"seed{n}.eml"
        path.write_text(
            f"From: Cittadino {n} <c{n}@example.org>\nSubject: {subject}\n"
            f"Message-ID: <sched-{n}@example.org>\nDate: {date}\n\n{text}\n",
            encoding="utf-8",
        )
        assert main(["--config", str(config), "-q", "ingest", str(path)]) == 0


def context_of(config: Path):
    from inbox_daemon.config import load_config
    from inbox_daemon.context import build_context

    return build_context(load_config(config))


def test_the_report_is_made_once_and_mailed_with_its_page_and_data(tmp_path, sink: AckSink):
    config = report_config(tmp_path, sink.port)
    seed(config, tmp_path, SEEDED)
    ctx = context_of(config)
    since = rome(2026, 11, 15)  # the daemon has run since mid-November
    assert make_due(ctx, rome(2026, 12, 1, 8, 59), since) == []  # not due yet
    assert make_due(ctx, rome(2026, 12, 1, 9, 0), since) == [Month(2026, 11)]
    assert make_due(ctx, rome(2026, 12, 1, 9, 30), since) == []  # once
    assert deliver_due(ctx, rome(2026, 12, 1, 9, 1)) == 2
    assert sorted(m.rcpt_tos[0] for m in sink.messages) == [
        "referente@comune.example.it",
        "ufficio@comune.example.it",
    ]
    mail = sink.messages[0].message
    assert mail["Subject"] == "Rapporto mensile delle richieste — novembre 2026"
    assert mail["From"] == "segnalazioni@example.it"
    assert mail["Auto-Submitted"] == "auto-generated"
    text = mail.get_body(("plain",)).get_content()
    assert "Richieste ricevute: 3 (mese precedente: 1)." in text
    files = {part.get_filename(): part for part in mail.iter_attachments()}
    assert set(files) == {
        "rapporto-2026-11.html",
        "rapporto-2026-11.json",
        "richieste-2026-11.csv",
    }
    figures = json.loads(files["rapporto-2026-11.json"].get_content())
    assert (figures["month"], figures["total"]) == ("2026-11", 3)
    assert figures["by_request_type"]["reclamo"] == 1
    rows = list(csv.DictReader(io.StringIO(files["richieste-2026-11.csv"].get_content())))
    assert sorted(row["subject"] for row in rows) == ["Guasto", "Lampione spento", "Reclamo"]
    page = files["rapporto-2026-11.html"].get_content()
    assert "novembre 2026" in page and page.count("data:image/png;base64,") >= 2
    assert deliver_due(ctx, rome(2026, 12, 1, 10, 0)) == 0  # sent: not again
    with transaction(ctx.engine) as session:
        [run] = session.exec(select(ReportRun)).all()
        jobs = session.exec(select(Outbox).where(Outbox.kind == "report")).all()
    assert (run.month, run.tickets) == ("2026-11", 3)
    assert [job.state for job in jobs] == ["sent", "sent"]


def test_a_new_installation_does_not_mail_last_month_s_empty_report(tmp_path, sink):
    ctx = context_of(report_config(tmp_path, sink.port))
    started = rome(2026, 12, 10)
    assert make_due(ctx, started, started) == []  # nothing stored before, nothing ran then
    assert make_due(ctx, rome(2027, 1, 4, 9, 0), started) == [Month(2026, 12)]  # on time


def test_two_instances_at_the_same_moment_queue_the_report_once(tmp_path, sink):
    """Two contexts (two engines, as two daemons on one database) make the same report."""
    import threading

    config = report_config(tmp_path, sink.port)
    seed(config, tmp_path, SEEDED[:1])
    contexts = [context_of(config), context_of(config)]
    made: list[list[Month]] = []
    start = threading.Barrier(2)

    def run(ctx) -> None:
        start.wait()
        made.append(make_due(ctx, rome(2026, 12, 1, 9, 0), rome(2026, 11, 15)))

    threads = [threading.Thread(target=run, args=(ctx,)) for ctx in contexts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(len(m) for m in made) == [0, 1]
    with transaction(contexts[0].engine) as session:
        assert len(session.exec(select(Outbox).where(Outbox.kind == "report")).all()) == 2


# --- the daemon process -------------------------------------------------------------------

ALWAYS_OPEN = (
    '[calendar]\ntimezone = "Europe/Rome"\nopening_hours = "mon-sun 00:00-24:00"\nholidays = ""\n'
)


def run_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """The daemon as a process, logging at INFO (its report lines) into `log`."""
    command = [sys.executable, "-m", "inbox_daemon.cli", "--config", str(config), "run"]
    with open(log, "ab") as stderr:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)


@pytest.mark.slow
def test_a_report_missed_while_the_daemon_was_down_is_made_at_its_next_start_once(
    tmp_path, sink: AckSink
):
    """The service held a message from before last month's report fell due (the 1st at
    00:00, on a calendar open every day), and no report was made: the daemon was down. The
    daemon started now mails that report, once; started again, it mails nothing more."""
    config = report_config(tmp_path, sink.port, ALWAYS_OPEN, send_at="00:00")
    seed(config, tmp_path, SEEDED[:1])
    now = datetime.now(ROME)
    last_month = Month(now.year, now.month).previous()
    engine = open_store(f"sqlite:///{tmp_path}/tickets.db")
    in_service_since, _ = last_month.bounds(ROME)
    with transaction(engine) as session:
        for message in session.exec(select(Message)):
            message.spooled_at = in_service_since
            session.add(message)
    log = tmp_path / "daemon.log"
    for start in (1, 2):
        daemon = run_daemon(config, log)
        try:
            # "report: next run" is logged once the reports due at start are queued
            assert until(lambda n=start: log.read_text().count("report: next run") == n, 120)
            assert until(lambda: len(sink.messages) >= 2, 120)
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=60) == 0
        assert len(sink.messages) == 2, log.read_text()[-3000:]
    with transaction(engine) as session:
        runs = session.exec(select(ReportRun)).all()
        jobs = session.exec(select(Outbox).where(Outbox.kind == "report")).all()
    assert [run.month for run in runs] == [str(last_month)]
    assert len(jobs) == 2 and {job.state for job in jobs} == {"sent"}
    assert "missed" in log.read_text()
    subjects = {m.message["Subject"] for m in sink.messages}
    assert len(subjects) == 1


def test_status_shows_the_next_report_and_names_one_overdue(tmp_path, sink, capsys):
    config = report_config(tmp_path, sink.port, ALWAYS_OPEN, send_at="00:00")
    seed(config, tmp_path, SEEDED[:1])
    now = datetime.now(ROME)
    this_month = Month(now.year, now.month)
    next_first, _ = Month(now.year + now.month // 12, now.month % 12 + 1).bounds(ROME)
    engine = open_store(f"sqlite:///{tmp_path}/tickets.db")
    with transaction(engine) as session:
        for message in session.exec(select(Message)):
            message.spooled_at = this_month.previous().bounds(ROME)[0]  # in service since then
            session.add(message)

    capsys.readouterr()

    def status() -> tuple[int, dict]:
        code = main(["--config", str(config), "-q", "status", "--json"])
        return code, json.loads(capsys.readouterr().out)

    code, shown = status()
    [report] = shown["schedule"]  # and no polled source in this configuration
    assert report["next_run"] == next_first.isoformat()
    assert report["month"] == str(this_month)
    overdue = [p for p in shown["problems"] if p.startswith("report ")]
    assert code != 0 and overdue == [
        f"report {this_month.previous()}: due at {this_month.bounds(ROME)[0].isoformat()}, "
        "not made: is the daemon running? (see its log)"
    ]
    assert make_due(context_of(config), datetime.now(ROME), datetime.now(ROME))
    code, shown = status()
    assert [p for p in shown["problems"] if p.startswith("report ")] == []
    assert shown["schedule"][0]["last_made"]["month"] == str(this_month.previous())


@pytest.mark.parametrize(
    ("report", "problem"),
    [
        ('recipients = ["a@example.it"]\nsend_at = "9"\n', "report.send_at: '9': expected a time"),
        ('recipients = ["a@example.it"]\nsend_at = "24:00"\n', "report.send_at: '24:00'"),
        ('recipients = ["referente"]\n', "report.recipients: 'referente': expected one e-mail"),
        ('recipients = ["a@example.it, b@example.it"]\n', "expected one e-mail address per"),
    ],
)
def test_report_keys_are_checked_by_name(tmp_path, capsys, report, problem):
    config = tmp_path / "config.toml"
    config.write_text(CALENDAR + "[report]\n" + report, encoding="utf-8")
    assert main(["--config", str(config), "check-config"]) == 2
    assert problem in capsys.readouterr().err


def test_mailing_the_report_needs_a_sender(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(CALENDAR + '[report]\nrecipients = ["a@example.it"]\n', encoding="utf-8")
    assert main(["--config", str(config), "check-config"]) == 2
    assert "report.recipients: the report is mailed from acknowledgements.from" in (
        capsys.readouterr().err
    )


def test_a_report_that_cannot_be_stored_is_logged_and_tried_again_in_an_hour(
    tmp_path, sink, caplog
):
    """A real fault: the store's `report` folder is a file, so the mail's body cannot be
    written. Nothing is recorded (made again later), and a retry is scheduled."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from inbox_daemon.report.mailing import RETRY_AFTER, run_job

    config = report_config(tmp_path, sink.port, ALWAYS_OPEN, send_at="00:00")
    seed(config, tmp_path, SEEDED[:1])
    ctx = context_of(config)
    (tmp_path / "store" / "report").write_text("not a folder")
    scheduler = BackgroundScheduler(timezone=ROME)
    now = datetime.now(ROME)
    # in service since the 1st of last month: last month's report is due (the 1st, 00:00)
    long_ago, _ = Month(now.year, now.month).previous().bounds(ROME)
    assert run_job(scheduler, ctx, long_ago, lambda: None) == []
    assert "report: could not be made; trying again in 1:00:00" in caplog.text
    retry = scheduler.get_job("report:retry")
    assert retry is not None
    assert abs((retry.trigger.run_date - datetime.now(ROME)) - RETRY_AFTER).total_seconds() < 60
    with transaction(ctx.engine) as session:
        assert session.exec(select(ReportRun)).all() == []
        assert session.exec(select(Outbox).where(Outbox.kind == "report")).all() == []
    (tmp_path / "store" / "report").unlink()  # fixed: the retry makes it
    assert run_job(scheduler, ctx, long_ago, lambda: None) == [
        Month(now.year, now.month).previous()
    ]
