"""A throwaway PostgreSQL on loopback, for the PostgreSQL tests.

Everything lives in one temporary folder: the data directory (initdb), the unix socket and the
server's log. The server runs in the foreground as a child process (`postgres -D`), listens on
127.0.0.1 on a free port, trusts every local connection, and writes nothing durably (`fsync`
off: a crash of a test server loses nothing of value). Each test takes a fresh database of it
(`create_database`): CREATE DATABASE copies a template in a few milliseconds.

Run as root, PostgreSQL refuses to start: the server then runs as the `postgres` system user
(created by the Debian package), else as `nobody`, and owns the folder. Run as anyone else, it
simply runs as that user.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from integration.dovecot import dying_with_us, free_port, stop_process_group
from sqlalchemy import Engine, text

SUPERUSER = "postgres"  # the role initdb makes; trusted, no password
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",  # a test server: nothing it holds must survive a power loss
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # a few daemon processes, each with its pool, and the tests
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
    "log_lock_waits": "on",  # a test that deadlocks or waits leaves a trace in postgres.log
    "deadlock_timeout": "200ms",
}


def server_binaries() -> Path:
    """The folder of initdb and postgres: Debian's /usr/lib/postgresql/N/bin (newest N), else
    wherever PATH has them."""
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    found = shutil.which("postgres")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    raise RuntimeError(
        "the PostgreSQL server is not installed: apt-get install postgresql (scripts/setup.sh test)"
    )


def _server_user() -> pwd.struct_passwd:
    """Who runs the server: ourselves, unless we are root (which PostgreSQL refuses)."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and neither a `postgres` nor a `nobody` user exists")


class Postgres:
    """One PostgreSQL instance: `start()`, `stop()`, `create_database()`, `drop_database()`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = server_binaries()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.data = root / "data"
        self.sockets = root / "run"
        self.log = root / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._user = _server_user()

    # --- server -------------------------------------------------------------------------

    def _as_server_user(self) -> dict[str, object]:
        """Popen arguments that run a child as the server's user, with its groups only."""
        if os.geteuid() != 0:
            return {}
        user = self._user
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def init(self) -> None:
        os.chmod(self.root, 0o755)  # traversable by the server's user
        for folder in (self.sockets, self.data):  # the server's own, as initdb wants them
            folder.mkdir(mode=0o700)
            os.chown(folder, self._user.pw_uid, self._user.pw_gid)
        run = subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, cwd=self.root, **self._as_server_user(),
        )  # fmt: skip
        if run.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{run.stdout}{run.stderr}")
        with (self.data / "postgresql.conf").open("a") as conf:
            for key, value in SETTINGS.items():
                conf.write(f"{key} = '{value}'\n")

    def start(self, timeout: float = 30.0) -> None:
        if not self.data.exists():
            self.init()
        log = open(self.log, "ab")  # noqa: SIM115 - the child gets its own copy; ours closed below
        os.chown(self.log, self._user.pw_uid, self._user.pw_gid)
        self.process = subprocess.Popen(
            dying_with_us([str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                           "-k", str(self.sockets)], "INT"),  # INT: a fast shutdown
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.root,
            **self._as_server_user(),
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"postgres exited at start; see {self.log}:\n{self._tail()}")
            if self._answers():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"postgres did not answer on port {self.port} in {timeout} s")

    def _tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])

    def _answers(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.dsn("postgres"), connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended) and every process of it."""
        if self.process is None:
            return
        stop_process_group(self.process, signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
        self.process = None

    # --- databases ----------------------------------------------------------------------

    def dsn(self, database: str) -> str:
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={database}"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of `database`, as a daemon configuration would give it."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self) -> str:
        """A new, empty database; its name."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return name

    def drop_database(self, name: str) -> None:
        """Drop `name`, ending any session still on it (a daemon process a test left)."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


LOCK_WAITERS = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def lock_waiters(engine: Engine) -> int:
    """How many sessions on `engine`'s database wait for a lock another one holds."""
    with engine.connect() as conn:
        return conn.execute(LOCK_WAITERS).scalar_one()


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    """A started PostgreSQL in a fresh temporary folder, removed afterwards."""
    if importlib.util.find_spec("psycopg") is None:
        raise RuntimeError("psycopg is not installed: scripts/setup.sh test")
    root = Path(tempfile.mkdtemp(prefix="inbox-postgres-"))
    try:
        server = Postgres(root)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
