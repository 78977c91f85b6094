"""Each stage alone, then `decide` with a ledger of plain facts: the pieces of a message's way
are testable without a database, as the pipeline issue asks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import rules
from inbox_daemon import acks
from inbox_daemon.analysis import (
    STAGES,
    Analyser,
    Analysis,
    Pending,
    Tools,
    classify,
    parse,
    screen,
)
from inbox_daemon.blobs import BlobStore
from inbox_daemon.calendar import ServiceCalendar
from inbox_daemon.config import AcknowledgementsConfig
from inbox_daemon.decide import Policy, Received, decide
from inbox_daemon.drafts import Clues, Kept, Related, TicketDraft
from inbox_daemon.placing import Places, place, route_request
from inbox_daemon.register import LoadedRegister
from inbox_daemon.routing import RouteRule, route
from inbox_daemon.store.db import open_store

ROME = ZoneInfo("Europe/Rome")
TUESDAY_10 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)

REQUEST = (
    b"From: Mario Rossi <mario.rossi@example.org>\r\nTo: segnalazioni@example.it\r\n"
    b"Subject: Palo pericolante\r\nMessage-ID: <m1@example.org>\r\n"
    b"Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n\r\n"
    b"Il palo IP-004512 in via Roma sta per cadere sulla strada, c'e' pericolo.\r\n"
)
RECEIPT = (
    b"From: posta-certificata@pec.example.it\r\nSubject: ACCETTAZIONE: prova\r\n"
    b"X-Ricevuta: accettazione\r\nMessage-ID: <r1@pec.example.it>\r\n\r\nRicevuta\r\n"
)


ROUTING = (
    RouteRule("reperibilita", {"urgency": "emergenza"}),
    RouteRule("polizia", {"criminal_event": True}),
    RouteRule("manutenzione", {"request_type": ["manutenzione", "sollecito"]}),
    RouteRule("sportello"),
)


@pytest.fixture
def tools(tmp_path: Path) -> Tools:
    ruleset = rules.load_ruleset([])
    return Tools(BlobStore(tmp_path / "store"), ruleset, rules.DEFAULT_POLE_FORMATS, 1 << 20)


@pytest.fixture
def register(tmp_path: Path) -> LoadedRegister:
    """An empty register, in a real database: the placing stages then only route."""
    return LoadedRegister(open_store(f"sqlite:///{tmp_path}/t.db"))


def stored(tools: Tools, raw: bytes, channel: str = "email") -> Pending:
    [sha] = tools.blobs.put_many("raw", [raw])
    return Pending(sha, channel)


def test_parse_reads_the_stored_bytes_and_unreadable_bytes_are_final(tools):
    work = parse(Analysis(stored(tools, REQUEST)), tools)
    assert work.parsed is not None and work.parsed.subject == "Palo pericolante"
    broken = parse(Analysis(stored(tools, b"\r\n\r\n")), tools)
    assert broken.ended and broken.final and broken.error.startswith("unreadable message")


def test_screen_keeps_receipts_aside_and_passes_requests_through(tools):
    receipt = screen(parse(Analysis(stored(tools, RECEIPT)), tools), tools)
    assert (receipt.kind, receipt.ended) == ("receipt", True)
    request = parse(Analysis(stored(tools, REQUEST)), tools)
    assert screen(request, tools) is request  # a stage that does not apply passes it through


def test_classify_then_route_the_emergency_to_the_on_call_queue(tools, register):
    work = Analysis(stored(tools, REQUEST))
    for stage in (parse, screen, classify):
        work = stage(work, tools)
    work = route_request(work, Places(register, register.current(), ROUTING))
    assert work.verdict is not None and work.verdict.urgency == "emergenza"
    assert work.verdict.pole_codes == ("IP-004512",)
    assert work.route is not None and (work.route.queue, work.route.rule) == ("reperibilita", 1)


def test_routing_first_match_wins_lists_match_any_and_the_last_catches_the_rest():
    rules_ = (
        RouteRule("reperibilita", {"urgency": "emergenza"}),
        RouteRule("tecnici", {"request_type": ["manutenzione", "sollecito"], "channel": "fax"}),
        RouteRule("sportello"),
    )
    facts = {"urgency": "emergenza", "request_type": "manutenzione", "channel": "fax"}
    assert route(facts, rules_).queue == "reperibilita"
    assert route({**facts, "urgency": "ordinaria"}, rules_).queue == "tecnici"
    sollecito = route({**facts, "urgency": "ordinaria", "request_type": "sollecito"}, rules_)
    assert (sollecito.queue, sollecito.because) == (
        "tecnici",
        "request_type=sollecito, channel=fax",
    )
    assert route({**facts, "urgency": "ordinaria", "channel": "email"}, rules_).queue == (
        "sportello"
    )
    assert route({**facts, "channel": "email"}, rules_[1:2]) is None  # none fits: no queue


def test_an_error_in_a_stage_names_the_stage_and_stops_the_way(tools):
    def exploding(work: Analysis, tools: Tools) -> Analysis:
        raise ValueError("boom")

    analyser = Analyser(tools, (STAGES[0], ("explode", exploding), *STAGES[1:]))
    work = analyser(stored(tools, REQUEST))
    assert work.error == "explode: ValueError: boom" and work.trace and not work.final
    assert work.parsed is not None and work.verdict is None  # what came before is kept


@dataclass
class Ledger:
    """What the registration transaction would answer, as plain data."""

    last: dict[int, int] = field(default_factory=dict)
    registered: set[str] = field(default_factory=set)
    earlier: Related | None = None
    acks_last_hour: int = 0
    asked: list[Clues] = field(default_factory=list)

    def has_ticket(self, message_id: str) -> bool:
        return message_id in self.registered

    def next_number(self, year: int) -> int:
        self.last[year] = self.last.get(year, 0) + 1
        return self.last[year]

    def related(self, clues: Clues) -> Related | None:
        self.asked.append(clues)
        return self.earlier

    def recent_acks(self, recipient: str, since: datetime) -> int:
        return self.acks_last_hour


def policy(ack: bool = True) -> Policy:
    calendar = ServiceCalendar("Europe/Rome", "mon-fri 08:30-17:30", "IT", [])
    cfg = AcknowledgementsConfig(enabled=True, from_="segnalazioni@example.it")
    return Policy(calendar, ROME, timedelta(days=60), acks.AckPolicy.of(cfg, ROME) if ack else None)


@pytest.fixture
def analysed(tools: Tools, register: LoadedRegister):
    def run(raw: bytes = REQUEST) -> Analysis:
        [work] = place([Analyser(tools)(stored(tools, raw))], register, ROUTING)
        return work

    return run


def test_decide_drafts_every_column_with_the_ledgers_number_and_its_acknowledgement(
    tools, analysed
):
    ledger = Ledger(last={2026: 41})
    message = Received(7, "ingress", "email", SATURDAY)
    draft = decide(message, analysed(), ledger, policy(), TUESDAY_10)
    assert isinstance(draft, TicketDraft)
    assert (draft.number, draft.message_pk, draft.source) == ("2026/000042", 7, "ingress")
    assert (draft.urgency, draft.queue, draft.status) == ("emergenza", "reperibilita", "open")
    assert draft.deemed_reason == "fuori_orario" and draft.deemed_received_at > SATURDAY
    assert ("routing[1]", "queue", "reperibilita") in {
        (h.rule, h.field, h.value) for h in draft.hits
    }
    [job] = draft.jobs
    assert job.recipient == "mario.rossi@example.org" and job.state == "pending"
    assert "2026/000042" in job.body and "si considera ricevuta" in job.body
    assert ledger.asked == []  # neither a reminder nor a quoted number: nothing to link


REMINDER = REQUEST.replace(b"Subject: Palo pericolante", b"Subject: Sollecito").replace(
    b"Il palo IP-004512 in via Roma sta per cadere sulla strada, c'e' pericolo.",
    b"Sollecito ancora una volta: il lampione IP-004512 e' sempre spento.",
)


def test_decide_links_a_related_ticket_and_joins_its_thread(tools, analysed):
    earlier = Related(3, "2026/000003", "<first@example.org>", None, "same pole IP-004512")
    ledger = Ledger(earlier=earlier)
    draft = decide(Received(8, "drop", "email", TUESDAY_10), analysed(REMINDER),
                   ledger, policy(), TUESDAY_10)  # fmt: skip
    assert isinstance(draft, TicketDraft) and draft.request_type == "sollecito"
    assert ledger.asked[0].since == TUESDAY_10 - timedelta(days=60)
    assert ledger.asked[0].pole_codes == ("IP-004512",)
    assert draft.columns()["related_ticket_id"] == 3
    assert draft.details == {"chases": "2026/000003", "chases_status": "open"}
    assert draft.thread_root == "<first@example.org>"
    assert ("linking", "2026/000003") in {(h.rule, h.value) for h in draft.hits}


def test_decide_keeps_duplicates_and_non_requests_and_takes_no_number(tools, analysed):
    ledger = Ledger(registered={"<m1@example.org>"})
    message = Received(9, "drop", "email", TUESDAY_10)
    assert decide(message, analysed(), ledger, policy(), TUESDAY_10) == Kept(
        "duplicate", "<m1@example.org>"
    )
    receipt = decide(message, analysed(RECEIPT), ledger, policy(), TUESDAY_10)
    assert isinstance(receipt, Kept) and receipt.outcome == "receipt" and ledger.last == {}
    assert receipt.receipt is not None and not receipt.receipt.certified  # PEC: issue 14


def test_decide_suppresses_acks_beyond_the_hourly_limit_and_plans_none_when_off(tools, analysed):
    work = analysed()
    message = Received(9, "drop", "email", TUESDAY_10)
    flooded = decide(message, work, Ledger(acks_last_hour=5), policy(), TUESDAY_10)
    assert isinstance(flooded, TicketDraft) and flooded.jobs[0].state == "suppressed"
    off = decide(message, work, Ledger(), policy(ack=False), TUESDAY_10)
    assert isinstance(off, TicketDraft) and off.jobs == ()


def test_a_crime_is_redirected_and_routed_by_its_flag(tools, analysed):
    theft = REQUEST.replace(b"Palo pericolante", b"Furto").replace(
        b"Il palo IP-004512 in via Roma sta per cadere sulla strada, c'e' pericolo.",
        b"Stanotte hanno rubato i cavi di rame dell'impianto in via Roma, lampioni spenti.",
    )
    work = analysed(theft)
    assert work.verdict is not None and work.verdict.criminal_event
    assert work.verdict.urgency != "emergenza"  # else the on-call rule, first, would take it
    draft = decide(Received(1, "drop", "email", TUESDAY_10), work, Ledger(), policy(), TUESDAY_10)
    assert isinstance(draft, TicketDraft) and draft.status == "redirected"
    assert draft.queue == "polizia"
    assert "112" in draft.jobs[0].body


def test_the_template_is_read_once_not_per_ticket(tools, analysed, tmp_path):
    template = tmp_path / "ack.txt"
    template.write_text("Richiesta $number\n", encoding="utf-8")
    cfg = AcknowledgementsConfig(enabled=True, from_="cc@example.it", template=template)
    once = replace(policy(), acks=acks.AckPolicy.of(cfg, ROME))
    template.unlink()  # gone after start-up: tickets still get their acknowledgement
    draft = decide(Received(1, "drop", "email", TUESDAY_10), analysed(), Ledger(), once,
                   TUESDAY_10)  # fmt: skip
    assert isinstance(draft, TicketDraft) and draft.jobs[0].body == "Richiesta 2026/000001\n"


def test_the_details_of_a_fault_reach_the_ticket(tools, analysed):
    broken = REQUEST.replace(
        b"Il palo IP-004512 in via Roma sta per cadere sulla strada, c'e' pericolo.",
        b"La coppa di vetro del lampione IP-004512 e' rotta e la lampada e' spenta.",
    ).replace(b"Palo pericolante", b"Lampione rotto")
    draft = decide(Received(1, "drop", "email", TUESDAY_10), analysed(broken), Ledger(),
                   policy(), TUESDAY_10)  # fmt: skip
    assert isinstance(draft, TicketDraft) and draft.request_type == "manutenzione"
    assert sorted(draft.details["fault"]) == ["lampada_rotta", "spenta"]
    assert ("details.lampada_rotta", "fault") in {(h.rule, h.field) for h in draft.hits}
