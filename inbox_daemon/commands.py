"""The CLI's commands: each takes the parsed arguments and returns an exit code."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import select
from tqdm import tqdm

import parsers.mime
import parsers.quoting
import rules
from inbox_daemon import pipeline, pole_commands, receipts, status, ticket_commands, voicemail
from inbox_daemon.acks import template_problems
from inbox_daemon.config import Config, load_config, not_acted_on, resolve_secrets, secret_problems
from inbox_daemon.context import Context, build_context, load_trust
from inbox_daemon.errors import ConfigError, ExitCode, UsageError
from inbox_daemon.report import command as report_command
from inbox_daemon.sources.files import HEAD_BYTES, file_received_at, message_files
from inbox_daemon.spool import Incoming, Origin
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message, Outbox, Ticket
from inbox_daemon.store.types import utcnow
from inbox_daemon.workers import start_forkserver

# The commands that connect to a mailbox or a relay, and so read every secret up front.
# `ingest` and `reprocess` only queue acknowledgements: the daemon's outbox sends them.
CONNECTING = {"run", "sources"}
ANALYSING = {"ingest", "reprocess"}  # commands that classify in their own process
if TYPE_CHECKING:
    from parsers.pec import TrustStore

log = logging.getLogger(__name__)


def dispatch(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.command == "check-config":
        return check_config(config)
    for problem in not_acted_on(config):
        log.warning("%s (the key is ignored)", problem)
    if args.command in CONNECTING:
        resolve_secrets(config)
    if args.command == "run" and config.processing.worker_count:
        start_forkserver()  # loads the workers' parser and rules while this process starts
    if args.command == "rules":
        return explain(args, config)
    if args.command == "ocr":
        from inbox_daemon.ocr_command import ocr_files

        return ocr_files(args, config)
    if args.command == "sources":
        from inbox_daemon.sources.imap_probe import test_sources

        return test_sources(config, args.names)
    ctx = build_context(config)
    if args.command in ANALYSING or (args.command == "run" and not config.processing.worker_count):
        ctx = _compiled(ctx)  # these analyse in this process
    handlers: dict[str, Callable[[argparse.Namespace, Context], int]] = {
        "run": run,
        "ingest": ingest,
        "tickets": ticket_commands.tickets,
        "messages": messages,
        "reprocess": reprocess,
        "acks": acks,
        "outbox": acks,
        "poles": pole_commands.poles,
        "labels": pole_commands.labels,
        "report": report_command.report,
        "status": status.status,
        "calls": _calls,
    }
    return handlers[args.command](args, ctx)


def _calls(args: argparse.Namespace, ctx: Context) -> int:
    from inbox_daemon.calls import calls

    return calls(args, ctx)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from inbox_daemon.daemon import Daemon

    pole_commands.refresh_register(ctx)
    daemon = Daemon(ctx)
    return daemon.run_once() if args.once else daemon.run_forever()


def _compiled(ctx: Context) -> Context:
    """Analysis in this process (`ingest`, `reprocess`, `run` with `workers = 0`): the rules
    compiled from the cache when they are the shipped ones (compared by value), instead of
    compiled on the first message."""
    from inbox_daemon.compiled_rules import shipped_rules

    try:
        shipped = shipped_rules()
    except rules.RulesError:  # as loaded by the context, which said so
        return ctx
    if (shipped.rules, shipped.decisions) != (ctx.ruleset.rules, ctx.ruleset.decisions):
        return ctx  # the operator's overrides: compiled on the first message, as before
    return dataclasses.replace(ctx, ruleset=shipped)


def check_config(config: Config) -> int:
    """Everything `run` would refuse, and the keys nothing acts on yet, all at once."""
    problems = template_problems(config.acknowledgements)
    problems += secret_problems(config) + not_acted_on(config)
    problems += voicemail.config_problems(config)
    from inbox_daemon.ocr_command import missing_programs

    problems += missing_programs(config)
    register = config.poles.register_path
    if register is not None and not register.is_file():
        problems.append(f"poles.register: no such file: {register}")
    trust = _trust_store(config, problems)
    if problems:
        raise ConfigError(problems)
    print(f"{config.path}: ok")
    print(f"  database: {config.database.url}")
    print(f"  storage:  {config.storage.dir}")
    if trust is not None:
        print(f"  pec trust store: {len(trust.ders)} CA certificate(s)")
    for source in config.sources:
        print(f"  source {source.name}: {source.kind}, channel {source.channel}")
    if not config.sources:
        print("  no sources: only `ingest` will bring messages in")
    print(f"  {voicemail.describe(config)}")
    return ExitCode.ok


def _trust_store(config: Config, problems: list[str]) -> TrustStore | None:
    """The PEC trust store as `run` will read it; its problem added to `problems`."""
    if config.pec.trust_store is None or not config.pec.trust_store.is_file():
        return None  # unset, or already reported missing
    try:
        return load_trust(config)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


def ingest(args: argparse.Namespace, ctx: Context) -> int:
    """Store and process files; exit non-zero only if an input could not be stored at all."""
    files = [f for path in args.paths for f in _expand(path)]
    worst = ExitCode.ok
    show_progress = not args.json and sys.stderr.isatty()
    for path in tqdm(files, desc="ingest", unit="msg", disable=not show_progress, file=sys.stderr):
        result = _ingest_one(ctx, path, args.channel)
        if result["outcome"] == "error":
            worst = ExitCode.input_not_stored
        if args.json:
            print(json.dumps(result, ensure_ascii=False), flush=True)
        else:
            ticket = f" {result['ticket']}" if result.get("ticket") else ""
            reason = f" ({result['error']})" if result.get("error") else ""
            print(f"{path}: {result['outcome']}{ticket}{reason}")
    return worst


def _expand(path: Path) -> list[Path]:
    if not path.exists():
        return [path]  # reported as an input that could not be stored
    return list(message_files(path))


def _ingest_one(ctx: Context, path: Path, channel: str) -> dict[str, Any]:
    """Store one file from the open file, as the drop folder does: a file near the size limit
    is copied in chunks, never held whole."""
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
            incoming = Incoming(
                raw=b"",
                origin=Origin(source="ingest", detail=str(path.resolve())),
                received_at=file_received_at(head, fallback=utcnow()),
                channel=channel,
                file=handle,
            )
            spooled = ctx.spool.store(incoming)
    except OSError as exc:
        return {"file": str(path), "outcome": "error", "ticket": None, "error": exc.strerror}
    outcome = pipeline.process(ctx, spooled.message_pk)
    result = {
        "file": str(path),
        "outcome": outcome.outcome if outcome.fresh else "duplicate",
        "ticket": outcome.ticket,
        "message": spooled.message_pk,
    }
    if outcome.error:
        result["error"] = outcome.error
    return result


def messages(args: argparse.Namespace, ctx: Context) -> int:
    with transaction(ctx.engine) as session:
        if args.messages_command == "show":
            m = session.get(Message, args.id)
            if m is None:
                raise UsageError(f"no message {args.id}")
            for key, value in m.model_dump().items():
                print(f"{key + ':':<20} {value}")
            print(f"{'raw file:':<20} {ctx.spool.blobs.path('raw', m.sha256)}")
            return ExitCode.ok
        query = select(Message).order_by(Message.id.desc()).limit(args.limit)
        if args.status:
            query = query.where(Message.status == args.status)
        for m in session.exec(query):
            error = f"  {m.last_error[:80]}" if m.last_error else ""
            print(
                f"{m.id:>6}  {m.status:<11} {m.outcome or '-':<11} {m.source:<10} "
                f"{m.received_at.astimezone(ctx.tz):%Y-%m-%d %H:%M}{error}"
            )
    return ExitCode.ok


def reprocess(args: argparse.Namespace, ctx: Context) -> int:
    count = pipeline.requeue(ctx, args.ids or None)
    print(f"{count} message(s) queued again")
    progress = tqdm(total=count, desc="reprocess", unit="msg", file=sys.stderr,
                    disable=not sys.stderr.isatty())  # fmt: skip
    for outcome in pipeline.process_pending(ctx):
        progress.update()
        print(f"message {outcome.message_pk}: {outcome.outcome} {outcome.ticket or ''}".rstrip())
    progress.close()
    return ExitCode.ok


def acks(args: argparse.Namespace, ctx: Context) -> int:
    if args.acks_command == "retry":
        return acks_retry(args, ctx)
    return acks_list(args, ctx)


def acks_retry(args: argparse.Namespace, ctx: Context) -> int:
    """Queue failed jobs again after the cause is fixed; the daemon sends them on its next
    outbox pass. Given ids may also name suppressed jobs (flood limit) an operator releases."""
    with transaction(ctx.engine) as session:
        query = select(Outbox).where(Outbox.state == "failed")
        if args.ids:
            query = select(Outbox).where(
                Outbox.id.in_(args.ids), Outbox.state.in_(["failed", "suppressed"])
            )
        jobs = list(session.exec(query))
        for job in jobs:
            job.state, job.attempts, job.next_attempt_at = "pending", 0, utcnow()
            session.add(job)
    print(f"{len(jobs)} acknowledgement(s) queued again")
    return ExitCode.ok


# What the PEC receipts of an acknowledgement add up to (`receipts.delivery_states`).
PEC_STATES = {
    "accepted": "accepted", "delivered": "delivered", "not_delivered": "NOT-DELIVERED",
    "not_accepted": "NOT-ACCEPTED", "other": "receipt", "unverified": "receipt-unverified",
}  # fmt: skip


def acks_list(args: argparse.Namespace, ctx: Context) -> int:
    with transaction(ctx.engine) as session:
        query = select(Outbox).order_by(Outbox.id.desc()).limit(args.limit)
        if getattr(args, "kind", None):
            query = query.where(Outbox.kind == args.kind)
        if args.state:
            query = query.where(Outbox.state == args.state)
        jobs = list(session.exec(query))
        delivered = receipts.delivery_states(session, [job.id for job in jobs])
        for job in jobs:
            ticket = session.get(Ticket, job.ticket_id) if job.ticket_id else None
            error = f"  {job.last_error[:60]}" if job.last_error else ""
            number = ticket.number if ticket else "-"
            pec = f"  pec={PEC_STATES[delivered[job.id]]}" if job.id in delivered else ""
            print(
                f"{job.id:>6}  {job.kind:<7} {job.state:<10} {number:<12}"
                f" {job.recipient:<35} attempts={job.attempts}{pec}{error}"
            )
    return ExitCode.ok


def explain(args: argparse.Namespace, config: Config) -> int:
    from inbox_daemon.context import load_rules

    subject, text = args.subject, args.text or ""
    if args.file:
        subject, text = _text_of(args.file)
    if not text and not subject:
        raise UsageError("give a text, or --file with a message or text file")
    # the parts as the pipeline reads them: a forwarded message, a reply's quoted history
    parts = parsers.quoting.split(text, subject or "")
    doc = rules.RuleInput(subject, parts.text, forwarded=parts.forwarded, quoted=parts.quoted)
    verdict = rules.classify(doc, load_rules(config), config.poles.pole_formats())
    print(f"request_type:   {verdict.request_type}")
    print(f"urgency:        {verdict.urgency}")
    print(f"criminal_event: {verdict.criminal_event}")
    print(f"pole_codes:     {', '.join(verdict.pole_codes) or '-'}")
    print(f"ticket_refs:    {', '.join(verdict.ticket_refs) or '-'}")
    print("because:")
    for hit in verdict.hits:
        print(f"  {hit.field:<15} {hit.value:<16} {hit.rule}: {hit.evidence!r}")
    return ExitCode.ok


def _text_of(path: Path) -> tuple[str, str]:
    data = path.read_bytes()
    if path.suffix.lower() in {".eml", ".msg", ".txt"} and b"\n\n" in data[:65536].replace(
        b"\r", b""
    ):
        try:
            parsed = parsers.mime.parse(data)
            if parsed.headers:
                return parsed.subject, parsed.body_text
        except parsers.errors.ParseError:
            pass
    return "", data.decode("utf-8", errors="replace")
