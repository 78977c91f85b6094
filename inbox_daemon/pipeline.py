"""From a spooled message to a ticket (or a recorded non-ticket outcome).

Work is driven by `message.status`: a message stays `received` until the transaction that
writes its ticket marks it `processed`, so a crash anywhere before that commit simply means the
message is processed again on the next pass. A message that keeps failing is quarantined with
its error, visible in the CLI, and re-run by `reprocess` after a fix.

The way of a message, in order:

    read      a batch of waiting messages, in one short transaction       (here)
    analyse   parse → screen → classify: `analysis.STAGES`, each a        pure, possibly in
              function from one frozen `Analysis` to the next              worker processes
    place     locate (the pole register) → route: `placing.STAGES`        this process
    decide    what it becomes: a `TicketDraft` with its number, rule      `decide.py`, pure but
              hits and acknowledgement, or a message kept as it is         for its `Ledger`
    record    the drafts of the batch, in one transaction                 `registration.py`

A message that fails costs only its own ticket, and no other ticket its number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlmodel import select

from inbox_daemon import read_pages
from inbox_daemon.analysis import Analyser, Pending, Tools
from inbox_daemon.claims import claim_messages
from inbox_daemon.context import Context
from inbox_daemon.placing import place
from inbox_daemon.registration import Outcome, earlier_outcome, register_batch
from inbox_daemon.store.db import reading, transaction
from inbox_daemon.store.models import Message
from inbox_daemon.voicemail import voicemail_tools
from inbox_daemon.workers import Analyse, InProcess

__all__ = ["BATCH", "Outcome", "analyser", "process", "process_pending", "requeue"]
BATCH = 50  # messages registered per transaction


def analyser(ctx: Context) -> Analyser:
    """The stages, with the slice of the context they need."""
    return Analyser(
        Tools(
            ctx.spool.blobs,
            ctx.ruleset,
            ctx.pole_formats,
            ctx.max_attachment_bytes,
            pages=read_pages.settings(ctx.config.sources, ctx.tz),
            voicemail=voicemail_tools(ctx.config),
            pec_trust=ctx.pec_trust,
        )
    )


def process_pending(
    ctx: Context,
    on_done: Callable[[Outcome], None] | None = None,
    analyse: Analyse | None = None,
    after: int = 0,
) -> Iterator[Outcome]:
    """Process the messages waiting (with an id above `after`), oldest first, until none is
    left; `analyse` may be a `WorkerPool` (default: analysis in this thread)."""
    analyse = analyse or InProcess(analyser(ctx))
    waiting = _pending_batches(ctx, after)  # read
    for messages, analysed in analyse.batches(waiting):  # analyse
        placed = place(analysed, ctx.register, ctx.routing)  # locate, route
        for outcome in register_batch(ctx, messages, placed):  # decide, then record
            if on_done:
                on_done(outcome)
            yield outcome


def process(ctx: Context, message_pk: int) -> Outcome:
    """Process one message; never raises for a problem of the message itself. A message
    processed before reports what it became (`fresh=False`)."""
    with transaction(ctx.engine) as session:
        message = session.get(Message, message_pk)
        if message is None:
            raise KeyError(message_pk)
        if message.status != "received":
            return earlier_outcome(session, message_pk)
    placed = place([analyser(ctx)(pending(message))], ctx.register, ctx.routing)
    [outcome] = register_batch(ctx, [message], placed)
    return outcome


def pending(message: Message) -> Pending:
    return Pending(message.sha256, message.channel, message.received_at, message.source)


def _pending_batches(ctx: Context, last: int = 0) -> Iterator[tuple[list[Message], list[Pending]]]:
    """Waiting messages in batches, each read in its own short transaction: (rows, pendings).

    Only messages after the last one read: one that fails now and waits for a retry is not
    read again in this pass (the next pass retries it). An instance on a shared database
    claims its batch (`claims.py`): messages another instance analyses are left to it.
    """
    while True:
        if ctx.instance is not None:  # several instances: claimed, with an expiry
            with transaction(ctx.engine) as session:
                batch = claim_messages(session, ctx.instance, last, BATCH)
        else:
            with reading(ctx.engine) as session:
                query = select(Message).where(Message.status == "received", Message.id > last)
                batch = list(session.exec(query.order_by(Message.id).limit(BATCH)))
        if not batch:
            return
        last = batch[-1].id
        yield batch, [pending(message) for message in batch]


def requeue(ctx: Context, message_pks: list[int] | None = None) -> int:
    """Put quarantined messages (all, or the given ones) back to `received` for another try."""
    with transaction(ctx.engine) as session:
        query = select(Message).where(Message.status == "quarantined")
        if message_pks:
            query = query.where(Message.id.in_(message_pks))
        rows = list(session.exec(query))
        for row in rows:
            row.status, row.outcome, row.attempts = "received", None, 0
            session.add(row)
        return len(rows)
