"""Commit first: every event is in the durable store before anything publishes it.

When the disk is full the store refuses, and an alarm must not be lost for that: the
event's builder is held in memory, in order, and tried again every
:data:`STORE_RETRY_S` (not at every sample: a full disk stays full for a while). A held
event has no seq yet, so nothing after it is committed before it: the seq order is the
order of the decisions. The recorder also says what the store lost (damaged events) and
keeps the store's upkeep (eviction) on its own timer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edge import logs, messages
from edge.outbox import Outbox, StorageError
from edge.payloads import Event

log = logs.get("recorder")

STORE_RETRY_S = 1.0
EVICT_EVERY_S = 3600.0
FIRST_EVICT_S = 60.0

Build = Callable[[int], Event]


@dataclass(frozen=True, slots=True)
class Held:
    build: Build
    alarm_at: float | None
    """A real alarm decided at this monotonic instant (its latency is measured from it)."""


@dataclass(frozen=True, slots=True)
class Committed:
    event: Event
    alarm_at: float | None


class Recorder:
    def __init__(self, outbox: Outbox, now: float) -> None:
        self.outbox = outbox
        self.held: list[Held] = []
        self.retry_at = 0.0
        self.evict_at = now + FIRST_EVICT_S

    def store(self, build: Build, now: float, alarm_at: float | None = None) -> Event | None:
        """The committed event, or None when the store refused it and it is held."""
        if not self.held:
            try:
                return self.outbox.append(build)
            except StorageError as exc:
                log.error("store_write_failed", error=str(exc), held_in_memory=1)
                self.retry_at = now + STORE_RETRY_S
        self.held.append(Held(build, alarm_at))
        return None

    def retry(self, now: float) -> list[Committed]:
        """Commit what was held, in order, as far as the store now takes it."""
        if not self.held or now < self.retry_at:
            return []
        held, self.held = self.held, []
        done: list[Committed] = []
        for i, item in enumerate(held):
            try:
                done.append(Committed(self.outbox.append(item.build), item.alarm_at))
            except StorageError:
                self.held = held[i:]
                self.retry_at = now + STORE_RETRY_S
                return done
        log.info("store_recovered", written=len(held))
        return done

    def upkeep(self, now: float) -> None:
        if now >= self.evict_at:
            self.evict_at = now + EVICT_EVERY_S
            self.outbox.evict()

    def wake_at(self) -> float:
        return min(self.retry_at, self.evict_at) if self.held else self.evict_at

    @property
    def held_alarms(self) -> int:
        """Real alarms waiting for the disk: the siren sounds for them too."""
        return sum(item.alarm_at is not None for item in self.held)

    def damage(self) -> str | None:
        """What to tell the control room about events the store can no longer give back
        intact: it sees their seqs as a gap it cannot fill, so say why."""
        seqs = self.outbox.take_damaged()
        return messages.events_damaged(seqs) if seqs else None

    def replaced(self) -> str | None:
        """At start: the store was damaged and moved aside; what was saved from it."""
        if self.outbox.moved_aside is None:
            return None
        saved = self.outbox.salvaged
        if saved is None:
            return messages.store_replaced(self.outbox.moved_aside, None)
        return messages.store_replaced(
            self.outbox.moved_aside,
            saved.last_seq,
            saved.recovered,
            saved.damaged_reads + saved.damaged_rows,
        )
