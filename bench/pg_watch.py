"""What the database side of a benchmark run did: PostgreSQL's transaction and statement
counters (pg_stat_database, pg_stat_statements), the seconds sessions waited for locks
(sampled from pg_stat_activity), and how many messages are registered so far, on PostgreSQL
or SQLite. The bench's own questions are counted, so the daemons' figures can leave them out.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

LOCK_SAMPLE_S = 0.05


def counters(server, database: str) -> tuple[int, int]:
    """(transactions, statements) of `database` so far."""
    import psycopg

    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:  # the extension
        xacts = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (database,),
        ).fetchone()[0]
        calls = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d"
            " ON d.oid = s.dbid WHERE d.datname = %s",
            (database,),
        ).fetchone()[0]
    return int(xacts), int(calls)


def top_statements(server, database: str) -> list[tuple[int, str]]:
    import psycopg

    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT calls, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements s"
            " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s ORDER BY calls DESC",
            (database,),
        ).fetchall()
    return [(int(calls), query) for calls, query in rows]


class LockSampler:
    """Seconds that the sessions of one database spent waiting for a lock, sampled."""

    def __init__(self, server, database: str) -> None:
        self.server, self.database = server, database
        self.waited = 0.0
        self.by_query: Counter[str] = Counter()  # seconds waited, by the waiting statement
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.server.dsn("postgres"), autocommit=True) as conn:
            while not self._stop.wait(LOCK_SAMPLE_S):
                waiting = conn.execute(
                    "SELECT wait_event || ': ' || left(regexp_replace(query, '\\s+', ' ', 'g'),"
                    " 70) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                    (self.database,),
                ).fetchall()
                for (query,) in waiting:
                    self.waited += LOCK_SAMPLE_S
                    self.by_query[query] += LOCK_SAMPLE_S


class Registered:
    """How many messages are registered (have their `processed_at`) so far, asked on one
    connection; `asked`: how many times (a transaction and a statement each, on PostgreSQL,
    which the figures of the daemons leave out)."""

    QUERY = "SELECT count(*) FROM message WHERE processed_at IS NOT NULL"

    def __init__(self, pg: Any, database: str, sqlite: Path) -> None:
        self.pg, self.database, self.sqlite, self.asked = pg, database, sqlite, 0

    def __enter__(self) -> Registered:
        if self.database:
            import psycopg

            self.conn: Any = psycopg.connect(self.pg.dsn(self.database), autocommit=True)
        else:
            import sqlite3

            self.conn = sqlite3.connect(self.sqlite, timeout=30, isolation_level=None)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.conn.close()

    def count(self) -> int:
        self.asked += 1
        return int(self.conn.execute(self.QUERY).fetchone()[0])


class NoSampler:
    """Stands in for `LockSampler` where there is no PostgreSQL (SQLite runs)."""

    waited = 0.0

    def __enter__(self) -> NoSampler:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None
