"""The IMAP source's pure parts and config checks (the protocol itself: tests/integration)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inbox_daemon.backoff import Backoff
from inbox_daemon.config import Config
from inbox_daemon.errors import ConfigError
from inbox_daemon.sources.imap import BATCH_BYTES, _batches
from inbox_daemon.sources.imap_after import refusal_problem
from inbox_daemon.sources.imap_idle import CHECK_S, _closed, _track
from inbox_daemon.sources.imap_names import Namespaces, keeps_flag, resolve

SOURCE = """
[[sources]]
name = "pec"
kind = "imap"
host = "imap.pec.example.it"
username = "segnalazioni@pec.example.it"
password_env = "INBOX_TEST_PEC"
"""


@pytest.fixture
def pec_config(
    make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], Config]:
    monkeypatch.setenv("INBOX_TEST_PEC", "x")
    return lambda extra: make_config(SOURCE + extra)


def test_missing_ca_file_is_named(pec_config: Callable[[str], Config]) -> None:
    with pytest.raises(ConfigError, match=r"sources\[0\]\.ca_file: no such file: .*/ca\.pem"):
        pec_config('ca_file = "ca.pem"')


def test_moving_into_a_folder_that_is_read_is_refused(pec_config) -> None:
    with pytest.raises(ConfigError, match=r"sources\[0\]\.after: 'INBOX' is also in folders"):
        pec_config('after = "move:INBOX"')


def test_batches_by_count_and_by_bytes() -> None:
    uids = list(range(1, 8))
    assert list(_batches(uids, dict.fromkeys(uids, 10), {}, 3)) == [[1, 2, 3], [4, 5, 6], [7]]
    sizes = {1: BATCH_BYTES - 5, 2: 10, 3: 10}
    assert list(_batches([1, 2, 3], sizes, {}, 50)) == [[1], [2, 3]]
    assert list(_batches([1, 2, 3], sizes, {1: sizes[1]}, 50)) == [[1, 2, 3]]  # not fetched


def test_idle_counts_growth_not_expunges() -> None:
    assert _track([(5, b"EXISTS")], 4) == (5, True)
    assert _track([(3, b"EXPUNGE"), (3, b"EXISTS")], 4) == (3, False)
    assert _track([(b"OK", b"Still here")], 4) == (4, False)


def test_idle_end_of_file_and_bye_mean_closed() -> None:
    assert _closed([], waited=0.01)
    assert not _closed([], waited=CHECK_S)
    assert _closed([(b"BYE", b"Server shutting down.")], waited=0.01)


def test_backoff_grows_to_its_cap_and_resets() -> None:
    backoff = Backoff(base_s=2.0, cap_s=10.0)
    delays = [backoff.next_delay() for _ in range(6)]
    assert 1.0 <= delays[0] <= 2.0 and 5.0 <= delays[-1] <= 10.0
    backoff.reset()
    assert backoff.next_delay() <= 2.0


COURIER = Namespaces(personal=(("INBOX.", "."),), shared=(("#shared.", "."),))


def test_names_are_read_in_the_personal_namespace() -> None:
    assert resolve("Processed", COURIER) == "INBOX.Processed"
    assert resolve("Già trattati", COURIER) == "INBOX.Già trattati"  # UTF-7: imapclient's job
    assert resolve("INBOX", COURIER) == "INBOX" and resolve("inbox", COURIER) == "inbox"
    assert resolve("INBOX.Processed", COURIER) == "INBOX.Processed"  # written in full already
    assert resolve("inbox.Processed", COURIER) == "inbox.Processed"  # INBOX in any case
    assert resolve("#shared.Fax", COURIER) == "#shared.Fax"  # another namespace
    dovecot = Namespaces(personal=(("", "/"),))
    assert resolve("Processed", dovecot) == "Processed"
    assert resolve("Processed", Namespaces()) == "Processed"  # no NAMESPACE at all


def test_permanent_flags_decide_whether_a_flag_is_kept() -> None:
    assert keeps_flag("$InboxDaemon", None)  # no PERMANENTFLAGS: all flags (RFC 3501 §7.1)
    assert keeps_flag("$InboxDaemon", (b"\\Seen", b"\\*"))
    assert not keeps_flag("$InboxDaemon", (b"\\Seen", b"\\Deleted"))
    assert keeps_flag("\\Flagged", (b"\\flagged",))  # flags are case-insensitive
    assert not keeps_flag("\\Flagged", (b"\\Seen", b"\\*"))  # \\* is for keywords only
    assert not keeps_flag("$InboxDaemon", ())  # EXAMINE: nothing can be kept


def test_a_refusal_names_the_server_answer_and_the_key_to_change() -> None:
    text = refusal_problem(
        "INBOX", "move:Processed", "move:INBOX.Processed", "create failed: Permission denied",
        COURIER,
    )  # fmt: skip
    assert text.startswith("folder 'INBOX': the server refused to move stored messages to")
    assert "'INBOX.Processed' (create failed: Permission denied)" in text
    assert 'check after = "move:Processed"' in text and "separator '.'" in text
    flag = refusal_problem("INBOX", "flag:$X", "flag:$X", "store failed", COURIER)
    assert "flag them $X (store failed)" in flag and 'check after = "flag:$X"' in flag
