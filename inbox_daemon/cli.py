"""The `inbox-daemon` command. Only this module turns exceptions into exit codes."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from inbox_daemon.errors import ExitCode, InboxError

DEFAULT_CONFIG = "/etc/inbox-daemon/config.toml"
log = logging.getLogger("inbox_daemon")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inbox-daemon",
        description="Registers and classifies the requests that reach a Contact Center by "
        "e-mail, PEC and fax.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ.get("INBOX_DAEMON_CONFIG", DEFAULT_CONFIG)),
        help=f"TOML configuration (default: $INBOX_DAEMON_CONFIG or {DEFAULT_CONFIG})",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--once", action="store_true", help="one pass over every source, then exit")

    ingest = sub.add_parser("ingest", help="run the full pipeline on .eml files or maildirs")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest.add_argument("--channel", choices=["email", "pec", "fax"], default="email")
    ingest.add_argument("--json", action="store_true", help="one JSON object per input")

    tickets = sub.add_parser("tickets", help="list, show and export tickets")
    tsub = tickets.add_subparsers(dest="tickets_command", required=True, metavar="ACTION")
    tlist = tsub.add_parser("list", help="the newest tickets, one line each")
    tlist.add_argument("--limit", type=int, default=50)
    tlist.add_argument("--status", choices=["open", "in_progress", "closed", "redirected"])
    tlist.add_argument("--queue")
    tlist.add_argument("--urgency", choices=["emergenza", "urgente", "ordinaria"])
    tlist.add_argument("--channel", choices=["email", "pec", "fax", "web", "phone"])
    tlist.add_argument("--since", metavar="YYYY-MM-DD", help="received on or after this day")
    tlist.add_argument("--until", metavar="YYYY-MM-DD", help="received on or before this day")
    for action, text in (
        ("assign", "give a ticket to a team"),
        ("start", "the intervention has begun"),
        ("close", "the intervention is done"),
        ("reopen", "a closed ticket needs work again"),
    ):
        move = tsub.add_parser(action, help=text)
        move.add_argument("number")
        move.add_argument("--note", required=action in {"close", "reopen"})
        move.add_argument("--by", help="who (default: your user name)")
        if action == "assign":
            move.add_argument("--to", required=True, metavar="TEAM")
        if action == "close":
            move.add_argument("--at", metavar="TIME", help="when it was closed (default: now)")
    timport = tsub.add_parser("import-status", help="statuses from the field crews' system")
    timport.add_argument("file", type=Path, help="CSV (number,status,time,note) or JSON lines")
    tadd = tsub.add_parser("add", help="register a call an operator took (or a batch of them)")
    tadd.add_argument("--channel", choices=["phone"], required=True)
    tadd.add_argument("--from", dest="from_", metavar="NUMBER", help="the caller's number")
    tadd.add_argument("--text", help="what the caller asked for, in the operator's words")
    tadd.add_argument("--name", help="the caller's name, when given")
    tadd.add_argument("--at", metavar="TIME", help="when the call came (default: now)")
    tadd.add_argument("--by", help="the operator (default: your user name)")
    tadd.add_argument("--jsonl", type=Path, metavar="FILE", help='calls: {"from", "text", "at"}')
    tadd.add_argument("--json", action="store_true", help="one JSON object per call")
    tshow = tsub.add_parser("show", help="one ticket in full")
    tshow.add_argument("number")
    tshow.add_argument("--json", action="store_true")
    texport = tsub.add_parser("export", help="every ticket, as JSON lines or CSV")
    texport.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    texport.add_argument("--output", type=Path, help="file to write (default: standard output)")

    messages = sub.add_parser("messages", help="stored messages and their processing state")
    msub = messages.add_subparsers(dest="messages_command", required=True, metavar="ACTION")
    mlist = msub.add_parser("list", help="messages, newest first")
    mlist.add_argument("--status", choices=["received", "processed", "quarantined"])
    mlist.add_argument("--limit", type=int, default=50)
    mshow = msub.add_parser("show", help="one message: origin, state, error")
    mshow.add_argument("id", type=int)

    reprocess = sub.add_parser("reprocess", help="re-run quarantined messages after a fix")
    reprocess.add_argument(
        "ids", nargs="*", type=int, help="message ids (default: all quarantined)"
    )

    sub.add_parser("check-config", help="validate the configuration and report every problem")

    calls = sub.add_parser("calls", help="the PBX's call records, for the phone service levels")
    csub = calls.add_subparsers(dest="calls_command", required=True, metavar="ACTION")
    cimport = csub.add_parser("import", help="add a CDR file's calls (Asterisk Master.csv)")
    cimport.add_argument("file", type=Path, help="the CSV file; records already there are skipped")

    poles = sub.add_parser("poles", help="the pole register: load it, look a pole up")
    psub = poles.add_subparsers(dest="poles_command", required=True, metavar="ACTION")
    pimport = psub.add_parser("import", help="replace the register with a CSV file, atomically")
    pimport.add_argument("file", nargs="?", type=Path, help="default: [poles] register")
    pshow = psub.add_parser("show", help="one pole, with its open tickets")
    pshow.add_argument("code")

    status = sub.add_parser("status", help="is all well? (exit 0), else what needs a person")
    status.add_argument("--json", action="store_true")

    report = sub.add_parser("report", help="the monthly statistical report")
    report.add_argument("--month", required=True, metavar="YYYY-MM")
    report.add_argument("--format", choices=["html", "json", "csv"], default="html")
    report.add_argument("--out", type=Path, metavar="FILE", help="default: standard output")

    labels = sub.add_parser("labels", help="A4 sheets of pole labels with QR codes, as PDF")
    which = labels.add_mutually_exclusive_group(required=True)
    which.add_argument("--codes", type=Path, metavar="FILE", help="the codes, one per line")
    which.add_argument("--all", action="store_true", help="every pole of the register")
    labels.add_argument("--out", type=Path, required=True, metavar="PDF")

    sources = sub.add_parser("sources", help="check the configured mailboxes")
    ssub = sources.add_subparsers(dest="sources_command", required=True, metavar="ACTION")
    stest = ssub.add_parser(
        "test", help="log in to IMAP sources: what they would watch, where mail would go"
    )
    stest.add_argument("names", nargs="*", metavar="NAME", help="sources (default: every IMAP)")

    rules_cmd = sub.add_parser("rules", help="the classification rules")
    rsub = rules_cmd.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    explain = rsub.add_parser("explain", help="why a text or message file is classified so")
    explain.add_argument("text", nargs="?", help="the text to classify")
    explain.add_argument("--file", type=Path, help="a message file (.eml) or a text file")
    explain.add_argument("--subject", default="")

    ocr_cmd = sub.add_parser("ocr", help="what the OCR stage reads from fax pages or photos")
    ocr_cmd.add_argument("files", nargs="+", type=Path, metavar="FILE", help="TIFF, PDF or image")
    ocr_cmd.add_argument("--json", action="store_true", help="one JSON object per file")

    acks = sub.add_parser("acks", help="acknowledgements waiting, sent or failed")
    asub = acks.add_subparsers(dest="acks_command", required=True, metavar="ACTION")
    alist = asub.add_parser("list", help="acknowledgements and other outgoing mail")
    alist.add_argument("--state", choices=["pending", "sending", "sent", "failed", "suppressed"])
    alist.add_argument("--limit", type=int, default=50)
    aretry = asub.add_parser("retry", help="send failed (or the given) acknowledgements again")
    aretry.add_argument("ids", nargs="*", type=int, help="outbox ids (default: every failed one)")

    outbox = sub.add_parser("outbox", help="everything to send: acks, alerts, forwards, webhooks")
    osub = outbox.add_subparsers(dest="acks_command", required=True, metavar="ACTION")
    olist = osub.add_parser("list", help="outgoing jobs, newest first")
    olist.add_argument("--kind", choices=["ack", "alert", "forward", "webhook", "report"])
    olist.add_argument("--state", choices=["pending", "sending", "sent", "failed", "suppressed"])
    olist.add_argument("--limit", type=int, default=50)
    oretry = osub.add_parser("retry", help="send failed (or the given) jobs again")
    oretry.add_argument("ids", nargs="*", type=int, help="outbox ids (default: every failed one)")
    return parser


def setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    # Under systemd the journal adds its own timestamps.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)
    # mail-parser warns about every odd part; the parser records those as defects already.
    logging.getLogger("mailparser").setLevel(logging.ERROR)
    # APScheduler logs every job run at INFO: one line a second for a drop folder.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbose else logging.WARNING)
    # imapclient's protocol trace at DEBUG trips over imaplib's own formatting.
    logging.getLogger("imapclient").setLevel(logging.INFO)
    # Alembic announces each of its plugins at INFO; the migrations it runs are worth a line.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with collections_paused(args.command == "run"):
        # Imported here, not at the top: the worker processes that parse and classify start
        # by importing this module (multiprocessing re-imports `__main__`), and need none of it.
        from inbox_daemon import commands

        if not gc.isenabled():
            gc.freeze()  # the modules: most of the heap, which the daemon's collection skips
        setup_logging(args.verbose, args.quiet)
        try:
            return int(commands.dispatch(args))
        except InboxError as exc:
            print(f"inbox-daemon: {exc}", file=sys.stderr)
            return int(exc.exit_code)
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            return int(ExitCode.ok)


@contextmanager
def collections_paused(paused: bool) -> Iterator[None]:
    """`run` starts with the cyclic garbage collector off: its start-up (imports, the store,
    the rules) builds some 110,000 objects that live as long as the process, and collections
    walked them again and again as they grew (about 0.17 s of CPU). The modules, imported
    first, are frozen out of every collection at once (their import leaves some hundreds of
    cyclic garbage objects, frozen with them); the daemon collects what the rest of start-up
    left, once, and freezes that too before its loop, which turns collections back on
    (`daemon.freeze_startup_heap`); however `run` ends, they are on again after it."""
    was_on = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


if __name__ == "__main__":
    sys.exit(main())
