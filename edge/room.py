"""Keeping the store within its size and age: checkpoints and eviction.

Eviction order when the store is over ``max_mb`` or past ``retain_days``: delivered,
acknowledged (or never needing an ack) events, oldest first; never an undelivered event,
an alarm still waiting for its ack, or a sensor's latest real state. On a full disk the
WAL is folded in first: it is only reset by a checkpoint, and on a nearly full card it
could otherwise keep the disk full after space came back.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from edge import logs

if TYPE_CHECKING:
    from edge.outbox import Outbox

log = logs.get("outbox")

EVICT_BATCH = 500


class Room:
    def __init__(self, store: Outbox, retain_s: float, max_bytes: int) -> None:
        self.store = store
        self.retain_s = retain_s
        self.max_bytes = max_bytes
        self._checkpoint_failures = logs.Streak(log, "checkpoint_failed", level="warning")
        self._evict_failures = logs.Streak(log, "evict_failed")

    def make_room(self) -> bool:
        """After SQLITE_FULL: fold the WAL into the database and truncate it, then evict.

        The WAL is only reset by a checkpoint, which SQLite runs by itself at 1000 pages
        (4 MB): on a disk with less free space than that, the WAL alone would fill it and
        keep it full after space came back. True if anything was freed."""
        freed = self.checkpoint()
        evicted = self.evict(force=True)
        if evicted:
            self.checkpoint()
        return freed or evicted > 0

    def checkpoint(self) -> bool:
        wal = Path(f"{self.store.path}-wal")
        try:
            before = wal.stat().st_size
        except OSError:
            return False
        try:
            self.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as exc:
            self._checkpoint_failures.failed(error=str(exc))
        else:
            self._checkpoint_failures.ok()
        try:
            return wal.stat().st_size < before
        except OSError:
            return True

    def size_bytes(self) -> int:
        """What the events take: pages in use (free pages count as room)."""
        (pages,) = self.store.db.execute("PRAGMA page_count").fetchone()
        (free,) = self.store.db.execute("PRAGMA freelist_count").fetchone()
        (size,) = self.store.db.execute("PRAGMA page_size").fetchone()
        return int((pages - free) * size)

    def evict(self, *, force: bool) -> int:
        evictable = (
            "delivered IS NOT NULL AND (requires_ack = 0 OR acked IS NOT NULL) "
            "AND seq NOT IN (SELECT seq FROM latest)"
        )
        removed = 0
        try:
            with self.store._tx() as db:
                cur = db.execute(
                    f"DELETE FROM events WHERE {evictable} AND created < ?",
                    (self.store._wall() - self.retain_s,),
                )
                removed += cur.rowcount
            while force or self.size_bytes() > self.max_bytes:
                with self.store._tx() as db:
                    cur = db.execute(
                        f"DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE "
                        f"{evictable} ORDER BY seq LIMIT ?)",
                        (EVICT_BATCH,),
                    )
                removed += cur.rowcount
                if cur.rowcount == 0 or force:
                    break
        except sqlite3.Error as exc:
            self._evict_failures.failed(error=str(exc))
        else:
            self._evict_failures.ok()
        if removed:
            log.info("store_evicted", events=removed)
        return removed
