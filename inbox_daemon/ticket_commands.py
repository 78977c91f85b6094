"""`inbox-daemon tickets …`: list, show and export tickets, and move them through their life
(assign, start, close, reopen, import-status)."""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import sys
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import IO, Any

from sqlmodel import col, select

from inbox_daemon import lifecycle
from inbox_daemon.context import Context
from inbox_daemon.errors import ExitCode, UsageError
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Ticket
from inbox_daemon.tickets import export_row

CSV_FIELDS = [
    "number", "channel", "status", "sender", "subject", "request_type", "urgency",
    "pole_codes", "criminal_event", "related_ticket", "received_at", "deemed_received_at",
    "registered_at", "sent_at", "message_id", "queue", "competence", "assigned_to",
    "closed_at", "location", "unknown_poles", "candidate_poles", "pec", "fax", "rule_hits",
    "phone",
]  # fmt: skip
SHOW_FIELDS = [
    "number", "status", "channel", "sender", "subject", "request_type", "urgency",
    "criminal_event", "pole_codes", "related_ticket", "queue", "assigned_to", "received_at",
    "deemed_received_at", "deemed_reason", "registered_at", "closed_at", "sent_at",
    "message_id",
]  # fmt: skip
MOVES = ("assign", "start", "close", "reopen")


def tickets(args: argparse.Namespace, ctx: Context) -> int:
    action = args.tickets_command
    if action == "list":
        return list_tickets(args, ctx)
    if action == "show":
        return show(args, ctx)
    if action in MOVES:
        return move(args, ctx)
    if action == "import-status":
        return import_status(args, ctx)
    if action == "add":
        from inbox_daemon.call_commands import add

        return add(args, ctx)
    return export(args, ctx)


def list_tickets(args: argparse.Namespace, ctx: Context) -> int:
    query = select(Ticket).order_by(col(Ticket.id).desc()).limit(args.limit)
    for name in ("status", "queue", "urgency", "channel"):
        if getattr(args, name):
            query = query.where(getattr(Ticket, name) == getattr(args, name))
    if args.since:
        query = query.where(Ticket.received_at >= _day(args.since, ctx))
    if args.until:
        query = query.where(Ticket.received_at < _day(args.until, ctx) + timedelta(days=1))
    with transaction(ctx.engine) as session:
        for t in session.exec(query):
            when = t.received_at.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M")
            flags = " REATO" if t.criminal_event else ""
            print(
                f"{t.number}  {when}  {t.status:<11} {t.channel:<5} {t.request_type:<15}"
                f" {t.urgency:<9} {(t.sender or '-')[:30]:<30} {t.subject[:50]}{flags}"
            )
    return ExitCode.ok


def _day(text: str, ctx: Context) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=ctx.tz)
    except ValueError:
        raise UsageError(f"{text!r} is not a date such as 2026-11-24") from None


def show(args: argparse.Namespace, ctx: Context) -> int:
    with transaction(ctx.engine) as session:
        ticket = lifecycle.find(session, args.number)
        row = export_row(session, ticket, ctx.tz)
    if args.json:
        print(json.dumps(row, ensure_ascii=False, indent=2))
        return ExitCode.ok
    for key in SHOW_FIELDS:
        print(f"{key + ':':<20} {row[key] if row[key] is not None else '-'}")
    if row["phone"]:  # a call: who, and the recording to listen to
        phone = {k: v for k, v in row["phone"].items() if v is not None and k != "transcript"}
        print(f"{'phone:':<20} {json.dumps(phone, ensure_ascii=False)}")
    print("rule hits:")
    for hit in row["rule_hits"]:
        print(f"  {hit['field']:<15} {hit['value']:<16} {hit['rule']}: {hit['evidence']!r}")
    for att in row["attachments"]:
        read = "" if att["ocr_confidence"] is None else f", OCR {att['ocr_confidence']:.2f}"
        print(f"attachment: {att['filename']} ({att['content_type']}, {att['size']} bytes{read})")
    print("history:")
    for event in row["history"]:
        team = f" -> {event['team']}" if event["team"] else ""
        note = f": {event['note']}" if event["note"] else ""
        print(f"  {event['at'][:16]}  {event['action']:<7} {event['from_status']} -> "
              f"{event['to_status']}{team}  ({event['actor']}){note}")  # fmt: skip
    print("\n" + ticket.text.strip())
    return ExitCode.ok


def move(args: argparse.Namespace, ctx: Context) -> int:
    at = lifecycle.parse_time(args.at, ctx.tz) if getattr(args, "at", None) else None
    change = lifecycle.Change(
        args.tickets_command, args.by or getpass.getuser(), at, args.note or "",
        getattr(args, "to", None),
    )  # fmt: skip
    with transaction(ctx.engine) as session:
        ticket = lifecycle.find(session, args.number)
        event = lifecycle.apply(session, ticket, change)
        number = ticket.number
    print(f"{number}: {event.from_status} -> {event.to_status}"
          + (f", assigned to {event.team}" if event.team else ""))  # fmt: skip
    return ExitCode.ok


def import_status(args: argparse.Namespace, ctx: Context) -> int:
    """Every row is checked; a wrong one is reported by line and the others still applied,
    each in its own transaction (a row imported twice changes nothing)."""
    actor = f"import:{args.file.name}"[:64]
    counts = {"changed": 0, "unchanged": 0, "refused": 0}
    for row in lifecycle.read_status_file(args.file):
        try:
            with transaction(ctx.engine) as session:
                counts[lifecycle.import_row(session, row, actor, ctx.tz)] += 1
        except UsageError as exc:
            counts["refused"] += 1
            print(f"{args.file}:{row.line}: {exc}", file=sys.stderr)
    print(f"{args.file}: {counts['changed']} changed, {counts['unchanged']} already so, "
          f"{counts['refused']} refused")  # fmt: skip
    return ExitCode.usage if counts["refused"] else ExitCode.ok


def export(args: argparse.Namespace, ctx: Context) -> int:
    out: IO[str] = (
        args.output.open("w", encoding="utf-8", newline="") if args.output else sys.stdout
    )
    try:
        with transaction(ctx.engine) as session:
            tickets = session.exec(select(Ticket).order_by(col(Ticket.id)))
            write_rows(out, (export_row(session, t, ctx.tz) for t in tickets), args.format)
    finally:
        if args.output:
            out.close()
    return ExitCode.ok


def write_rows(out: IO[str], rows: Iterable[dict[str, Any]], format: str) -> None:
    """Export rows as JSON lines or CSV (the monthly report's CSV is the same)."""
    if format != "csv":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    writer = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row.get(k)) for k in CSV_FIELDS})


def _csv_value(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value
