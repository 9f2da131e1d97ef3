"""A :class:`~edge.cap.push.PushStore` in SQLite (stdlib sqlite3): standalone, or a
model for the station's own tables. WAL, one connection behind a lock (the sender thread
and the station's ingest both call it). Times are stored as ISO 8601 text with offset."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path

from edge.cap.push import Outcome, PartnerState, QueuedAlert

SCHEMA = """
CREATE TABLE IF NOT EXISTS cap_push_queue (
    position    INTEGER PRIMARY KEY AUTOINCREMENT,
    partner     TEXT NOT NULL,
    identifier  TEXT NOT NULL,
    body        BLOB NOT NULL,
    queued_at   TEXT NOT NULL,
    settled_at  TEXT,
    outcome     TEXT,
    UNIQUE (partner, identifier)
);
CREATE INDEX IF NOT EXISTS cap_push_pending ON cap_push_queue (partner, settled_at, position);
CREATE TABLE IF NOT EXISTS cap_push_state (
    partner           TEXT PRIMARY KEY,
    failures          INTEGER NOT NULL,
    next_attempt_at   TEXT,
    last_attempt_at   TEXT,
    last_delivered_at TEXT,
    last_error        TEXT,
    delivered         INTEGER NOT NULL,
    rejected          INTEGER NOT NULL
);
"""


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class SqlitePushStore:
    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a queued alert survives power loss
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def enqueue(self, partner: str, identifier: str, body: bytes, at: datetime) -> bool:
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO cap_push_queue (partner, identifier, body, queued_at) "
                "VALUES (?, ?, ?, ?)",
                (partner, identifier, body, at.isoformat()),
            )
            return cur.rowcount == 1

    def head(self, partner: str) -> QueuedAlert | None:
        with self._lock:
            row = self._db.execute(
                "SELECT position, identifier, body, queued_at FROM cap_push_queue "
                "WHERE partner = ? AND settled_at IS NULL ORDER BY position LIMIT 1",
                (partner,),
            ).fetchone()
        if row is None:
            return None
        return QueuedAlert(partner, row[0], row[1], bytes(row[2]), datetime.fromisoformat(row[3]))

    def settle(self, item: QueuedAlert, outcome: Outcome, state: PartnerState) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if outcome is not Outcome.RETRY:
                    self._db.execute(
                        "UPDATE cap_push_queue SET settled_at = ?, outcome = ? "
                        "WHERE position = ? AND partner = ?",
                        (_iso(state.last_attempt_at), str(outcome), item.position, item.partner),
                    )
                self._db.execute(
                    "INSERT OR REPLACE INTO cap_push_state VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        state.partner,
                        state.failures,
                        _iso(state.next_attempt_at),
                        _iso(state.last_attempt_at),
                        _iso(state.last_delivered_at),
                        state.last_error,
                        state.delivered,
                        state.rejected,
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def state(self, partner: str) -> PartnerState:
        with self._lock:
            row = self._db.execute(
                "SELECT failures, next_attempt_at, last_attempt_at, last_delivered_at, "
                "last_error, delivered, rejected FROM cap_push_state WHERE partner = ?",
                (partner,),
            ).fetchone()
        if row is None:
            return PartnerState(partner)
        return PartnerState(
            partner=partner,
            failures=row[0],
            next_attempt_at=_at(row[1]),
            last_attempt_at=_at(row[2]),
            last_delivered_at=_at(row[3]),
            last_error=row[4],
            delivered=row[5],
            rejected=row[6],
        )

    def backlog(self, partner: str) -> tuple[int, datetime | None]:
        with self._lock:
            count, oldest = self._db.execute(
                "SELECT COUNT(*), (SELECT queued_at FROM cap_push_queue WHERE partner = ?1 "
                "AND settled_at IS NULL ORDER BY position LIMIT 1) FROM cap_push_queue "
                "WHERE partner = ?1 AND settled_at IS NULL",
                (partner,),
            ).fetchone()
        return int(count), _at(oldest)
