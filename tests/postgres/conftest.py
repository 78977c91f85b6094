"""A real PostgreSQL for the whole session (one per xdist worker: its tests share a group), a
fresh database per test, and daemon contexts and configuration files pointing at it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from integration.dovecot import PASSWORD, Dovecot
from integration.helpers import PASSWORD_ENV, dovecot_or_skip

from inbox_daemon.context import Context
from postgres.server import Postgres, running_postgres

REPO = Path(__file__).resolve().parents[2]

PG_CONFIG = """
[database]
url = "{url}"
[storage]
dir = "{store}"
[calendar]
timezone = "Europe/Rome"
opening_hours = "mon-fri 08:30-17:30"
holidays = "IT"
[processing]
workers = 0
"""


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    with running_postgres() as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: Postgres) -> Iterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def pg_context(
    make_context: Callable[..., Context], pg_url: str
) -> Iterator[Callable[..., Context]]:
    """Contexts on the test's database (several: as many daemon instances in one process),
    their engines closed after the test."""
    made: list[Context] = []

    def make(extra: str = "", **overrides: Any) -> Context:
        made.append(make_context(extra, database={"url": pg_url}, **overrides))
        return made[-1]

    yield make
    for ctx in made:
        ctx.engine.dispose()


@pytest.fixture
def pg_ctx(pg_context: Callable[..., Context]) -> Context:
    return pg_context()


@pytest.fixture
def pg_config_file(tmp_path: Path, pg_url: str) -> Path:
    """A configuration file for `inbox-daemon` processes: the test's database, a store folder
    in tmp_path, no sources."""
    path = tmp_path / "daemon.toml"
    path.write_text(PG_CONFIG.format(url=pg_url, store=tmp_path / "store"))
    return path


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with dovecot_or_skip() as server:
        yield server


def daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """`inbox-daemon run` as a process of its own, its log appended to `log`."""
    env = {"PATH": "/usr/bin:/bin", PASSWORD_ENV: PASSWORD, "PYTHONPATH": str(REPO)}
    with open(log, "ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "inbox_daemon.cli", "--config", str(config), "run"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
        )  # fmt: skip
