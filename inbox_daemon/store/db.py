"""Engine set-up and schema migrations.

SQLite runs in WAL mode with foreign keys on, and every transaction starts with
BEGIN IMMEDIATE: the daemon's writers (SMTP ingress, pollers, the pipeline) then queue on the
busy timeout instead of failing when a read transaction tries to become a write. Transactions
that only read (`reading`) start deferred and never wait for the writers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from inbox_daemon.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")
READS_ONLY = "inbox_daemon_reads_only"  # execution option: `reading()`'s deferred BEGIN
# PostgreSQL: one instance migrates at a time (a transaction-level advisory lock; any number
# unique to this application).
MIGRATION_LOCK = text("SELECT pg_advisory_xact_lock(7368627906052313461)")


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets its parent folder created and its pragmas set."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True)


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
def transaction(engine: Engine) -> Iterator[Session]:
    """A session inside one transaction: committed on success, rolled back on error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A session for reads only. On SQLite its transaction starts deferred and takes no lock:
    in WAL mode a reader waits for no writer, so the pipeline looking for work and the outbox
    looking for due jobs no longer queue behind the SMTP ingress's commits, nor it behind
    them. A write inside it is a bug (SQLite may refuse it with "database is locked")."""
    with transaction(engine.execution_options(**{READS_ONLY: True})) as session:
        yield session
