"""`inbox-daemon report --month YYYY-MM [--format html|json|csv] [--out FILE]`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO

from inbox_daemon.context import Context
from inbox_daemon.errors import ExitCode, UsageError
from inbox_daemon.report.figures import Month, month_figures, month_tickets
from inbox_daemon.store.db import transaction
from inbox_daemon.ticket_commands import write_rows
from inbox_daemon.tickets import export_row


def report(args: argparse.Namespace, ctx: Context) -> int:
    try:
        month = Month.parse(args.month)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out: IO[str] = args.out.open("w", encoding="utf-8", newline="") if args.out else sys.stdout
    try:
        if args.format == "csv":
            with transaction(ctx.engine) as session:
                rows = [
                    export_row(session, t, ctx.tz) for t in month_tickets(session, month, ctx.tz)
                ]
            write_rows(out, rows, "csv")
            return ExitCode.ok
        figures = month_figures(
            ctx.engine, month, ctx.tz, ctx.calendar, ctx.config.report.targets, ctx.config.calls
        )
        if args.format == "json":
            out.write(json.dumps(figures, ensure_ascii=False, indent=2) + "\n")
        else:
            from inbox_daemon.report.html import render  # matplotlib: only for this

            out.write(render(figures))
    finally:
        if args.out:
            out.close()
    if args.out:
        print(f"{args.out}: report for {month} ({args.format})", file=sys.stderr)
    return ExitCode.ok
