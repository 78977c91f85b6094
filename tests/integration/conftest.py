"""A real Dovecot for the whole session (one per xdist worker: its tests share a group), fresh
users per test, and daemon configurations pointing at it."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inbox_daemon.config import Config
from integration.dovecot import PASSWORD, Dovecot
from integration.helpers import PASSWORD_ENV, dovecot_or_skip, imap_source_toml

_users = itertools.count(1)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA) and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    os.chmod(folder, 0o755)
    os.chmod(key, 0o644)  # read by Dovecot's config process
    return cert, key


@pytest.fixture(scope="session")
def dovecot_server(tls_files: tuple[Path, Path]) -> Iterator[Dovecot]:
    with dovecot_or_skip(*tls_files) as server:
        yield server


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Dovecot:
    """The session's Dovecot, running (a test before may have stopped it)."""
    if dovecot_server.process is None:
        dovecot_server.start()
    return dovecot_server


@pytest.fixture
def new_user(worker_id: str) -> Callable[[], str]:
    """Fresh mailbox users: no test sees another's mail."""
    return lambda: f"u{worker_id}-{os.getpid()}-{next(_users)}"


@pytest.fixture
def imap_password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return PASSWORD_ENV


@pytest.fixture
def imap_config(
    make_config: Callable[..., Config], dovecot: Dovecot, imap_password: str
) -> Callable[..., Config]:
    """A daemon config with one IMAP source `posta` reading `user`'s mailbox."""

    def make(user: str, extra: str = "", **keys: Any) -> Config:
        keys = {"port": dovecot.port, **keys}
        return make_config(imap_source_toml("posta", user, **keys) + extra)

    return make
