"""The durable event store: every event is committed here before MQTT sees it.

SQLite in WAL mode; an event commits with ``synchronous=FULL``: when ``append`` returns,
the event and its ``seq`` survive a power cut (so does an ack). What may be lost to a power
cut without breaking at-least-once (delivered marks) commits lighter: :class:`StoreTuning`.
``seq`` is assigned inside the same transaction from a counter that only ever grows, so
it is gap-free per device across restarts.

Eviction order when the store is over ``max_mb`` or past ``retain_days``: delivered,
acknowledged (or never needing an ack) events, oldest first. An undelivered event, or an
alarm/fault still waiting for its ack, is never evicted.

A store that is damaged at startup (not a database, malformed pages or schema,
``quick_check`` failing) is moved aside under a timestamped name and a fresh one started,
which takes over the damaged one's seq counter and every event it still owes that can be
read back intact (see :meth:`Outbox._adopt`). One that cannot be opened for another reason
(permissions, a lock, a read-only or full disk: :data:`NOT_THE_FILE`) is refused with
:class:`StorageError`, never moved aside: its undelivered events stay where they are.

Owned by one thread (the daemon's core loop); not safe to share.
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from edge import logs
from edge.payloads import Event
from edge.room import Room
from edge.salvage import Salvage, adopt, lenient_text, move_aside

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
    drill INTEGER NOT NULL DEFAULT 0,
    crc INTEGER
);
CREATE INDEX IF NOT EXISTS events_undelivered ON events(seq) WHERE delivered IS NULL;
CREATE INDEX IF NOT EXISTS events_unacked ON events(seq) WHERE requires_ack = 1 AND acked IS NULL;
CREATE TABLE IF NOT EXISTS latest(sensor TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit(ts REAL NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('seq', 0);
"""


@dataclass(frozen=True, slots=True)
class StoreTuning:
    """How the store spends the SD card's writes (docs/operations.md, "SD-card writes").

    - ``page_size``: every page a transaction touches is written whole to the WAL (and
      again at the checkpoint); an event touches about six (its row, the id index, the
      undelivered index, ``meta``, ``latest``), so 1 KB pages write a quarter of 4 KB ones.
      A new store only: SQLite cannot change it under WAL without a VACUUM.
    - ``wal_autocheckpoint``: pages of WAL before they are folded into the database.
    - ``light_marks``: delivered and last-sent marks and lone audit rows commit with
      ``synchronous=NORMAL`` (no fsync of their own; the next event's FULL commit or the
      checkpoint makes them durable). A mark lost in a power cut means the event is sent
      again after the restart, the same id: at least once allows a duplicate, never a loss.
      Events and acks stay FULL: an event is durable before it is published, an ack before
      its receipt.
    """

    page_size: int = 1024
    wal_autocheckpoint: int = 400  # ~400 kB of WAL at 1 KB pages, as before at 4 KB
    light_marks: bool = True


TUNED = StoreTuning()
LEGACY = StoreTuning(page_size=4096, wal_autocheckpoint=100, light_marks=False)
"""The settings before issue 15 (bench_writes compares both in one run)."""

CLOCK_SLACK_S = 5.0  # a stored time this far ahead of the wall clock means it was set back
DAMAGED_BY = "(damaged in the store)"  # what a damaged event counts as acknowledged by
WAL_SIZE_LIMIT = 1024 * 1024  # what a reset WAL file is truncated back to, at most
T = TypeVar("T")


class AckResult(Enum):
    RECORDED = "recorded"  # the event is acknowledged from now on
    ALREADY = "already"  # it was acknowledged before (by this operator or another)
    UNKNOWN = "unknown"  # no such event in the store (another device's, or evicted)


class StorageError(Exception):
    """The store cannot take a write now (disk full, I/O error); nothing was committed."""


STORE_ERRORS: tuple[type[Exception], ...] = (StorageError, sqlite3.Error)
"""What a store operation may raise: callers catch these without knowing the store is SQLite."""


@dataclass(frozen=True, slots=True)
class Stored:
    seq: int
    id: str
    payload: bytes
    settled: bool = False
    """Needs no acknowledgement (any more): filled in by :meth:`Outbox.span` only."""


class Outbox:
    def __init__(
        self,
        path: Path,
        *,
        retain_days: float = 7.0,
        max_mb: float = 256.0,
        wall: Callable[[], float] = time.time,
        max_page_count: int | None = None,
        tuning: StoreTuning = TUNED,
    ) -> None:
        self.path = path
        self.tuning = tuning
        self._synchronous = "FULL"
        self._wall = wall
        self.moved_aside: Path | None = None
        self.salvaged: Salvage | None = None
        self._damaged: list[int] = []
        self._damaged_seen: set[int] = set()
        """What was read back from a store that was moved aside."""
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
            self.moved_aside = move_aside(path, str(exc))
            self.db = self._open()
            self.salvaged = adopt(self.moved_aside, self.db)
        self.room = Room(self, retain_days * 86400.0, int(max_mb * 1024 * 1024))

    # ------------------------------------------------------------------ opening

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.text_factory = lenient_text
        try:
            db.execute(f"PRAGMA page_size={int(self.tuning.page_size)}")  # a new file only
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._synchronous = "FULL"
            # A small WAL: SQLite's default lets it reach 4 MB before folding it into the
            # database, and on a nearly full disk the WAL alone fills what is left, after
            # which no checkpoint can grow the database to absorb it: stuck for good.
            db.execute(f"PRAGMA wal_autocheckpoint={int(self.tuning.wal_autocheckpoint)}")
            db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            if self._max_page_count is not None:
                db.execute(f"PRAGMA max_page_count={int(self._max_page_count)}")
            row = db.execute("PRAGMA quick_check").fetchone()
            if row is None or row[0] != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {row[0] if row else 'no answer'}")
            _migrate(db)
        except sqlite3.DatabaseError:
            db.close()
            raise
        except UnicodeDecodeError as exc:  # SQLite's own error quoted garbled schema text
            db.close()
            raise sqlite3.DatabaseError(f"damaged schema: {exc}") from exc
        return db

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

    def _sync(self, durable: bool) -> None:
        """FULL (fsync at commit) for what must survive a power cut on its own; NORMAL for
        what may be lost to one (see :class:`StoreTuning`)."""
        mode = "FULL" if durable or not self.tuning.light_marks else "NORMAL"
        if mode != self._synchronous:
            self.db.execute(f"PRAGMA synchronous={mode}")
            self._synchronous = mode

    def _write(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """One write transaction; on a full disk make room once and try again.

        Raises :class:`StorageError` when it still cannot be committed."""
        self._sync(durable)
        try:
            with self._tx() as db:
                result = fn(db)
        except sqlite3.OperationalError as exc:
            if not _is_full(exc) or not self.room.make_room():
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
            self.room.checkpoint()  # what piled up in the WAL meanwhile goes into the database
        return result

    # ------------------------------------------------------------------ writing

    def append(self, build: Callable[[int], Event]) -> Event:
        """Assign the next seq, build the event with it, commit; only then return it."""
        return self._write(lambda db: self._append(db, build))

    def _append(self, db: sqlite3.Connection, build: Callable[[int], Event]) -> Event:
        (last,) = db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        event = build(int(last) + 1)
        payload = event.to_json()
        db.execute(
            "INSERT INTO events(seq, id, sensor, state, requires_ack, created, payload, drill, "
            "crc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.seq,
                event.id,
                event.sensor,
                event.state.value,
                int(event.requires_ack),
                self._wall(),
                payload,
                int(event.drill),
                zlib.crc32(payload),
            ),
        )
        db.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (event.seq,))
        if not (event.drill or event.test):  # `latest` is the real present: never an exercise
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
            ),
            durable=False,  # lost to a power cut: sent again, same id (at least once)
        )

    def mark_sent(self, seqs: list[int]) -> None:
        if not seqs:
            return
        rows = [(self._wall(), s) for s in seqs]
        self._write(
            lambda db: db.executemany("UPDATE events SET last_sent = ? WHERE seq = ?", rows),
            durable=False,  # lost: the repeat comes once more, early
        )

    def ack(self, event_id: str, by: str) -> AckResult:
        """Record an operator's ack, and say what became of it (for the device's receipt)."""
        now = self._wall()

        def record(db: sqlite3.Connection) -> AckResult:
            cur = db.execute(
                "UPDATE events SET acked = ?, acked_by = ? WHERE id = ? AND acked IS NULL",
                (now, by, event_id),
            )
            if cur.rowcount:
                self._audit(db, "event_acknowledged", f"id={event_id} by={by}")
                return AckResult.RECORDED
            known = db.execute("SELECT 1 FROM events WHERE id = ?", (event_id,)).fetchone()
            return AckResult.ALREADY if known else AckResult.UNKNOWN

        return self._write(record)

    def close_drill(self, by: str) -> int:
        """Acknowledge every drill event still waiting for an ack, as ``by``: a drill that
        is over must not repeat its alarms for ever. How many there were."""
        now = self._wall()

        def record(db: sqlite3.Connection) -> int:
            cur = db.execute(
                "UPDATE events SET acked = ?, acked_by = ? "
                "WHERE drill = 1 AND requires_ack = 1 AND acked IS NULL",
                (now, by),
            )
            if cur.rowcount:
                self._audit(db, "drill_events_closed", f"count={cur.rowcount} by={by}")
            return int(cur.rowcount)

        return self._write(record)

    def audit(self, event: str, detail: str) -> None:
        try:
            # Lone audit rows (start, stop, reload, walk tests): local history, made
            # durable by the next event's commit; the control room has the events.
            self._write(lambda db: self._audit(db, event, detail), durable=False)
        except (StorageError, sqlite3.Error) as exc:
            log.error("audit_write_failed", audit_event=event, error=str(exc))

    def _audit(self, db: sqlite3.Connection, event: str, detail: str) -> None:
        db.execute(
            "INSERT INTO audit(ts, event, detail) VALUES (?, ?, ?)", (self._wall(), event, detail)
        )

    # ------------------------------------------------------------------ reading

    def undelivered(self, after_seq: int, limit: int) -> list[Stored]:
        rows = self.db.execute(
            "SELECT seq, id, payload, crc FROM events WHERE delivered IS NULL AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return self._checked([(s, i, p, c, False) for s, i, p, c in rows])

    def first_undelivered(self) -> int | None:
        row = self.db.execute("SELECT min(seq) FROM events WHERE delivered IS NULL").fetchone()
        return None if row[0] is None else int(row[0])

    def span(self, from_seq: int, to_seq: int) -> list[Stored]:
        rows = self.db.execute(
            "SELECT seq, id, payload, crc, requires_ack = 0 OR acked IS NOT NULL FROM events "
            "WHERE seq BETWEEN ? AND ? ORDER BY seq",
            (from_seq, to_seq),
        ).fetchall()
        return self._checked(rows)

    def due_repeats(self, repeat_s: float, limit: int) -> list[Stored]:
        """Delivered alarm/fault events with no ack, last sent at least ``repeat_s`` ago.

        Last sent "in the future" counts as due: the wall clock was set back (NTP
        correcting a clock that ran ahead), and waiting for it to catch up would silence
        the repeats of an open alarm for as long as it had been ahead."""
        now = self._wall()
        rows = self.db.execute(
            "SELECT seq, id, payload, crc FROM events WHERE requires_ack = 1 AND acked IS NULL "
            "AND delivered IS NOT NULL AND (coalesce(last_sent, delivered) <= ? "
            "OR coalesce(last_sent, delivered) > ?) ORDER BY seq LIMIT ?",
            (now - repeat_s, now + CLOCK_SLACK_S, limit),
        ).fetchall()
        return self._checked([(s, i, p, c, False) for s, i, p, c in rows])

    def latest(self) -> dict[str, Stored]:
        """The last event of every sensor: what the retained state topics must show."""
        rows = self.db.execute(
            "SELECT l.sensor, e.seq, e.id, e.payload, e.crc FROM latest l "
            "JOIN events e ON e.seq = l.seq"
        ).fetchall()
        intact = {s.seq: s for s in self._checked([(s, i, p, c, False) for _, s, i, p, c in rows])}
        return {str(sensor): intact[int(s)] for sensor, s, *_ in rows if int(s) in intact}

    def _checked(self, rows: list[Any]) -> list[Stored]:
        """Rows ``(seq, id, payload, crc, settled)`` whose payload still matches its
        checksum. SQLite checks its pages' structure, not their contents: a bit a failing
        SD card flipped inside a payload passes ``quick_check`` and would be sent as it is.
        Such a row is taken out of delivery and repeats for good (there is nothing true
        left to send) and reported once through :meth:`take_damaged`."""
        out: list[Stored] = []
        for seq, event_id, payload, crc, settled in rows:
            data = bytes(payload)
            if crc is None or zlib.crc32(data) == crc:
                out.append(Stored(int(seq), str(event_id), data, bool(settled)))
            elif int(seq) not in self._damaged_seen:
                self._damaged_seen.add(int(seq))
                self._damaged.append(int(seq))
                self._retire(int(seq))
        return out

    def _retire(self, seq: int) -> None:
        now = self._wall()

        def record(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE events SET delivered = coalesce(delivered, ?), acked = coalesce(acked, ?), "
                "acked_by = coalesce(acked_by, ?) WHERE seq = ?",
                (now, now, DAMAGED_BY, seq),
            )
            self._audit(db, "event_damaged", f"seq={seq}")

        try:
            self._write(record)
        except (StorageError, sqlite3.Error) as exc:
            log.error("damaged_event_not_retired", seq=seq, error=str(exc))
        log.critical("store_event_damaged", seq=seq, hint="the SD card may be failing")

    def take_damaged(self) -> list[int]:
        """Seqs found damaged since the last call (each once)."""
        out, self._damaged = self._damaged, []
        return out

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

    def sensor_of(self, event_id: str) -> str | None:
        row = self.db.execute("SELECT sensor FROM events WHERE id = ?", (event_id,)).fetchone()
        return None if row is None else str(row[0])

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
        return self.room.size_bytes()

    def evict(self) -> int:
        """Drop what the store no longer needs to keep; returns how many events went."""
        return self.room.evict(force=False)


# Errors that are not the file's fault: permissions, another process holding it, no
# memory, a read-only or full file system. The store is refused, never moved aside: its
# undelivered events stay where they are. Every other error opening a store means the
# file is damaged (SQLite reports a garbled header or schema as CORRUPT, NOTADB, TOOBIG or
# a plain ERROR, depending on which bytes were hit).
NOT_THE_FILE = {
    3,  # SQLITE_PERM
    5,  # SQLITE_BUSY
    6,  # SQLITE_LOCKED
    7,  # SQLITE_NOMEM
    8,  # SQLITE_READONLY
    13,  # SQLITE_FULL
    14,  # SQLITE_CANTOPEN
    23,  # SQLITE_AUTH
}


def _migrate(db: sqlite3.Connection) -> None:
    """The schema, and what stores written by older versions lack."""
    db.executescript(SCHEMA)
    columns = {row[1] for row in db.execute("PRAGMA table_info(events)")}
    if "drill" not in columns:  # a store from before drills were kept apart
        db.execute("ALTER TABLE events ADD COLUMN drill INTEGER NOT NULL DEFAULT 0")
    if "crc" not in columns:  # from before payloads were checksummed: NULL, unchecked
        db.execute("ALTER TABLE events ADD COLUMN crc INTEGER")
    # From before `latest` kept only real events: a drill there would be retained
    # as the sensor's real state. Point it back at the sensor's last real event.
    db.execute(
        "UPDATE latest SET seq = (SELECT max(seq) FROM events e WHERE e.sensor = "
        "latest.sensor AND e.drill = 0) "
        "WHERE seq IN (SELECT seq FROM events WHERE drill = 1)"
    )
    db.execute("DELETE FROM latest WHERE seq IS NULL")


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """The file itself is damaged: anything but the errors in NOT_THE_FILE."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return True  # raised here, by quick_check or for a garbled schema
    return int(code) & 0xFF not in NOT_THE_FILE


def _is_full(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "full" in text
