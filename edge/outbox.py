"""The durable event store: every event is committed here before MQTT sees it.

SQLite in WAL mode with ``synchronous=FULL``: when ``append`` returns, the event and its
``seq`` survive a power cut. ``seq`` is assigned inside the same transaction from a
counter that only ever grows, so it is gap-free per device across restarts.

Eviction order when the store is over ``max_mb`` or past ``retain_days``: delivered,
acknowledged (or never needing an ack) events, oldest first. An undelivered event, or an
alarm/fault still waiting for its ack, is never evicted.

A store that is damaged at startup (not a database, malformed pages, ``quick_check``
failing) is moved aside under a timestamped name and a fresh one started; one that cannot
be opened for another reason (permissions, a read-only or failing disk) is refused with
:class:`StorageError`, never moved aside: its undelivered events stay where they are.

Owned by one thread (the daemon's core loop); not safe to share.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from edge import logs
from edge.payloads import Event

log = logs.get("outbox")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events(
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    sensor TEXT NOT NULL,
    state TEXT NOT NULL,
    requires_ack INTEGER NOT NULL,
    created REAL NOT NULL,
    payload BLOB NOT NULL,
    delivered REAL,
    acked REAL,
    acked_by TEXT,
    last_sent REAL,
    drill INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_undelivered ON events(seq) WHERE delivered IS NULL;
CREATE INDEX IF NOT EXISTS events_unacked ON events(seq) WHERE requires_ack = 1 AND acked IS NULL;
CREATE TABLE IF NOT EXISTS latest(sensor TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit(ts REAL NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('seq', 0);
"""

EVICT_BATCH = 500
WAL_AUTOCHECKPOINT_PAGES = 100  # ~400 kB of WAL, then it is checkpointed
WAL_SIZE_LIMIT = 1024 * 1024  # what a reset WAL file is truncated back to, at most
T = TypeVar("T")


class StorageError(Exception):
    """The store cannot take a write now (disk full, I/O error); nothing was committed."""


@dataclass(frozen=True, slots=True)
class Stored:
    seq: int
    id: str
    payload: bytes


class Outbox:
    def __init__(
        self,
        path: Path,
        *,
        retain_days: float = 7.0,
        max_mb: float = 256.0,
        wall: Callable[[], float] = time.time,
        max_page_count: int | None = None,
    ) -> None:
        self.path = path
        self.retain_s = retain_days * 86400.0
        self.max_bytes = int(max_mb * 1024 * 1024)
        self._wall = wall
        self.moved_aside: Path | None = None
        self.last_error: str | None = None
        self._max_page_count = max_page_count
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                # Not the file's fault (permissions, a read-only or failing disk): moving a
                # good store aside would orphan its undelivered events. Refuse to start.
                raise StorageError(f"cannot open the store {path}: {exc}") from exc
            self.moved_aside = self._move_aside(str(exc))
            self.db = self._open()

    # ------------------------------------------------------------------ opening

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            # A small WAL: SQLite's default lets it reach 4 MB before folding it into the
            # database, and on a nearly full disk the WAL alone fills what is left, after
            # which no checkpoint can grow the database to absorb it: stuck for good.
            db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            if self._max_page_count is not None:
                db.execute(f"PRAGMA max_page_count={int(self._max_page_count)}")
            row = db.execute("PRAGMA quick_check").fetchone()
            if row is None or row[0] != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {row[0] if row else 'no answer'}")
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(events)")}
            if "drill" not in columns:  # a store from before drills were kept apart
                db.execute("ALTER TABLE events ADD COLUMN drill INTEGER NOT NULL DEFAULT 0")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _move_aside(self, why: str) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                src.rename(Path(str(target) + suffix))
        log.critical(
            "store_corrupt_moved_aside", path=str(self.path), moved_to=str(target), error=why
        )
        return target

    def close(self) -> None:
        with suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("COMMIT")  # may fail too (SQLITE_FULL): then nothing is committed
        except BaseException:
            if self.db.in_transaction:  # SQLite may already have rolled back (SQLITE_FULL)
                with suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
            raise

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """One write transaction; on a full disk make room once and try again.

        Raises :class:`StorageError` when it still cannot be committed."""
        try:
            with self._tx() as db:
                result = fn(db)
        except sqlite3.OperationalError as exc:
            if not _is_full(exc) or not self._make_room():
                self.last_error = str(exc)
                raise StorageError(str(exc)) from exc
            try:
                with self._tx() as db:
                    result = fn(db)
            except sqlite3.OperationalError as again:
                self.last_error = str(again)
                raise StorageError(str(again)) from again
        if self.last_error is not None:
            log.info("store_writable_again", error_was=self.last_error)
            self.last_error = None
            self._checkpoint()  # what piled up in the WAL meanwhile goes into the database
        return result

    def _make_room(self) -> bool:
        """After SQLITE_FULL: fold the WAL into the database and truncate it, then evict.

        The WAL is only reset by a checkpoint, which SQLite runs by itself at 1000 pages
        (4 MB): on a disk with less free space than that, the WAL alone would fill it and
        keep it full after space came back. True if anything was freed."""
        freed = self._checkpoint()
        evicted = self._evict(force=True)
        if evicted:
            self._checkpoint()
        return freed or evicted > 0

    def _checkpoint(self) -> bool:
        wal = Path(f"{self.path}-wal")
        try:
            before = wal.stat().st_size
        except OSError:
            return False
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as exc:
            log.warning("checkpoint_failed", error=str(exc))
        try:
            return wal.stat().st_size < before
        except OSError:
            return True

    # ------------------------------------------------------------------ writing

    def append(self, build: Callable[[int], Event]) -> Event:
        """Assign the next seq, build the event with it, commit; only then return it."""
        return self._write(lambda db: self._append(db, build))

    def _append(self, db: sqlite3.Connection, build: Callable[[int], Event]) -> Event:
        (last,) = db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        event = build(int(last) + 1)
        db.execute(
            "INSERT INTO events(seq, id, sensor, state, requires_ack, created, payload, drill) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.seq,
                event.id,
                event.sensor,
                event.state.value,
                int(event.requires_ack),
                self._wall(),
                event.to_json(),
                int(event.drill),
            ),
        )
        db.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (event.seq,))
        db.execute(
            "INSERT INTO latest(sensor, seq) VALUES (?, ?) "
            "ON CONFLICT(sensor) DO UPDATE SET seq = excluded.seq",
            (event.sensor, event.seq),
        )
        return event

    def mark_delivered(self, seqs: list[int]) -> None:
        """Raises StorageError if it cannot be recorded (the caller keeps the marks)."""
        if not seqs:
            return
        rows = [(self._wall(), s) for s in seqs]
        self._write(
            lambda db: db.executemany(
                "UPDATE events SET delivered = ? WHERE seq = ? AND delivered IS NULL", rows
            )
        )

    def mark_sent(self, seqs: list[int]) -> None:
        if not seqs:
            return
        rows = [(self._wall(), s) for s in seqs]
        self._write(
            lambda db: db.executemany("UPDATE events SET last_sent = ? WHERE seq = ?", rows)
        )

    def ack(self, event_id: str, by: str) -> bool:
        """Record an operator's ack; False when the event is unknown or was acked before."""
        now = self._wall()

        def record(db: sqlite3.Connection) -> bool:
            cur = db.execute(
                "UPDATE events SET acked = ?, acked_by = ? WHERE id = ? AND acked IS NULL",
                (now, by, event_id),
            )
            if cur.rowcount:
                self._audit(db, "event_acknowledged", f"id={event_id} by={by}")
            return bool(cur.rowcount)

        return self._write(record)

    def audit(self, event: str, detail: str) -> None:
        try:
            self._write(lambda db: self._audit(db, event, detail))
        except (StorageError, sqlite3.Error) as exc:
            log.error("audit_write_failed", audit_event=event, error=str(exc))

    def _audit(self, db: sqlite3.Connection, event: str, detail: str) -> None:
        db.execute(
            "INSERT INTO audit(ts, event, detail) VALUES (?, ?, ?)", (self._wall(), event, detail)
        )

    # ------------------------------------------------------------------ reading

    def undelivered(self, after_seq: int, limit: int) -> list[Stored]:
        rows = self.db.execute(
            "SELECT seq, id, payload FROM events WHERE delivered IS NULL AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [Stored(int(s), str(i), bytes(p)) for s, i, p in rows]

    def first_undelivered(self) -> int | None:
        row = self.db.execute("SELECT min(seq) FROM events WHERE delivered IS NULL").fetchone()
        return None if row[0] is None else int(row[0])

    def span(self, from_seq: int, to_seq: int) -> list[Stored]:
        rows = self.db.execute(
            "SELECT seq, id, payload FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq",
            (from_seq, to_seq),
        ).fetchall()
        return [Stored(int(s), str(i), bytes(p)) for s, i, p in rows]

    def due_repeats(self, repeat_s: float, limit: int) -> list[Stored]:
        """Delivered alarm/fault events with no ack, last sent at least ``repeat_s`` ago."""
        cutoff = self._wall() - repeat_s
        rows = self.db.execute(
            "SELECT seq, id, payload FROM events WHERE requires_ack = 1 AND acked IS NULL "
            "AND delivered IS NOT NULL AND coalesce(last_sent, delivered) <= ? "
            "ORDER BY seq LIMIT ?",
            (cutoff, limit),
        ).fetchall()
        return [Stored(int(s), str(i), bytes(p)) for s, i, p in rows]

    def latest(self) -> dict[str, Stored]:
        """The last event of every sensor: what the retained state topics must show."""
        rows = self.db.execute(
            "SELECT l.sensor, e.seq, e.id, e.payload FROM latest l JOIN events e ON e.seq = l.seq"
        ).fetchall()
        return {str(sensor): Stored(int(s), str(i), bytes(p)) for sensor, s, i, p in rows}

    def latest_seq(self, sensor: str) -> int | None:
        row = self.db.execute("SELECT seq FROM latest WHERE sensor = ?", (sensor,)).fetchone()
        return None if row is None else int(row[0])

    def last_seq(self) -> int:
        (value,) = self.db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        return int(value)

    def depth(self) -> int:
        (n,) = self.db.execute("SELECT count(*) FROM events WHERE delivered IS NULL").fetchone()
        return int(n)

    def oldest_undelivered_age(self) -> float | None:
        (created,) = self.db.execute(
            "SELECT min(created) FROM events WHERE delivered IS NULL"
        ).fetchone()
        return None if created is None else max(0.0, self._wall() - float(created))

    def unacked_alarms(self) -> int:
        """Real alarms still waiting for an ack (what the siren sounds for; not drills)."""
        (n,) = self.db.execute(
            "SELECT count(*) FROM events "
            "WHERE requires_ack = 1 AND acked IS NULL AND state = 'alarm' AND drill = 0"
        ).fetchone()
        return int(n)

    def is_acked(self, event_id: str) -> bool:
        row = self.db.execute("SELECT acked FROM events WHERE id = ?", (event_id,)).fetchone()
        return row is not None and row[0] is not None

    def audit_log(self) -> list[tuple[float, str, str]]:
        return [
            (float(t), str(e), str(d))
            for t, e, d in self.db.execute("SELECT ts, event, detail FROM audit ORDER BY rowid")
        ]

    # ------------------------------------------------------------------ eviction

    def size_bytes(self) -> int:
        (pages,) = self.db.execute("PRAGMA page_count").fetchone()
        (free,) = self.db.execute("PRAGMA freelist_count").fetchone()
        (size,) = self.db.execute("PRAGMA page_size").fetchone()
        return int((pages - free) * size)

    def evict(self) -> int:
        """Drop what the store no longer needs to keep; returns how many events went."""
        return self._evict(force=False)

    def _evict(self, *, force: bool) -> int:
        evictable = (
            "delivered IS NOT NULL AND (requires_ack = 0 OR acked IS NOT NULL) "
            "AND seq NOT IN (SELECT seq FROM latest)"
        )
        removed = 0
        try:
            with self._tx() as db:
                cur = db.execute(
                    f"DELETE FROM events WHERE {evictable} AND created < ?",
                    (self._wall() - self.retain_s,),
                )
                removed += cur.rowcount
            while force or self.size_bytes() > self.max_bytes:
                with self._tx() as db:
                    cur = db.execute(
                        f"DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE "
                        f"{evictable} ORDER BY seq LIMIT ?)",
                        (EVICT_BATCH,),
                    )
                removed += cur.rowcount
                if cur.rowcount == 0 or force:
                    break
        except sqlite3.Error as exc:
            log.error("evict_failed", error=str(exc))
        if removed:
            log.info("store_evicted", events=removed)
        return removed


SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """The file itself is damaged (not a database, malformed pages, quick_check failed)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return True  # raised here, by quick_check
    return int(code) & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB)


def _is_full(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "full" in text
