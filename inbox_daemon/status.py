"""`inbox-daemon status [--json]`: is all well? One look for an operator, one exit code for a
monitoring check (0: all is well; 6: something needs a person, and the output says what).

Read from the database alone, so it answers whether the daemon runs or not, from any machine
that reaches the database.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from inbox_daemon.context import Context
from inbox_daemon.errors import ExitCode
from inbox_daemon.instances import instance_lines, live_instances
from inbox_daemon.report import mailing
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message, Outbox, PoleRegister, SourceState, Ticket
from inbox_daemon.store.types import utcnow
from inbox_daemon.tickets import iso

STUCK_AFTER = timedelta(minutes=15)  # a message waiting longer: processing is not keeping up


def status(args: argparse.Namespace, ctx: Context) -> int:
    with transaction(ctx.engine) as session:
        report = gather(session, ctx)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print(report)
    return ExitCode.needs_attention if report["problems"] else ExitCode.ok


def gather(session: Session, ctx: Context) -> dict[str, Any]:
    now = utcnow()
    problems: list[str] = []
    sources = []
    for row in session.exec(select(SourceState).order_by(SourceState.source, SourceState.folder)):
        sources.append(
            {
                "source": row.source,
                "folder": row.folder,
                "last_success": iso(row.last_success_at, ctx.tz),
                "last_error": row.last_error,
                "last_error_at": iso(row.last_error_at, ctx.tz),
                "awaiting_action": row.awaiting_action,
            }
        )
        if row.last_error is not None:
            problems.append(f"source {row.source} {row.folder}: {row.last_error}")
        if row.awaiting_action:
            problems.append(f"source {row.source} {row.folder}: {row.awaiting_action} "
                            "message(s) wait for their move or flag")  # fmt: skip
    messages = _messages(session, now)
    if messages["quarantined"]:
        problems.append(f"{messages['quarantined']} message(s) quarantined: messages list "
                        "--status quarantined")  # fmt: skip
    if messages["waiting_too_long"]:
        problems.append(f"{messages['waiting_too_long']} message(s) waiting for more than "
                        f"{STUCK_AFTER.seconds // 60} minutes: is the daemon running?")  # fmt: skip
    outbox = _outbox(session)
    for kind, states in outbox.items():
        if states.get("failed"):
            problems.append(
                f"outbox: {states['failed']} {kind} job(s) failed: acks list --state failed"
            )
    late_alerts = session.exec(
        select(func.count(Outbox.id)).where(
            Outbox.kind == "alert", Outbox.state == "pending", Outbox.attempts > 0
        )
    ).one()
    if late_alerts:
        problems.append(f"outbox: {late_alerts} alert(s) to the on-call crew not delivered yet")
    last = session.exec(select(Ticket).order_by(col(Ticket.id).desc()).limit(1)).first()
    register = session.get(PoleRegister, 1)
    return {
        "sources": sources,
        "messages": messages,
        "outbox": outbox,
        "last_ticket": {"number": last.number, "registered_at": iso(last.registered_at, ctx.tz)}
        if last else None,
        "pole_register": {"poles": register.poles, "version": register.version,
                          "imported_at": iso(register.imported_at, ctx.tz)} if register else None,
        "schedule": _scheduled_runs(session, ctx, now, problems),
        "instances": live_instances(session, ctx.tz, now),  # several on a shared PostgreSQL
        "problems": problems,
    }  # fmt: skip


def _scheduled_runs(
    session: Session, ctx: Context, now: datetime, problems: list[str]
) -> list[dict[str, Any]]:
    """The scheduler's next runs, as the configuration sets them: the monthly report's next
    date (a report overdue is a problem), and how often each source is polled."""
    report, late = mailing.schedule_status(session, ctx, now)
    problems.extend(late)
    polls = [{"job": f"poll:{s.name}", "every_s": s.poll_interval_s}
             for s in ctx.config.sources if hasattr(s, "poll_interval_s")]  # fmt: skip
    return ([report] if report else []) + polls


def _messages(session: Session, now: datetime) -> dict[str, int]:
    count = select(func.count(Message.id))
    waiting = session.exec(count.where(Message.status == "received")).one()
    retrying = session.exec(count.where(Message.status == "received", Message.attempts > 0)).one()
    quarantined = session.exec(count.where(Message.status == "quarantined")).one()
    stuck = session.exec(
        count.where(Message.status == "received", col(Message.spooled_at) < now - STUCK_AFTER)
    ).one()
    return {"waiting": waiting, "retrying": retrying, "quarantined": quarantined,
            "waiting_too_long": stuck}  # fmt: skip


def _outbox(session: Session) -> dict[str, dict[str, int]]:
    found: Counter[tuple[str, str]] = Counter()
    query = select(Outbox.kind, Outbox.state, func.count(Outbox.id)).group_by(
        Outbox.kind, Outbox.state
    )
    for kind, state, n in session.exec(query):
        found[(kind, state)] = n
    kinds = sorted({kind for kind, _ in found})
    states = ("pending", "sending", "sent", "failed", "suppressed")
    return {kind: {state: found.get((kind, state), 0) for state in states} for kind in kinds}


def _print(report: dict[str, Any]) -> None:
    print("all is well" if not report["problems"] else "needs attention:")
    for problem in report["problems"]:
        print(f"  ! {problem}")
    for source in report["sources"]:
        when = source["last_success"] or "never"
        error = f"; last error {source['last_error']}" if source["last_error"] else ""
        print(f"source {source['source']} {source['folder']}: last success {when}{error}")
    m = report["messages"]
    print(f"messages: {m['waiting']} waiting ({m['retrying']} retrying), "
          f"{m['quarantined']} quarantined")  # fmt: skip
    for kind, states in report["outbox"].items():
        print(f"outbox {kind}: " + ", ".join(f"{n} {s}" for s, n in states.items() if n))
    for line in instance_lines(report["instances"]):
        print(line)
    last = report["last_ticket"]
    print(f"last ticket: {last['number']} at {last['registered_at']}" if last else "no tickets")
    for job in report["schedule"]:
        print(f"next run {job['job']}: " + (f"{job['next_run']} ({job['month']})"
              if "next_run" in job else f"every {job['every_s']:g} s"))  # fmt: skip
    poles = report["pole_register"]
    if poles:
        print(f"pole register: {poles['poles']} poles (version {poles['version']}, "
              f"{poles['imported_at']})")  # fmt: skip
