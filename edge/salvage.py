"""A damaged store: moved aside, and the events it still owes carried into a fresh one.

The outbox calls this when a store cannot be opened because the file itself is damaged
(see ``edge.outbox.NOT_THE_FILE`` for the errors that are not the file's fault). What can
be read back intact (its payload still the event its own columns name) is kept; what a
garbled page hides is counted, and its seqs are a gap the control room sees as LOST.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge import logs

log = logs.get("outbox")

SALVAGED_COLUMNS = (
    "seq", "id", "sensor", "state", "requires_ack", "created", "payload",
    "delivered", "acked", "acked_by", "last_sent", "drill", "crc",
)  # fmt: skip
SALVAGE_BATCH = 500
SALVAGE_MAX_STRIDE = 256


@dataclass(slots=True)
class Salvage:
    """What was read back from a damaged store."""

    last_seq: int = 0
    """The highest seq it still shows (its counter or its events); 0 when none."""
    recovered: int = 0
    """Events still owed (undelivered, or an alarm/fault not yet acknowledged) carried over."""
    damaged_reads: int = 0
    """Reads that hit a damaged page; each stepped over a few seqs."""
    damaged_rows: int = 0
    """Owed rows that were readable but garbled (not the event their columns name): dropped."""


def _last_seq_of(db: sqlite3.Connection) -> int:
    last = 0
    for query in ("SELECT value FROM meta WHERE key = 'seq'", "SELECT max(seq) FROM events"):
        with suppress(sqlite3.Error, TypeError, ValueError):  # ValueError: UnicodeDecodeError
            row = db.execute(query).fetchone()
            if row is not None and row[0] is not None:
                last = max(last, int(row[0]))
    return last


def _owed_rows(db: sqlite3.Connection, report: Salvage) -> Iterator[tuple[object, ...]]:
    """The owed events a damaged store still gives up, in seq order.

    A garbled page breaks the reads that reach it and no others, so the scan starts again
    past it with a stride that doubles while reads keep failing (one bad interior page
    can hide thousands of seqs) and falls back to 1 once a row is read."""
    try:
        have = {r[1] for r in db.execute("PRAGMA table_info(events)")}
    except (sqlite3.Error, UnicodeDecodeError):
        return
    missing = {"drill": "0"}  # a store from before the column existed (crc: NULL)
    columns = [c if c in have else missing.get(c, "NULL") for c in SALVAGED_COLUMNS]
    select = (
        f"SELECT {', '.join(columns)} FROM events WHERE seq > ? AND "
        "(delivered IS NULL OR (requires_ack = 1 AND acked IS NULL)) ORDER BY seq"
    )
    after, stride = 0, 1
    while True:
        try:
            for row in db.execute(select, (after,)):
                after, stride = int(row[0]), 1
                report.last_seq = max(report.last_seq, after)
                if _row_intact(row):
                    yield tuple(row)
                else:
                    report.damaged_rows += 1
            return
        except (sqlite3.Error, UnicodeDecodeError):
            report.damaged_reads += 1
            after, stride = after + stride, min(stride * 2, SALVAGE_MAX_STRIDE)
            if after >= report.last_seq:  # past every seq the store admits to
                return


def _row_intact(row: sqlite3.Row | tuple[object, ...]) -> bool:
    """A row whose bytes a damaged page garbled while its structure survived is not sent:
    the payload must still be the event its own columns say it is."""
    seq, event_id, payload, crc = row[0], row[1], row[6], row[12]
    if not isinstance(payload, bytes | str):
        return False
    raw = payload.encode() if isinstance(payload, str) else payload
    if crc is not None and zlib.crc32(raw) != crc:
        return False
    try:  # JSON, not the Event model: a store written by an older version is still intact
        event = json.loads(payload)
    except ValueError:
        return False
    return isinstance(event, dict) and event.get("seq") == seq and event.get("id") == event_id


def _batches(rows: Iterator[tuple[object, ...]], size: int) -> Iterator[list[tuple[object, ...]]]:
    batch: list[tuple[object, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def move_aside(path: Path, why: str) -> Path:
    """Rename a damaged store (and its WAL and shm) out of the way, never over another."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    # A card failing on two boots that a saved clock started at the same second must
    # not overwrite the first damaged file: it may be all that is left of its events.
    while any(Path(f"{target}{s}").exists() for s in ("", "-wal", "-shm")):
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            src.rename(Path(str(target) + suffix))
    log.critical("store_corrupt_moved_aside", path=str(path), moved_to=str(target), error=why)
    return target


def adopt(damaged: Path, db: sqlite3.Connection) -> Salvage:
    """Carry a damaged store's counter and the events it still owes into the fresh ``db``.

    seq must never run backwards (a listener would take new events for history it has
    seen), and an event owed to the control room stays owed whatever the file did. One
    transaction: a power cut during it leaves the fresh store empty, never half-filled.
    """
    report = Salvage()
    try:
        old = sqlite3.connect(f"{damaged.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return report
    old.text_factory = lenient_text
    insert = (
        f"INSERT OR IGNORE INTO events({', '.join(SALVAGED_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(SALVAGED_COLUMNS))})"
    )
    try:
        report.last_seq = _last_seq_of(old)
        db.execute("BEGIN IMMEDIATE")
        for batch in _batches(_owed_rows(old, report), SALVAGE_BATCH):
            db.executemany(insert, batch)
            report.recovered += len(batch)
        db.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (report.last_seq,))
        db.execute(
            "INSERT INTO latest(sensor, seq) SELECT sensor, max(seq) FROM events "
            "WHERE drill = 0 GROUP BY sensor"
        )
        db.execute("COMMIT")
    except sqlite3.Error as exc:  # e.g. the disk is full too: keep at least the counter
        log.error("store_salvage_failed", error=str(exc), recovered=0)
        report.recovered = 0
        with suppress(sqlite3.Error):
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (report.last_seq,))
    finally:
        old.close()
    log.warning(
        "store_salvaged",
        recovered=report.recovered,
        damaged_reads=report.damaged_reads,
        damaged_rows=report.damaged_rows,
        last_seq=report.last_seq,
    )
    return report


def lenient_text(raw: bytes) -> str:
    """Text as stored, with bytes a failing card flipped shown as U+FFFD: a garbled id or
    sensor name must cost that one row, not raise from every read of the store."""
    return raw.decode("utf-8", "replace")
