"""`inbox-daemon calls import FILE`: the PBX's call records, for the report's phone levels.

Idempotent by each record's key (a hash of its fields): a file imported twice, or a
`Master.csv` imported again after it grew, adds only the records not there yet. A line that
is not a record is named and skipped; the others are imported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite

from inbox_daemon.config.phone import CallsConfig
from inbox_daemon.context import Context
from inbox_daemon.errors import ExitCode, UsageError
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import CallRecord
from inbox_daemon.store.types import utcnow
from parsers.phone.cdr import BadRecord, Layout, read_records


def layout(config: CallsConfig, tz: ZoneInfo) -> Layout:
    columns = dict(config.columns) if config.format == "mapped" else None
    return Layout(columns, config.time_format, tz)


def calls(args: argparse.Namespace, ctx: Context) -> int:
    path: Path = args.file
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    added, known, bad = import_calls(ctx, text, str(path.resolve()))
    for record in bad:
        print(f"{path}:{record.line}: {record.reason}", file=sys.stderr)
    print(f"{path}: {added} calls imported, {known} already there, {len(bad)} lines skipped")
    return ExitCode.input_not_stored if bad else ExitCode.ok


def import_calls(ctx: Context, text: str, source: str) -> tuple[int, int, list[BadRecord]]:
    """(records added, records already there, lines that are not records)."""
    read = list(read_records(text, layout(ctx.config.calls, ctx.tz)))
    bad = [r for r in read if isinstance(r, BadRecord)]
    rows = {r.key: r for r in read if not isinstance(r, BadRecord)}
    now = utcnow()
    added = 0
    with transaction(ctx.engine) as session:
        connection = session.connection()
        dialect = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(
            connection.dialect.name, insert
        )
        for record in rows.values():
            values = {
                "key": record.key, "start": record.start, "answer": record.answer,
                "end": record.end, "src": (record.src or "")[:80] or None,
                "dst": (record.dst or "")[:80] or None, "disposition": record.disposition,
                "lastapp": (record.lastapp or "")[:80] or None, "duration_s": record.duration_s,
                "billsec_s": record.billsec_s, "source_file": source[:1000], "imported_at": now,
            }  # fmt: skip
            statement = dialect(CallRecord).values(**values).on_conflict_do_nothing()
            added += connection.execute(statement).rowcount or 0
    return added, len(rows) - added, bad
