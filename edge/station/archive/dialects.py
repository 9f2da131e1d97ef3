"""What differs between SQLite and PostgreSQL, and nothing else: connecting, placeholders,
the auto-numbered key, how a writing transaction begins, the per-key lock.

SQLite: WAL (readers never block the writer), ``synchronous = FULL`` because a message
is PUBACKed once its commit returns, so the commit must survive a power cut, and
``BEGIN IMMEDIATE`` (one writer at a time, taken at the start, never a deadlock half way).
PostgreSQL through psycopg 3: autocommit connections with explicit ``BEGIN``, and a
transaction-scoped advisory lock per alarm key so that two stations sharing the database
never open two alarms for one sensor episode.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit


class Dialect(Protocol):
    name: str
    serial: str
    down_errors: tuple[type[BaseException], ...]

    def connect(self) -> Any: ...

    def sql(self, text: str) -> str: ...

    def begin(self) -> str: ...

    def lock(self, cur: Any, key: str) -> None: ...

    def migration_lock(self, cur: Any, take: bool) -> None: ...

    def try_lease(self, cur: Any, key: str) -> bool:
        """Take ``key`` for this connection's life unless another connection holds it."""
        ...

    def notify(self, cur: Any, channel: str, payload: str) -> None: ...

    def returning_many(self, cur: Any, sql: str, rows: list[tuple[Any, ...]]) -> list[Any]:
        """Run a one-row ``INSERT … RETURNING x`` for each row; every x returned."""
        ...


class SqliteDialect:
    name = "sqlite"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
    down_errors: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)

    def __init__(self, url: str) -> None:
        self.path = Path(urlsplit(url).path)

    def connect(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    def sql(self, text: str) -> str:
        return text

    def begin(self) -> str:
        return "BEGIN IMMEDIATE"

    def lock(self, cur: Any, key: str) -> None:
        """BEGIN IMMEDIATE already made this the only writer."""

    def migration_lock(self, cur: Any, take: bool) -> None:
        """Migrations run inside BEGIN IMMEDIATE: nothing more to take."""

    def try_lease(self, cur: Any, key: str) -> bool:
        """One station per SQLite file: it holds every lease."""
        return True

    def notify(self, cur: Any, channel: str, payload: str) -> None:
        """One station per SQLite file: nobody else to tell."""

    def returning_many(self, cur: Any, sql: str, rows: list[tuple[Any, ...]]) -> list[Any]:
        """In-process: a statement per row costs microseconds."""
        out = []
        for row in rows:
            out += [r[0] for r in cur.execute(sql, row).fetchall()]
        return out


class PostgresDialect:
    name = "postgresql"
    serial = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    MIGRATION_LOCK = 0x5149_4147  # "SIAG": one arbitrary advisory lock id

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self._psycopg = psycopg
        self.down_errors: tuple[type[BaseException], ...] = (
            psycopg.OperationalError,
            psycopg.InterfaceError,
        )

    def connect(self) -> Any:
        return self._psycopg.connect(self.url, autocommit=True, connect_timeout=5)

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def begin(self) -> str:
        return "BEGIN"

    def lock(self, cur: Any, key: str) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))

    def migration_lock(self, cur: Any, take: bool) -> None:
        fn = "pg_advisory_lock" if take else "pg_advisory_unlock"
        cur.execute(f"SELECT {fn}(%s)", (self.MIGRATION_LOCK,))

    def try_lease(self, cur: Any, key: str) -> bool:
        """A session advisory lock: released when the connection ends (a station that
        dies lets another take over)."""
        cur.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,))
        return bool(cur.fetchone()[0])

    def notify(self, cur: Any, channel: str, payload: str) -> None:
        """Delivered to every listener when (and only if) the transaction commits."""
        cur.execute("SELECT pg_notify(%s, %s)", (channel, payload))

    def returning_many(self, cur: Any, sql: str, rows: list[tuple[Any, ...]]) -> list[Any]:
        """psycopg's executemany pipelines the rows: one round trip, one parse of ``sql``."""
        cur.executemany(sql, rows, returning=True)
        out = []
        while True:
            out += [r[0] for r in cur.fetchall()]
            if not cur.nextset():
                return out


def dialect_for(url: str) -> Dialect:
    if url.startswith("sqlite:"):
        return SqliteDialect(url)
    return PostgresDialect(url)
