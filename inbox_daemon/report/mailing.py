"""The monthly report on schedule: made on the first working day of each month (the service
calendar's) at `[report] send_at`, for the month before, and mailed to `[report] recipients`
through the outbox, which retries it as it does an acknowledgement.

Once: a month's report is recorded in `report_run` (its month unique) in the transaction that
queues its mails, so a restart, a second instance or a late run never mails it twice; one
that fails before that commit leaves nothing behind and is made again. Missed: a report that
fell due while the daemon was down is made at its next start, once; so is each month missed
since the last report made (at most `CATCH_UP_MONTHS`), but not the months before the service
held anything (a new installation does not mail its referent an empty report of last month).

The mail: a short summary in Italian, the HTML page (one file with its charts), the JSON
figures and the CSV of the tickets behind them as attachments; its MIME body is kept in the
store (`report/ab/sha256`) and the outbox job points at it.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from inbox_daemon.calendar import ServiceCalendar
from inbox_daemon.context import Context
from inbox_daemon.report.figures import Month, month_figures, month_tickets
from inbox_daemon.report.html import LABELS, month_title
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message, Outbox, ReportRun
from inbox_daemon.store.types import utcnow
from inbox_daemon.ticket_commands import write_rows
from inbox_daemon.tickets import export_row, iso

log = logging.getLogger(__name__)
KIND = "report"  # the outbox job's kind, and the store's folder for the mail's body
CATCH_UP_MONTHS = 12  # at a start after a long stop, the older months are named, not made
_LATE = timedelta(minutes=10)  # made later than this after it fell due: logged as missed


def send_time(text: str) -> time:
    """`[report] send_at` ("09:00", validated by the config) as a time of day."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def first_working_day(calendar: ServiceCalendar, year: int, month: int) -> date:
    """The first day of the month on which the service opens (not a holiday, not a closure,
    a day with opening hours): the day the calendar next opens from the 1st at midnight."""
    return calendar.next_opening(datetime(year, month, 1, tzinfo=calendar.tz)).date()


def due_at(calendar: ServiceCalendar, at: time, month: Month) -> datetime:
    """When the report of `month` is due: the first working day of the month after, at `at`."""
    _, end = month.bounds(calendar.tz)
    day = first_working_day(calendar, end.year, end.month)
    return datetime.combine(day, at, tzinfo=calendar.tz)


def next_due(calendar: ServiceCalendar, at: time, after: datetime) -> tuple[Month, datetime]:
    """The next report to fall due strictly after `after`: its month and when."""
    local = after.astimezone(calendar.tz)
    month = Month(local.year, local.month).previous()
    while (when := due_at(calendar, at, month)) <= after:
        month = Month(month.year + month.month // 12, month.month % 12 + 1)
    return month, when


def due_months(calendar: ServiceCalendar, at: time, since: datetime, now: datetime) -> list[Month]:
    """The months whose report fell due in (since, now], oldest first; the newest
    `CATCH_UP_MONTHS` of them when there are more (the others are logged)."""
    local = now.astimezone(calendar.tz)
    month, found = Month(local.year, local.month).previous(), []
    while (when := due_at(calendar, at, month)) > since:
        if when <= now:
            found.append(month)
        if len(found) > CATCH_UP_MONTHS:
            log.error("report: the reports up to %s were never mailed; make them with "
                      "`inbox-daemon report --month`", found.pop())  # fmt: skip
            break
        month = month.previous()
    return found[::-1]


class MonthlyTrigger(BaseTrigger):
    """APScheduler's trigger for the report: fires when the next report falls due, so the
    scheduler (and `status`) know the real date: 4 January, not 1 January, say."""

    def __init__(self, calendar: ServiceCalendar, at: time) -> None:
        self.calendar, self.at = calendar, at

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        after = max(now, previous_fire_time) if previous_fire_time else now - timedelta(seconds=1)
        return next_due(self.calendar, self.at, after)[1]


def make_due(ctx: Context, now: datetime, running_since: datetime) -> list[Month]:
    """Make and queue every report due by `now` and not made yet; return the months made here.

    `running_since`: when this daemon started; with no report made yet, the months due since
    then, or since the store's first message, count as due (see the module's docstring).
    """
    at = send_time(ctx.config.report.send_at)
    made = []
    for month in due_months(ctx.calendar, at, _since(ctx, running_since), now):
        if make(ctx, month, due_at(ctx.calendar, at, month), now):
            made.append(month)
    return made


def _since(ctx: Context, running_since: datetime) -> datetime:
    with transaction(ctx.engine) as session:
        last = session.exec(select(func.max(ReportRun.due_at))).one()
        first = session.exec(select(func.min(Message.spooled_at))).one()
    if last is not None:
        return last
    return min(running_since, first) if first is not None else running_since


def make(ctx: Context, month: Month, due: datetime, now: datetime) -> bool:
    """Make the report of `month` and queue one mail per recipient; False when it was made
    already (here before, or by another instance at the same moment)."""
    if _made(ctx, month):
        return False
    figures = month_figures(ctx.engine, month, ctx.tz, ctx.calendar, ctx.config.report.targets)
    body = _mail_body(ctx, month, figures)
    sha = ctx.spool.blobs.put(KIND, bytes(body))  # durable before the row that points at it
    recipients = list(ctx.config.report.recipients)
    subject = f"Rapporto mensile delle richieste — {month_title(str(month))}"
    summary = _summary(figures)
    try:
        with transaction(ctx.engine) as session:
            run = ReportRun(month=str(month), due_at=due, made_at=now, sha256=sha,
                            tickets=figures["total"], recipients=recipients)  # fmt: skip
            session.add(run)
            for recipient in recipients:
                session.add(Outbox(kind=KIND, recipient=recipient, subject=subject,
                                   body=summary, raw_sha256=sha, next_attempt_at=now,
                                   headers={"Auto-Submitted": "auto-generated"}))  # fmt: skip
    except IntegrityError:  # another instance recorded it first: it mails it
        return False
    late = f" (due {due.astimezone(ctx.tz):%Y-%m-%d %H:%M}: missed)" if now - due > _LATE else ""
    log.info("report %s: %d ticket(s), queued for %s%s", month, figures["total"],
             ", ".join(recipients), late)  # fmt: skip
    return True


def _made(ctx: Context, month: Month) -> bool:
    with transaction(ctx.engine) as session:
        query = select(ReportRun.id).where(col(ReportRun.month) == str(month))
        return session.exec(query).first() is not None


def _mail_body(ctx: Context, month: Month, figures: dict[str, Any]) -> EmailMessage:
    """The summary as text, then the page, the figures and the tickets as attachments."""
    from inbox_daemon.report.html import render  # matplotlib: only when a report is made

    body = EmailMessage()
    body.set_content(_summary(figures))
    body.add_attachment(render(figures), subtype="html", filename=f"rapporto-{month}.html")
    figures_json = json.dumps(figures, ensure_ascii=False, indent=2) + "\n"
    body.add_attachment(figures_json.encode(), maintype="application", subtype="json",
                        filename=f"rapporto-{month}.json")  # fmt: skip
    body.add_attachment(_tickets_csv(ctx, month), subtype="csv",
                        filename=f"richieste-{month}.csv")  # fmt: skip
    return body


def _tickets_csv(ctx: Context, month: Month) -> str:
    out = io.StringIO(newline="")
    with transaction(ctx.engine) as session:
        rows = [export_row(session, t, ctx.tz) for t in month_tickets(session, month, ctx.tz)]
    write_rows(out, rows, "csv")
    return out.getvalue()


def _summary(figures: dict[str, Any]) -> str:
    """The mail's text, in Italian: the main counts; the rest is in the attachments."""

    def counts(key: str) -> str:
        items = figures[key].items()
        return ", ".join(f"{LABELS.get(name, name)} {n}" for name, n in items if n) or "nessuna"

    return "\n".join(
        [
            f"Rapporto mensile delle richieste — {month_title(figures['month'])}",
            "",
            f"Richieste ricevute: {figures['total']} (mese precedente: "
            f"{figures['previous']['total']}).",
            f"Per tipo: {counts('by_request_type')}.",
            f"Per urgenza: {counts('by_urgency')}.",
            f"Per canale: {counts('by_channel')}.",
            f"Possibili reati segnalati: {figures['criminal_events']}.",
            "",
            "In allegato: il rapporto completo con i grafici (HTML), i dati (JSON) e l'elenco",
            "delle richieste del mese (CSV).",
            "",
            "Messaggio generato automaticamente: non rispondere.",
        ]
    )


JOB_ID = "report"
RETRY_AFTER = timedelta(hours=1)


def schedule(scheduler: BaseScheduler, ctx: Context, job: Callable[[], None]) -> None:
    """The report's job in `scheduler`: now (a report missed while the daemon was down),
    then whenever the next one falls due; replaced on reload, removed with the recipients."""
    if not ctx.config.report.recipients:
        if scheduler.get_job(JOB_ID) is not None:
            scheduler.remove_job(JOB_ID)
        return
    trigger = MonthlyTrigger(ctx.calendar, send_time(ctx.config.report.send_at))
    scheduler.add_job(job, trigger, id=JOB_ID, replace_existing=True, coalesce=True,
                      max_instances=1, misfire_grace_time=None,
                      next_run_time=datetime.now(ctx.tz))  # fmt: skip


def run_job(
    scheduler: BaseScheduler, ctx: Context, running_since: datetime, job: Callable[[], None]
) -> list[Month]:
    """One run of the job: the reports due are made; one that cannot be made (the store
    full, say) is logged and tried again in `RETRY_AFTER`, not a month later."""
    now = utcnow()
    try:
        made = make_due(ctx, now, running_since)
    except Exception:  # the job's boundary, as a delivery pass's: logged, retried
        log.exception("report: could not be made; trying again in %s", RETRY_AFTER)
        scheduler.add_job(job, "date", run_date=now + RETRY_AFTER, id=f"{JOB_ID}:retry",
                          replace_existing=True)  # fmt: skip
        return []
    month, when = next_due(ctx.calendar, send_time(ctx.config.report.send_at), now)
    log.info("report: next run %s, for %s", when.isoformat(timespec="minutes"), month)
    return made


OVERDUE_AFTER = timedelta(hours=1)  # `status`: a report this late is a problem


def schedule_status(
    session: Session, ctx: Context, now: datetime
) -> tuple[dict[str, Any] | None, list[str]]:
    """For `status`: the report job's next run and last report made, and the reports due
    more than `OVERDUE_AFTER` ago and not made (the daemon down, or failing to make them)."""
    if not ctx.config.report.recipients:
        return None, []
    at = send_time(ctx.config.report.send_at)
    month, when = next_due(ctx.calendar, at, now)
    last = session.exec(select(ReportRun).order_by(col(ReportRun.due_at).desc())).first()
    first = session.exec(select(func.min(Message.spooled_at))).one()
    since = last.due_at if last is not None else first
    late = due_months(ctx.calendar, at, since, now - OVERDUE_AFTER) if since else []
    problems = [f"report {m}: due at {iso(due_at(ctx.calendar, at, m), ctx.tz)}, not made: "
                "is the daemon running? (see its log)" for m in late]  # fmt: skip
    job = {
        "job": JOB_ID,
        "next_run": iso(when, ctx.tz),
        "month": str(month),
        "recipients": len(ctx.config.report.recipients),
        "last_made": {"month": last.month, "made_at": iso(last.made_at, ctx.tz)} if last else None,
    }
    return job, problems
