"""`inbox-daemon poles import [FILE]`, `poles show CODE` and `labels`, and the register kept
in step with `[poles] register` when the daemon starts."""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from pathlib import Path

from sqlmodel import col, select
from tqdm import tqdm

from inbox_daemon.config import WebSource
from inbox_daemon.context import Context
from inbox_daemon.errors import ExitCode, UsageError
from inbox_daemon.register import RegisterError, canonical_code, import_register
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Pole, PoleRegister, Ticket, TicketPole

log = logging.getLogger(__name__)
OPEN = ("open", "in_progress", "redirected")


def poles(args: argparse.Namespace, ctx: Context) -> int:
    if args.poles_command == "import":
        return poles_import(args, ctx)
    return poles_show(args, ctx)


def poles_import(args: argparse.Namespace, ctx: Context) -> int:
    path = args.file or ctx.config.poles.register_path
    if path is None:
        raise UsageError("give the register's CSV file, or set [poles] register")
    bar = tqdm(desc="poles", unit=" rows", file=sys.stderr, disable=not sys.stderr.isatty())
    try:
        done = import_register(ctx.engine, Path(path), ctx.pole_formats, progress=bar)
    finally:
        bar.close()
    print(f"{path}: {done.poles} poles loaded (register version {done.version}, "
          f"{done.replaced} before)")  # fmt: skip
    return ExitCode.ok


def poles_show(args: argparse.Namespace, ctx: Context) -> int:
    code = canonical_code(args.code, ctx.pole_formats)
    index = ctx.register.current().index
    with transaction(ctx.engine) as session:
        pole = session.get(Pole, code)
        if pole is None:
            found = index.locate(code)
            hint = f"; did you mean {found.code}?" if found.code else ""
            hint = f"; it could be {', '.join(found.alternatives)}" if found.alternatives else hint
            raise UsageError(f"no pole {code} in the register{hint}")
        tickets = session.exec(
            select(Ticket)
            .join(TicketPole, col(TicketPole.ticket_id) == Ticket.id)
            .where(TicketPole.code == code, col(Ticket.status).in_(OPEN))
            .order_by(col(Ticket.id).desc())
        ).all()
    print(f"{'code:':<14} {pole.code}")
    print(f"{'address:':<14} {pole.address}")
    print(f"{'municipality:':<14} {pole.municipality}")
    print(f"{'position:':<14} {pole.lat:.6f}, {pole.lon:.6f}")
    for key, value in (pole.extra or {}).items():
        print(f"{key + ':':<14} {value}")
    print(f"open tickets:  {len(tickets) or 'none'}")
    for t in tickets:
        when = t.received_at.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M")
        kind = f"{t.status:<10} {t.request_type:<15} {t.urgency:<9}"
        print(f"  {t.number}  {when}  {kind} {t.subject[:50]}")
    return ExitCode.ok


def labels(args: argparse.Namespace, ctx: Context) -> int:
    """A4 sheets of labels for the given codes (one per line), or for every pole."""
    from inbox_daemon.labels import Label, write_sheets  # reportlab: only for this command

    template = label_template(ctx)
    with transaction(ctx.engine) as session:
        if args.all:
            rows = session.exec(select(Pole).order_by(Pole.code)).all()
        else:
            wanted = _codes_in(args.codes, ctx)
            found = {
                p.code: p for p in session.exec(select(Pole).where(col(Pole.code).in_(wanted)))
            }
            missing = [code for code in wanted if code not in found]
            if missing:
                raise UsageError(f"not in the register: {', '.join(missing[:20])}")
            rows = [found[code] for code in wanted]
    if not rows:
        raise UsageError("the register is empty: load it first with `poles import`")
    pages = write_sheets([Label(p.code, p.address, p.municipality) for p in rows], template,
                         args.out)  # fmt: skip
    print(f"{args.out}: {len(rows)} labels on {pages} page(s)")
    return ExitCode.ok


def label_template(ctx: Context) -> str:
    """`[poles] label`, else the web form's page of the pole (a `kind = "web"` source's
    `base_url`), else a mailto: to the Contact Center's address with the code."""
    if ctx.config.poles.label:
        return ctx.config.poles.label
    web = [source for source in ctx.config.sources if isinstance(source, WebSource)]
    if web:
        return f"{web[0].base_url}/p/{{code}}"
    address = ctx.config.acknowledgements.from_
    if "@" not in address:
        raise UsageError(
            "set [poles] label (a URL or mailto: with {code}), or acknowledgements.from"
        )
    return f"mailto:{address}?subject=Segnalazione%20guasto%20punto%20luce%20{{code}}"


def _codes_in(path: Path, ctx: Context) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    codes = [canonical_code(line, ctx.pole_formats) for line in lines if line.strip()]
    return list(dict.fromkeys(codes))


def refresh_register(ctx: Context) -> None:
    """At start-up: load `[poles] register` when the file differs from what was imported. A
    bad file is logged and the register in use stays as it was: the daemon still starts."""
    path = ctx.config.poles.register_path
    if path is None:
        return
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        log.error("poles.register: cannot read %s: %s; the register in use is kept", path,
                  exc.strerror)  # fmt: skip
        return
    with transaction(ctx.engine) as session:
        state = session.get(PoleRegister, 1)
    if state is not None and state.sha256 == digest:
        return
    try:
        done = import_register(ctx.engine, Path(path), ctx.pole_formats)
    except RegisterError as exc:
        log.error("poles.register: %s", exc)
        return
    log.info("poles.register: %s loaded, %d poles (version %d)", path, done.poles, done.version)
