"""PEC through the daemon: `ingest` unwraps envelopes into tickets of the original message,
exports `pec`, keeps receipts as receipts linked to the acknowledgement they confirm, and
makes one ticket of a PEC delivered twice."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlmodel import select

from inbox_daemon import outbox
from inbox_daemon.cli import main
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message, Outbox, PecReceipt, Ticket
from tests.conftest import BASE_CONFIG, shared_samples
from tests.pec import build

MOZILLA = "/etc/ssl/certs/ca-certificates.crt"


def config_file(tmp_path: Path, trust: str, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE_CONFIG + f'[pec]\ntrust_store = "{trust}"\n' + extra)
    return path


def ingest(config: Path, *files: Path, capsys) -> list[dict]:
    capsys.readouterr()
    assert (
        main(["--config", str(config), "ingest", "--channel", "pec", "--json", *map(str, files)])
        == 0
    )
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def export(config: Path, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["--config", str(config), "tickets", "export", "--format", "jsonl"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_real_samples_through_ingest(tmp_path, capsys):
    samples = shared_samples("pec")
    config = config_file(tmp_path, MOZILLA)
    results = ingest(config, *sorted(samples.glob("*.eml")), capsys=capsys)
    outcomes = {Path(r["file"]).name: r["outcome"] for r in results}
    assert {n for n, o in outcomes.items() if o == "receipt"} == {
        n for n in outcomes if "-receipt-" in n
    }
    assert {n for n, o in outcomes.items() if o == "ticket"} == {
        n for n in outcomes if "-envelope-" in n
    }
    [aruba] = [t for t in export(config, capsys) if t["subject"] == "Re: test"]
    assert aruba["sender"] == "thinkstudio@pec.it"  # postacert.eml's From, not the provider's
    assert aruba["message_id"] == (
        "<1417097534.920250892639160.712427135196036-openerp-private@master>"
    )
    assert aruba["sent_at"] == "2014-11-27T15:12:16+01:00"  # the daticert date
    pec = aruba["pec"]
    assert pec["certified"] is True and pec["reason"] is None
    assert pec["identificativo"] == "opec275.20141127151216.06559.08.1.17@pec.aruba.it"
    assert pec["sender"] == "thinkstudio@pec.it" and pec["provider"] == "ARUBA PEC S.p.A."
    assert "Posta Certificata ARUBA PEC" in pec["signer"]
    with transaction(_engine(config)) as session:
        receipts = list(session.exec(select(PecReceipt)))
        tickets = list(session.exec(select(Ticket)))
    assert len(receipts) == 5 and len(tickets) == 5
    altered = [t for t in tickets if "mancata consegna" in t.subject.lower()]
    assert altered and altered[0].pec["certified"] is False and altered[0].pec["reason"]


def _engine(config: Path):
    from inbox_daemon.config import load_config
    from inbox_daemon.store.db import open_store

    return open_store(load_config(config).database.url)


def test_a_generated_envelope_is_classified_from_the_original_request(tmp_path, capsys):
    pki = build.make_pki()
    (tmp_path / "ca.pem").write_bytes(pki.trust_pem)
    envelope = tmp_path / "busta.eml"
    envelope.write_bytes(build.envelope(pki))
    config = config_file(tmp_path, "ca.pem")
    [result] = ingest(config, envelope, capsys=capsys)
    assert result["outcome"] == "ticket"
    [ticket] = export(config, capsys)
    assert ticket["subject"] == "Lampione spento in via Roma"  # not "POSTA CERTIFICATA: …"
    assert ticket["sender"] == "protocollo@pec.comune.example.it"
    assert ticket["pole_codes"] == ["IP-004512"] and ticket["request_type"] == "manutenzione"
    assert ticket["pec"]["certified"] is True
    assert ticket["pec"]["sent_at"] == "2026-12-01T10:00:05+01:00" == ticket["sent_at"]
    assert [a["filename"] for a in ticket["attachments"]] == []  # not daticert, postacert, p7s


def test_the_same_pec_twice_makes_one_ticket(tmp_path, capsys):
    """Delivered twice (other Received lines, so other bytes), and once re-wrapped by a list."""
    pki = build.make_pki()
    (tmp_path / "ca.pem").write_bytes(pki.trust_pem)
    raw = build.envelope(pki)
    paths = []
    for i, data in enumerate(
        [raw, b"Received: by relay2; Tue, 1 Dec 2026\r\n" + raw, build.rewrap(raw)]
    ):
        paths.append(tmp_path / f"{i}.eml")
        paths[-1].write_bytes(data)
    results = ingest(config_file(tmp_path, "ca.pem"), *paths, capsys=capsys)
    assert [r["outcome"] for r in results] == ["ticket", "duplicate", "duplicate"]


def test_an_untrusted_envelope_is_a_ticket_that_says_why_it_is_not_certified(tmp_path, capsys):
    pki, other = build.make_pki(), build.make_pki("Altro", ca="Altra CA")
    (tmp_path / "ca.pem").write_bytes(other.trust_pem)
    (tmp_path / "b.eml").write_bytes(build.envelope(pki))
    config = config_file(tmp_path, "ca.pem")
    assert ingest(config, tmp_path / "b.eml", capsys=capsys)[0]["outcome"] == "ticket"
    [ticket] = export(config, capsys)
    assert ticket["pec"]["certified"] is False and "trust store" in ticket["pec"]["reason"]
    assert ticket["subject"] == "Lampione spento in via Roma"


@pytest.fixture
def acked(tmp_path, ack_sink, capsys):
    """A PEC ticket whose acknowledgement went out through a real SMTP relay (the sink)."""
    pki = build.make_pki()
    (tmp_path / "ca.pem").write_bytes(pki.trust_pem)
    (tmp_path / "busta.eml").write_bytes(build.envelope(pki))
    config = config_file(
        tmp_path,
        "ca.pem",
        '[acknowledgements]\nenabled = true\nfrom = "segnalazioni@pec.example.it"\n'
        f'smtp = {{ host = "127.0.0.1", port = {ack_sink.port}, tls = "none" }}\n',
    )
    assert ingest(config, tmp_path / "busta.eml", capsys=capsys)[0]["outcome"] == "ticket"
    from inbox_daemon.config import load_config
    from inbox_daemon.context import build_context

    ctx = build_context(load_config(config))
    assert outbox.deliver_due(ctx) == 1
    [sent] = ack_sink.messages
    assert sent.rcpt_tos == ["protocollo@pec.comune.example.it"]  # the original sender
    return config, pki, sent.message["Message-ID"]


def test_receipts_make_no_ticket_and_are_linked_to_the_acknowledgement(acked, tmp_path, capsys):
    config, pki, ack_id = acked
    for tipo in ("accettazione", "avvenuta-consegna"):
        (tmp_path / f"{tipo}.eml").write_bytes(build.receipt(pki, tipo, ack_id))
    results = ingest(
        config, tmp_path / "accettazione.eml", tmp_path / "avvenuta-consegna.eml", capsys=capsys
    )
    assert [r["outcome"] for r in results] == ["receipt", "receipt"]
    with transaction(_engine(config)) as session:
        [job] = session.exec(select(Outbox)).all()
        rows = session.exec(select(PecReceipt).order_by(PecReceipt.id)).all()
        assert session.exec(select(Ticket)).all().__len__() == 1
    assert [(r.receipt_type, r.outbox_id, r.certified) for r in rows] == [
        ("accettazione", job.id, True), ("avvenuta-consegna", job.id, True),
    ]  # fmt: skip
    capsys.readouterr()
    assert main(["--config", str(config), "acks", "list"]) == 0
    assert "pec=delivered" in capsys.readouterr().out


def test_a_non_delivery_is_logged_and_shown(acked, tmp_path, capsys, caplog):
    config, pki, ack_id = acked
    raw = build.receipt(
        pki, "errore-consegna", ack_id, errore="no-dest", esteso="5.1.1 utente sconosciuto"
    )
    (tmp_path / "errore.eml").write_bytes(raw)
    with caplog.at_level(logging.WARNING):
        assert ingest(config, tmp_path / "errore.eml", capsys=capsys)[0]["outcome"] == "receipt"
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("NOT delivered" in m and "5.1.1" in m for m in warned)
    assert main(["--config", str(config), "acks", "list"]) == 0
    assert "pec=NOT-DELIVERED" in capsys.readouterr().out
    with transaction(_engine(config)) as session:
        message = session.exec(select(Message).order_by(Message.id.desc())).first()
        assert message.outcome == "receipt"


def forward_of(raw: bytes) -> bytes:
    return (
        build.crlf(
            "From: Ufficio Tecnico <tecnico@comune.example.it>\nTo: segnalazioni@example.it\n"
            "Subject: I: POSTA CERTIFICATA: Lampione spento in via Roma\n"
            "Date: Tue, 01 Dec 2026 11:00:00 +0100\nMessage-ID: <fwd-1@comune.example.it>\n"
            'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="f1"\n\n--f1\n'
            "Content-Type: text/plain; charset=utf-8\n\nVi inoltro la PEC ricevuta.\n--f1\n"
            'Content-Type: message/rfc822; name="busta.eml"\n\n'
        )
        + raw
        + build.crlf("\n--f1--")
    )


def test_a_pec_received_directly_and_forwarded_makes_one_ticket(tmp_path, capsys):
    pki = build.make_pki()
    (tmp_path / "ca.pem").write_bytes(pki.trust_pem)
    raw = build.envelope(pki)
    (tmp_path / "inoltro.eml").write_bytes(forward_of(raw))
    (tmp_path / "busta.eml").write_bytes(raw)
    config = config_file(tmp_path, "ca.pem")
    results = ingest(config, tmp_path / "inoltro.eml", tmp_path / "busta.eml", capsys=capsys)
    assert [r["outcome"] for r in results] == ["ticket", "duplicate"]
    [ticket] = export(config, capsys)
    assert ticket["subject"] == "Lampione spento in via Roma"
    assert ticket["pec"]["certified"] is False and "inoltrata" in ticket["pec"]["reason"]
    assert ticket["pec"]["identificativo"]  # still read from its daticert


def test_check_config_reads_the_trust_store(tmp_path, capsys):
    pki = build.make_pki()
    (tmp_path / "ca.pem").write_bytes(pki.trust_pem + build.make_pki(ca="Altra").trust_pem)
    assert main(["--config", str(config_file(tmp_path, "ca.pem")), "check-config"]) == 0
    assert "pec trust store: 2 CA certificate(s)" in capsys.readouterr().out
    (tmp_path / "ca.pem").write_text("non è un certificato\n")
    assert main(["--config", str(config_file(tmp_path, "ca.pem")), "check-config"]) == 2
    assert "pec.trust_store:" in capsys.readouterr().err


def test_a_spoofed_delivery_receipt_proves_nothing(acked, tmp_path, capsys):
    config, _, ack_id = acked
    impostor = build.make_pki("Falso gestore", ca="Falsa CA")
    (tmp_path / "finta.eml").write_bytes(build.receipt(impostor, "avvenuta-consegna", ack_id))
    assert ingest(config, tmp_path / "finta.eml", capsys=capsys)[0]["outcome"] == "receipt"
    assert main(["--config", str(config), "acks", "list"]) == 0
    out = capsys.readouterr().out
    assert "pec=receipt-unverified" in out and "pec=delivered" not in out
