"""Worker processes start ready (forked by a forkserver that loaded the parser and the rules)
and store the attachments they find, sending back only their sha256."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import select

import rules
from inbox_daemon import pipeline, preload, workers
from inbox_daemon.analysis import Pending
from inbox_daemon.blobs import BlobStore
from inbox_daemon.context import Context
from inbox_daemon.spool import Incoming, Origin
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Attachment

SITE_RULE = """
[[rule]]
name = "site.semaforo"
field = "request_type"
value = "manutenzione"
patterns = ['\\bsemafor\\w*']
"""


def test_a_worker_takes_the_rules_the_forkserver_compiled_when_they_are_the_same(
    ctx: Context,
) -> None:
    analyser = pipeline.analyser(ctx)  # the daemon's rules, loaded apart from the preload's
    assert analyser.tools.ruleset is not preload.SHIPPED_RULES
    assert workers._ready(*workers._shipment(analyser)).tools.ruleset is preload.SHIPPED_RULES


def test_rules_of_the_same_value_have_one_digest_and_other_rules_another(tmp_path: Path) -> None:
    """The digest a worker compares is the rules' value: compiled or not, loaded twice, the
    same; one rule more, another."""
    site = tmp_path / "site.toml"
    site.write_text(SITE_RULE)
    shipped = workers.rules_digest(rules.load_ruleset())
    assert workers.rules_digest(rules.load_ruleset().compile_all()) == shipped
    assert workers.rules_digest(rules.load_ruleset([site])) != shipped


def test_a_worker_compiles_other_rules_itself_before_the_first_message(
    ctx: Context, tmp_path: Path
) -> None:
    site = tmp_path / "site.toml"
    site.write_text(SITE_RULE)
    own = rules.load_ruleset([site])
    analyser = pipeline.analyser(ctx)
    tools = dataclasses.replace(analyser.tools, ruleset=own)
    ready = workers._ready(*workers._shipment(dataclasses.replace(analyser, tools=tools)))
    assert ready.tools.ruleset is not preload.SHIPPED_RULES
    assert ready.tools.ruleset.rules == own.rules  # its own rules, unpickled
    assert "prefilter" in vars(ready.tools.ruleset)  # built now, not on the first message
    assert any(rule.name == "site.semaforo" for rule in ready.tools.ruleset.rules)


def test_compiled_rules_classify_as_rules_compiled_on_first_use() -> None:
    text = rules.RuleInput("Palo pericolante", "Il palo IP-001234 oscilla e sta per cadere")
    cold = rules.classify(text, rules.load_ruleset(), rules.DEFAULT_POLE_FORMATS)
    warm = rules.classify(text, rules.load_ruleset().compile_all(), rules.DEFAULT_POLE_FORMATS)
    assert warm == cold
    assert cold.urgency == "emergenza"


def _with_attachments(*payloads: bytes) -> bytes:
    message = EmailMessage()
    message["From"] = "Mario Rossi <mario.rossi@example.it>"
    message["Subject"] = "Palo piegato, foto allegate"
    message["Message-ID"] = "<large-attachment@example.it>"
    message.set_content("Il palo IP-001234 in via Roma 12 è piegato.")
    for index, payload in enumerate(payloads):
        message.add_attachment(payload, "image", "jpeg", filename=f"foto{index}.jpg")
    return message.as_bytes()


def test_a_large_attachment_is_stored_whole_and_byte_exact_by_the_worker(ctx: Context) -> None:
    payloads = [os.urandom(3 * 1024 * 1024 + 1), b"small"]
    when = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/Rome"))
    incoming = Incoming(_with_attachments(*payloads), Origin("test"), when, "email")
    ctx.spool.store_many([incoming])
    pool = workers.WorkerPool(pipeline.analyser(ctx), workers=1)
    try:
        [outcome] = pipeline.process_pending(ctx, analyse=pool)
    finally:
        pool.close()
    assert outcome.outcome == "ticket"
    with transaction(ctx.engine) as session:
        rows = list(session.exec(select(Attachment).order_by(Attachment.index)))
    assert [(row.sha256, row.size) for row in rows] == [
        (hashlib.sha256(payload).hexdigest(), len(payload)) for payload in payloads
    ]
    assert [ctx.spool.blobs.get("attachments", row.sha256) for row in rows] == payloads


def test_the_worker_sends_back_the_attachments_sha256_not_their_bytes(ctx: Context) -> None:
    payload = os.urandom(100_000)
    sha = ctx.spool.blobs.put("raw", _with_attachments(payload))
    [analysis] = workers.stored_attachments(
        ctx.spool.blobs, [pipeline.analyser(ctx)(Pending(sha, "email"))]
    )
    assert analysis.parsed is not None
    [part] = analysis.parsed.attachments
    assert part.payload == b""
    assert part.sha256 == hashlib.sha256(payload).hexdigest()
    assert part.size == len(payload)
    assert ctx.spool.blobs.get("attachments", part.sha256) == payload


def test_attachments_the_worker_cannot_store_go_back_whole(ctx: Context, tmp_path: Path) -> None:
    payload = os.urandom(1000)
    sha = ctx.spool.blobs.put("raw", _with_attachments(payload))
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the store's folder should be")
    analysed = pipeline.analyser(ctx)(Pending(sha, "email"))
    [analysis] = workers.stored_attachments(BlobStore(blocked), [analysed])
    assert analysis.parsed is not None
    [part] = analysis.parsed.attachments
    assert (part.payload, part.sha256) == (payload, None)  # registration stores it, as before


class PoolWithoutDescriptors(workers.WorkerPool):
    """Fault injection: the workers cannot start, as when a flood holds every descriptor
    (tests/smtp/test_smtp_flood.py causes that for real, with the daemon as a process; here the
    same OSError is raised directly, to look at what the pool does in return)."""

    def _start(self):  # type: ignore[override]
        raise OSError(24, "Too many open files")


def test_a_pool_that_cannot_start_analyses_in_the_daemon_meanwhile(ctx: Context, caplog) -> None:
    when = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/Rome"))
    count = pipeline.BATCH + 10  # two batches: the pool is tried again for the second
    raws = [_with_attachments(b"x" * (n + 1)) for n in range(count)]
    raws = [raw.replace(b"<large-attachment@", f"<m{i}@".encode()) for i, raw in enumerate(raws)]
    ctx.spool.store_many([Incoming(raw, Origin("test"), when, "email") for raw in raws])
    pool = PoolWithoutDescriptors(pipeline.analyser(ctx), workers=2)
    try:
        outcomes = list(pipeline.process_pending(ctx, analyse=pool))
    finally:
        pool.close()
    assert [o.outcome for o in outcomes] == ["ticket"] * count
    warnings = [r.getMessage() for r in caplog.records if "cannot start" in r.getMessage()]
    assert len(warnings) == 1 and "Too many open files" in warnings[0]  # once, not per batch
