"""Which stored events go to MQTT next: ``seq`` order, a bounded window, a paced drain.

No sockets and no clock here: the daemon asks :meth:`Delivery.room` how many it may
publish, takes that many undelivered events after :attr:`Delivery.cursor` from the outbox,
reports each mid it got back (:meth:`sent`) and each PUBACK (:meth:`acked`), and passes
``now`` in. The window is also kept within the broker's MQTT v5 Receive Maximum (the
daemon shrinks ``window`` on connect).

- At most ``window`` messages are in flight: paho ignores its own inflight limit on
  reconnect and its mids wrap at 65535, so it must never hold a backlog.
- Publishing is paced by a token bucket (``rate_per_s``): a broker drops what overflows
  a subscriber's queue, and a replay flood after an outage is how edge queues lose data.
- A message paho holds when the link drops is re-sent by paho on reconnect (same mid),
  so in-flight entries survive disconnects; a refusal (PUBACK >= 0x80) rewinds, and so
  does a PUBACK overdue while connected (:meth:`overdue`): nothing can stall the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Purpose(Enum):
    EVENT = "event"  # first delivery: a PUBACK marks it delivered
    REPEAT = "repeat"  # an unacknowledged alarm/fault, again
    RESEND = "resend"  # asked for by the control room


@dataclass(slots=True)
class InFlight:
    seq: int
    purpose: Purpose
    sent_at: float


@dataclass(slots=True)
class Delivery:
    window: int
    rate_per_s: float
    cursor: int = 0
    """Highest seq handed out for first delivery."""
    inflight: dict[int, InFlight] = field(default_factory=dict)
    paused_until: float = 0.0
    denials: int = 0
    _tokens: float = 0.0
    _refilled_at: float | None = None

    def room(self, now: float) -> int:
        """How many messages may be handed to paho right now."""
        if now < self.paused_until:
            return 0
        self._refill(now)
        return max(0, min(self.window - len(self.inflight), int(self._tokens)))

    def refill_at(self, now: float) -> float | None:
        """When the pace allows filling the window's free room, if the pace is what limits.

        None while the window is full (a PUBACK wakes the caller) or the tokens suffice.
        Waiting for the whole free room, not one token, keeps a paced drain to one wake
        per batch; the rate is the same.
        """
        free = self.window - len(self.inflight)
        if self._refilled_at is None or free <= 0:
            return None
        self._refill(now)
        if self._tokens >= free:
            return None
        return now + (free - self._tokens) / self.rate_per_s

    def sent(self, mid: int, seq: int, purpose: Purpose, now: float) -> None:
        self.inflight[mid] = InFlight(seq, purpose, now)
        self._tokens -= 1.0
        if purpose is Purpose.EVENT:
            self.cursor = max(self.cursor, seq)

    def acked(self, mid: int, ok: bool, now: float) -> InFlight | None:
        """A PUBACK for ``mid``; returns what it was for (None if it was not ours)."""
        entry = self.inflight.pop(mid, None)
        if entry is None:
            return None
        if ok:
            self.denials = 0
            return entry
        # Refused (0x87 not authorized, quota, ...): never delivered. Back off and start
        # again from the lowest undelivered event so the order is kept.
        self.denials += 1
        self.paused_until = now + min(60.0, 2.0 ** min(self.denials, 6))
        if entry.purpose is Purpose.EVENT:
            self.cursor = min(self.cursor, entry.seq - 1)
        return entry

    def resent_all(self, now: float) -> None:
        """The link is back and paho has just sent again all it held: their clocks restart."""
        for entry in self.inflight.values():
            entry.sent_at = now

    def overdue(self, now: float, max_age: float) -> list[InFlight]:
        """Forget what has waited longer than ``max_age`` for its PUBACK; first deliveries
        among them go again from the outbox, in order. Returns the forgotten entries."""
        old = {mid: e for mid, e in self.inflight.items() if now - e.sent_at > max_age}
        for mid in old:
            del self.inflight[mid]
        events = [e.seq for e in old.values() if e.purpose is Purpose.EVENT]
        if events:
            self.cursor = min(self.cursor, min(events) - 1)
        return list(old.values())

    def restart_from(self, first_undelivered: int | None, last_seq: int) -> None:
        """After a process start: everything not yet delivered goes again, in order."""
        self.cursor = (first_undelivered - 1) if first_undelivered is not None else last_seq
        self.inflight.clear()

    def forget_inflight(self) -> None:
        """The client lost its queue (a new client or session): what was in flight is unsent."""
        events = [e.seq for e in self.inflight.values() if e.purpose is Purpose.EVENT]
        if events:
            self.cursor = min(self.cursor, min(events) - 1)
        self.inflight.clear()

    def _refill(self, now: float) -> None:
        if self._refilled_at is None:
            self._tokens = float(self.window)
        else:
            self._tokens = min(
                float(self.window), self._tokens + (now - self._refilled_at) * self.rate_per_s
            )
        self._refilled_at = now
