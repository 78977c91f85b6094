"""PEC through a real Dovecot and through `ingest` behaves the same (issue 14): a mix of the
real samples and generated envelopes and receipts gives the same tickets, certifications and
receipts either way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import Session, select

from inbox_daemon.cli import main
from inbox_daemon.config import load_config
from inbox_daemon.context import build_context
from inbox_daemon.daemon import Daemon
from inbox_daemon.errors import ExitCode
from inbox_daemon.store.db import open_store
from inbox_daemon.store.models import Message, PecReceipt, Ticket
from integration.dovecot import Dovecot
from integration.helpers import IN_PROCESS, imap_source_toml
from tests.conftest import BASE_CONFIG, shared_samples
from tests.pec import build

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dovecot")]
MOZILLA = Path("/etc/ssl/certs/ca-certificates.crt")


def what_was_made(url: str) -> tuple[set, list[str]]:
    with Session(open_store(url)) as session:
        tickets = {
            (t.subject, t.sender, t.pec["certified"], t.pec_identificativo, t.message_id)
            for t in session.exec(select(Ticket))
        }
        receipts = sorted(r.receipt_type for r in session.exec(select(PecReceipt)))
        assert all(m.status == "processed" for m in session.exec(select(Message)))
    return tickets, receipts


def test_a_mix_of_real_and_generated_pec_is_the_same_through_imap_and_ingest(
    tmp_path: Path, dovecot: Dovecot, new_user: Callable[[], str], imap_password: str, capsys
) -> None:
    samples = shared_samples("pec")
    pki = build.make_pki()
    trust = tmp_path / "trust.pem"
    trust.write_bytes(MOZILLA.read_bytes() + pki.trust_pem)
    files = [p.read_bytes() for p in sorted(samples.glob("*.eml"))]
    files += [build.envelope(pki), build.envelope(pki, digest="sha1", opaque=True)]
    files += [build.receipt(pki, "avvenuta-consegna", "<ack@x>"), build.anomaly(pki)]
    files[-1] = files[-1].replace(b"<orig-1@", b"<orig-2@")  # the anomaly: another message
    user = new_user()
    dovecot.append(user, files)
    common = BASE_CONFIG + IN_PROCESS + f'[pec]\ntrust_store = "{trust}"\n'

    imap = tmp_path / "imap"
    imap.mkdir()
    (imap / "config.toml").write_text(
        common + imap_source_toml("pec", user, port=dovecot.port, channel="pec")
    )
    ctx = build_context(load_config(imap / "config.toml"))
    assert Daemon(ctx).run_once() == ExitCode.ok

    direct = tmp_path / "ingest"
    direct.mkdir()
    (direct / "config.toml").write_text(common)
    for i, raw in enumerate(files):
        (direct / f"{i}.eml").write_bytes(raw)
    paths = [str(direct / f"{i}.eml") for i in range(len(files))]
    assert (
        main(["--config", str(direct / "config.toml"), "ingest", "--channel", "pec", *paths]) == 0
    )

    by_imap = what_was_made(f"sqlite:///{imap}/tickets.db")
    by_ingest = what_was_made(f"sqlite:///{direct}/tickets.db")
    assert by_imap == by_ingest
    tickets, receipts = by_imap
    assert len(tickets) == 5 + 3 - 1  # real envelopes, generated ones; the opaque is a copy
    assert receipts == sorted(
        ["accettazione", "accettazione", "accettazione", "avvenuta-consegna",
         "avvenuta-consegna", "errore-consegna"]
    )  # fmt: skip
    certified = {subject for subject, _, ok, _, _ in tickets if ok}
    assert "Re: test" in certified and "Lampione spento in via Roma" in certified
