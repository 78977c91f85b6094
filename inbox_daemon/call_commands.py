"""`inbox-daemon tickets add --channel phone`: a call an operator took becomes a ticket.

The call is written as a message (`parsers.phone.operator`) and spooled on channel `phone`
like any message, so the same rules classify it, the same progressive number is given, and
the same call registered twice (same number, time and text) makes one ticket. The number and
the time of registration are printed for the operator to read out to the caller.
"""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlmodel import select

from inbox_daemon import lifecycle, pipeline
from inbox_daemon.context import Context
from inbox_daemon.errors import ExitCode, UsageError
from inbox_daemon.spool import Incoming, Origin
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Ticket
from inbox_daemon.store.types import utcnow
from parsers.phone.operator import call_message


def add(args: argparse.Namespace, ctx: Context) -> int:
    """One call from the options, or a batch from `--jsonl FILE` (one call per line)."""
    if args.channel != "phone":
        raise UsageError("tickets add registers calls: --channel phone")
    operator = args.by or getpass.getuser()
    calls = list(_batch(args, ctx, operator)) if args.jsonl else [_one(args, ctx, operator)]
    worst = ExitCode.ok
    for call in calls:
        result = register(ctx, **call)
        if args.json:
            print(json.dumps(result, ensure_ascii=False))
        elif result["ticket"]:
            print(_read_out(result))
        else:
            print(f"{result['outcome']}: {result.get('error') or 'nessun ticket'}")
        if not result["ticket"]:
            worst = ExitCode.input_not_stored
    return worst


def _one(args: argparse.Namespace, ctx: Context, operator: str) -> dict[str, Any]:
    if not (args.from_ and args.text):
        raise UsageError("tickets add needs --from NUMBER and --text TEXT (or --jsonl FILE)")
    at = lifecycle.parse_time(args.at, ctx.tz) if args.at else utcnow()
    return {"number": args.from_, "text": args.text, "at": at, "name": args.name,
            "operator": operator}  # fmt: skip


def _batch(args: argparse.Namespace, ctx: Context, operator: str) -> Iterator[dict[str, Any]]:
    """Lines of {"from", "text", "at", "name", "by"}; a bad line stops before any is added."""
    calls = []
    for n, line in enumerate(args.jsonl.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            number, text = str(row["from"]), str(row["text"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f'{args.jsonl}:{n}: expected {{"from", "text"}}: {exc}') from None
        at = lifecycle.parse_time(row["at"], ctx.tz) if row.get("at") else utcnow()
        calls.append({"number": number, "text": text, "at": at, "name": row.get("name"),
                      "operator": row.get("by") or operator})  # fmt: skip
    yield from calls


def register(
    ctx: Context, number: str, text: str, at: datetime, name: str | None, operator: str
) -> dict[str, Any]:
    """Spool the call (durable first), then process it: {"outcome", "ticket", ...}."""
    if at > utcnow():
        raise UsageError(f"{at.isoformat()} is in the future: a call is registered once taken")
    raw = call_message(number, text, at, name, operator)
    origin = Origin(source="operator", detail=operator)
    spooled = ctx.spool.store(Incoming(raw=raw, origin=origin, received_at=at, channel="phone"))
    outcome = pipeline.process(ctx, spooled.message_pk)
    result: dict[str, Any] = {
        "outcome": outcome.outcome if outcome.fresh else "duplicate",
        "ticket": outcome.ticket,
        "error": outcome.error,
    }
    if outcome.ticket:
        with transaction(ctx.engine) as session:
            ticket = session.exec(select(Ticket).where(Ticket.number == outcome.ticket)).one()
            result.update(
                registered_at=ticket.registered_at.astimezone(ctx.tz).isoformat(),
                request_type=ticket.request_type,
                urgency=ticket.urgency,
            )
    return result


def _read_out(result: dict[str, Any]) -> str:
    """What the operator reads to the caller, in Italian."""
    registered = datetime.fromisoformat(result["registered_at"])
    again = " (già registrata)" if result["outcome"] == "duplicate" else ""
    return (
        f"Richiesta n. {result['ticket']} registrata il {registered:%d/%m/%Y} alle "
        f"{registered:%H:%M}{again} — {result['request_type']}, {result['urgency']}"
    )
