"""Engine set-up, schema migrations, and riding out a database that goes away.

SQLite runs in WAL mode with foreign keys on, and every transaction starts with
BEGIN IMMEDIATE: the daemon's writers (SMTP ingress, pollers, the pipeline) then queue
instead of failing when a read transaction tries to become a write; in one process they
queue on a lock of ours (`writer_turns.py`), between processes on the busy timeout. Transactions
that only read (`reading`) start deferred and never wait for the writers.

PostgreSQL may be restarted or fail over under a running daemon. Pooled connections are
pinged before use (`pool_pre_ping`), so the first transaction after a restart gets a fresh
one; a connection lost in the middle of a transaction fails that transaction, which the work
it belonged to repeats (every writer here is idempotent: the spool and registration find what
an unacknowledged commit did). `retrying` repeats one transaction while the database is away,
for a bounded time; `wait_until_back` is for loops that have nothing to do without it. The
outage itself is logged once per database and process, when first met, and once when it ends
(`Outage`), whichever thread meets it: callers stay quiet about it (`is_outage`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from inbox_daemon.backoff import delay_s
from inbox_daemon.errors import StoreError
from inbox_daemon.store.writer_turns import WriterTurns

log = logging.getLogger(__name__)
T = TypeVar("T")
CONNECT_TIMEOUT_S = 10  # a database host that does not answer at all (a partition, a failover)
RETRY_S = 30.0  # `retrying`'s default budget: a restart (`pg_ctl restart -m fast`) fits in it
RETRY_BASE_S, RETRY_CAP_S = 0.25, 5.0
# SQLSTATEs of a server going away: 08 connection exceptions, and the shutdown family
# (admin_shutdown, crash_shutdown, cannot_connect_now: starting up or shutting down)
OUTAGE_STATES = ("08", "57P01", "57P02", "57P03")

MIGRATIONS = Path(__file__).with_name("migrations")
READS_ONLY = "inbox_daemon_reads_only"  # execution option: `reading()`'s deferred BEGIN
# PostgreSQL: one instance migrates at a time (a transaction-level advisory lock; any number
# unique to this application).
MIGRATION_LOCK = text("SELECT pg_advisory_xact_lock(7368627906052313461)")


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets its parent folder created and its pragmas set."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    connect: dict[str, Any] = {}
    if url.startswith("postgresql"):
        connect["connect_timeout"] = CONNECT_TIMEOUT_S
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect)
    _watch_outages(engine)
    return engine


def _sqlite_engine(url: str) -> Engine:
    db_path = url.split("///", 1)[1] if "///" in url else ""
    if db_path and db_path != ":memory:":
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")  # a committed spool row survives power loss
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        reads_only = conn.get_execution_options().get(READS_ONLY, False)
        conn.exec_driver_sql("BEGIN" if reads_only else "BEGIN IMMEDIATE")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (Alembic); safe to run at every start.

    A database already there is recognised by one query, without loading Alembic: most
    starts (and every `inbox-daemon` command) find it so.
    """
    if current_revisions(engine) == [head_revision()]:
        return
    from alembic import command  # a tenth of a second of imports, paid only to migrate
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # Instances started together on a database behind the head would all create
                # the same tables, and all but one fail to start. Each waits here for the one
                # migrating, then Alembic finds the database at the head and does nothing.
                conn.execute(MIGRATION_LOCK)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
    except OperationalError as exc:
        raise StoreError(f"database {engine.url!r} is not usable: {exc.orig}") from None


def head_revision() -> str:
    """The newest revision: each migration file is named after its revision, numbered."""
    return max(path.name.split("_", 1)[0] for path in MIGRATIONS.glob("versions/[0-9]*_*.py"))


def current_revisions(engine: Engine) -> list[str]:
    """The revisions the database is at (Alembic's own table), or [] before the first."""
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:  # no such table yet (or no database: `migrate` then says which)
        return []
    return [row[0] for row in rows]


def open_store(url: str) -> Engine:
    """Engine on a migrated database, or StoreError saying what is wrong."""
    try:
        engine = make_engine(url)
        migrate(engine)
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"database {url!r} is not usable: {exc}") from None
    return engine


def table_names(engine: Engine) -> list[str]:
    return inspect(engine).get_table_names()


@contextmanager
def transaction(engine: Engine, urgent: bool = False) -> Iterator[Session]:
    """A session inside one transaction: committed on success, rolled back on error.

    On SQLite a writing transaction first takes its turn among the process's writers
    (`writer_turns`); `urgent` ones (a source waiting to acknowledge) go first."""
    turn = _turn(engine, urgent)
    with turn, Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


_turns: dict[str, WriterTurns] = {}
_turns_lock = threading.Lock()


def _turn(engine: Engine, urgent: bool) -> AbstractContextManager[None]:
    if engine.dialect.name != "sqlite" or engine.get_execution_options().get(READS_ONLY):
        return nullcontext()
    with _turns_lock:
        turns = _turns.setdefault(str(engine.url), WriterTurns())
    return turns.turn(urgent)


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A session for reads only. On SQLite its transaction starts deferred and takes no lock:
    in WAL mode a reader waits for no writer, so the pipeline looking for work and the outbox
    looking for due jobs no longer queue behind the SMTP ingress's commits, nor it behind
    them. A write inside it is a bug (SQLite may refuse it with "database is locked")."""
    with transaction(engine.execution_options(**{READS_ONLY: True})) as session:
        yield session


# --- the database going away --------------------------------------------------------------


class Outage:
    """Whether the database is away, as this process last found it; logged once each way."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.since: float | None = None  # monotonic time the outage was first met
        self.last_failure = 0.0  # monotonic time of the latest failure to reach it
        self._lock = threading.Lock()

    @property
    def away(self) -> bool:
        return self.since is not None

    def failed_within(self, seconds: float) -> bool:
        """Away, and found so less than `seconds` ago: not worth asking again yet."""
        return self.away and time.monotonic() - self.last_failure < seconds

    def lost(self, exc: BaseException) -> None:
        with self._lock:
            self.last_failure = time.monotonic()
            if self.since is not None:
                return
            self.since = self.last_failure
        said = str(exc).strip().splitlines()
        log.error("database %s unavailable (%s): waiting for it; SMTP mail is answered 451 "
                  "and the other work resumes when it is back", self.name,
                  said[0] if said else type(exc).__name__)  # fmt: skip

    def back(self) -> None:
        with self._lock:
            if self.since is None:
                return
            lasted, self.since = time.monotonic() - self.since, None
        log.warning("database %s reachable again after %.1f s", self.name, lasted)


_outages: dict[str, Outage] = {}
_outages_lock = threading.Lock()


def outage(engine: Engine) -> Outage:
    """The outage record of `engine`'s database in this process (one per database URL)."""
    name = engine.url.render_as_string(hide_password=True)
    with _outages_lock:
        return _outages.setdefault(name, Outage(name))


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` means the database is away (not that a statement failed): a lost or
    refused connection, or a server shutting down or starting up."""
    orig = getattr(exc, "orig", exc)
    if not type(orig).__module__.startswith("psycopg"):
        return False  # SQLite's errors ("database is locked") are not outages
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not any(kind.__name__ == "OperationalError" for kind in type(orig).__mro__):
        return False  # psycopg is optional: its classes are known by name
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code is None or code.startswith(OUTAGE_STATES)


def _watch_outages(engine: Engine) -> None:
    record = outage(engine)

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if context.is_pre_ping:
            return  # a stale pooled connection: the pool makes a new one, or that fails
        found = context.sqlalchemy_exception or context.original_exception
        if context.is_disconnect or is_outage(found):
            record.lost(context.original_exception)

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_conn: Any, _record: Any) -> None:
        record.back()


def retrying(
    engine: Engine, work: Callable[[], T], wait_s: float = RETRY_S,
    stop: threading.Event | None = None,
) -> T:  # fmt: skip
    """`work()` (one transaction, safe to repeat), again while the database is away, for up
    to `wait_s` (or until `stop`); then the last error is raised."""
    deadline = time.monotonic() + wait_s
    failures = 0
    while True:
        try:
            return work()
        except SQLAlchemyError as exc:
            left = deadline - time.monotonic()
            if not is_outage(exc) or left <= 0 or (stop is not None and stop.is_set()):
                raise
        failures += 1
        pause = min(delay_s(failures, RETRY_BASE_S, RETRY_CAP_S), left)
        if stop is not None:
            stop.wait(pause)
        else:
            time.sleep(pause)


def wait_until_back(engine: Engine, stop: threading.Event, within_s: float) -> bool:
    """Wait up to `within_s` for the database to answer again: True once it does, False when
    it still does not (or `stop` was set). Tried with capped exponential backoff and jitter,
    so instances that lost it together do not come back in lockstep."""
    deadline = time.monotonic() + within_s
    failures = 0
    while not stop.is_set():
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            outage(engine).back()
            return True
        except SQLAlchemyError as exc:
            if not is_outage(exc):
                raise
        failures += 1
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        stop.wait(min(delay_s(failures, RETRY_BASE_S * 4, RETRY_CAP_S), left))
    return False
