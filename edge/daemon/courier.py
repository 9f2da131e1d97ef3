"""Everything between the store and the wire: what goes out next, and what came back.

The courier hands the publisher (paho, behind :class:`Publisher`) committed events in
``seq`` order within :class:`~edge.delivery.Delivery`'s window and pace, marks them
delivered on their PUBACK (batched: one commit per :data:`FLUSH_MARKS_S`, not one fsync
per PUBACK), repeats unacknowledged alarms, answers ``resend``, sends again what the
broker never answered, and keeps each sensor's retained state.

Rules:

- First deliveries go before repeats and resends; nothing is handed over while the link
  is down (paho would queue it without bound).
- The retained ``state/{sensor}`` is the sensor's latest *real* event. This module is its
  one owner (:attr:`Courier.real`): drills and walk tests never become it, on any path
  (a commit, a reconnect, a state PUBACK that never came), and a restart takes it from
  the store, which keeps only real events as ``latest``.
- At most one retained state per sensor is in flight; only the newest waiting one goes.
- Time comes in as ``now`` (monotonic); the courier never reads a clock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from typing import Protocol

from pydantic import ValidationError

from edge import logs
from edge.config import DEVICE_SENSOR, MqttConfig
from edge.delivery import Delivery, Purpose
from edge.detect.types import State
from edge.outbox import STORE_ERRORS, Outbox, Stored
from edge.payloads import Event, Resend
from edge.topics import Topics

log = logs.get("courier")

FLUSH_MARKS_S = 0.05
MAX_MARKS = 500  # PUBACK marks held before they are committed whatever the time
REPEAT_CHECK_S = 1.0
MAX_QUEUED_RESENDS = 10_000  # repeats and resends waiting for the window, at most
OVERDUE_KEEPALIVES = 4  # no PUBACK after this many keepalives while connected: send again
OVERDUE_MIN_S = 30.0
MARK_RETRY_S = 1.0
MIN_MARK_SPLIT = 8
# MQTT v5 user properties on an event published again (a first delivery has none): what
# it is, and whether the device still waits for its acknowledgement (docs/mqtt-api.md).
REPEAT_PROPERTIES = {"sent": "repeat", "ack": "open"}


class Publisher(Protocol):
    """What the courier needs of the link; :class:`edge.mqtt.MqttLink` is one."""

    connected: threading.Event
    receive_maximum: int

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        user: Mapping[str, str] | None = None,
    ) -> int | None: ...

    def wait_written(self, timeout: float = ...) -> bool: ...


class Courier:
    def __init__(
        self,
        outbox: Outbox,
        publisher: Publisher,
        topics: Topics,
        mqtt: MqttConfig,
        *,
        repeat_s: float,
        now: float,
    ) -> None:
        self.outbox = outbox
        self.publisher = publisher
        self.topics = topics
        self.mqtt = mqtt
        self.repeat_s = repeat_s
        self.delivery = Delivery(mqtt.inflight, mqtt.drain_per_s)
        self.delivery.restart_from(outbox.first_undelivered(), outbox.last_seq())
        self.real: dict[str, bytes] = {
            sensor: stored.payload
            for sensor, stored in outbox.latest().items()
            if sensor != DEVICE_SENSOR
        }
        """Each sensor's latest real event: what its retained state shows."""
        self.extra: deque[tuple[Stored, Purpose]] = deque()  # repeats, resends waiting for room
        self._to_mark: list[int] = []
        self._marks_due = 0.0
        self._state_due: dict[str, bytes] = {}
        self._state_sent: dict[int, tuple[str, float]] = {}  # mid -> (sensor, sent at)
        self._backlog = False  # the last pump filled its room: more events may be waiting
        self._repeat_check_at = now + REPEAT_CHECK_S
        self._mark_failures = logs.Streak(log, "mark_delivered_failed")
        self._mark_sent_failures = logs.Streak(log, "mark_sent_failed")

    @property
    def connected(self) -> bool:
        return self.publisher.connected.is_set()

    def real_state(self, sensor: str) -> State | None:
        payload = self.real.get(sensor)
        if payload is None:
            return None
        try:
            return Event.model_validate_json(payload).state
        except ValidationError:
            return None

    # ------------------------------------------------------------------ the alarm path

    def send_new(self, now: float) -> None:
        """A new event is committed: hand it over now, and let paho's thread write it
        before the caller goes on with its bookkeeping."""
        if self.pump(now):
            self.publisher.wait_written()

    def retain(self, event: Event, now: float) -> None:
        """A committed event: if real, it is its sensor's present, for late listeners."""
        if event.sensor == DEVICE_SENSOR or event.drill or event.test:
            return
        payload = event.to_json()
        self.real[event.sensor] = payload
        self._state_due[event.sensor] = payload
        self._flush_states(now)

    # ------------------------------------------------------------------ the link

    def on_connected(self, now: float, status: bytes, sensors: int) -> None:
        self._fit_window(self.publisher.receive_maximum, sensors)
        self.delivery.resent_all(now)  # paho sends what it held again, now
        for mid, (sensor, _) in self._state_sent.items():
            self._state_sent[mid] = (sensor, now)
        self.publisher.publish(self.topics.status, status, qos=1, retain=True)
        for sensor, payload in self.real.items():
            self._state_due.setdefault(sensor, payload)
        self._flush_states(now)
        self.pump(now)

    def on_puback(self, mid: int, ok: bool, reason: str, now: float) -> int | None:
        """The seq of a first delivery the broker has just taken, else None."""
        state = self._state_sent.pop(mid, None)
        if state is not None:
            if not ok:
                log.error("state_publish_refused", sensor=state[0], reason=reason)
            self._flush_states(now)
            return None
        entry = self.delivery.acked(mid, ok, now)
        if entry is None:
            return None
        if not ok:
            log.error(
                "publish_refused",
                seq=entry.seq,
                reason=reason,
                retry_in_s=round(self.delivery.paused_until - now, 1),
            )
            return None
        if entry.purpose is not Purpose.EVENT:
            return None
        if not self._to_mark:
            self._marks_due = now + FLUSH_MARKS_S
        self._to_mark.append(entry.seq)
        return entry.seq

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Anything else the device says (heartbeat, status, receipts): not tracked."""
        self.publisher.publish(topic, payload, qos=qos, retain=retain)

    def _fit_window(self, receive_maximum: int, sensors: int) -> None:
        """Keep what is in flight within the broker's MQTT v5 Receive Maximum (paho does
        not): a broker that enforces it disconnects a client that exceeds it, and paho would
        then exceed it again with its re-sends, forever. Room is kept for the retained
        states, the status and discovery."""
        fits = max(1, min(self.mqtt.inflight, receive_maximum - sensors - 2))
        if fits != self.delivery.window:
            log.info("inflight_window", window=fits, broker_receive_maximum=receive_maximum)
            self.delivery.window = fits

    # ------------------------------------------------------------------ delivery

    def pump(self, now: float) -> int:
        """Hand over as much as the window and the pace allow, first deliveries first.

        Returns how many first deliveries were handed over."""
        if not self.connected:
            return 0
        room = self.delivery.room(now)
        if room <= 0:
            # Whatever waits goes when a PUBACK frees the window or the pace allows
            # (wake_at says when): never an idle second for a new alarm.
            self._backlog = True
            return 0
        batch = self.outbox.undelivered(self.delivery.cursor, room)
        self._backlog = len(batch) >= room
        for i, stored in enumerate(batch):
            if not self._send(stored, Purpose.EVENT, now):
                return i
        room -= len(batch)
        sent: list[int] = []
        while room > 0 and self.extra:
            stored, purpose = self.extra.popleft()
            if not self._send(stored, purpose, now):
                self.extra.appendleft((stored, purpose))
                break
            sent.append(stored.seq)
            room -= 1
        try:
            self.outbox.mark_sent(sent)
        except STORE_ERRORS as exc:  # the repeat timer's: a repeat comes early
            self._mark_sent_failures.failed(error=str(exc), events=len(sent))
        else:
            if sent:
                self._mark_sent_failures.ok()
        return len(batch)

    def _send(self, stored: Stored, purpose: Purpose, now: float) -> bool:
        user = None
        if purpose is Purpose.REPEAT:
            user = REPEAT_PROPERTIES
        elif purpose is Purpose.RESEND:
            user = {"sent": "resend", "ack": "closed" if stored.settled else "open"}
        mid = self.publisher.publish(self.topics.events, stored.payload, qos=1, user=user)
        if mid is None:
            return False
        self.delivery.sent(mid, stored.seq, purpose, now)
        return True

    def flush_marks(self, now: float) -> None:
        if not self._to_mark:
            return
        marks, self._to_mark = self._to_mark, []
        kept = self._mark(marks)
        if kept:
            # Kept and tried again: a mark lost here would leave the event undelivered in
            # the store until a restart re-sent it.
            self._to_mark = kept + self._to_mark
            self._marks_due = now + MARK_RETRY_S
        else:
            self._mark_failures.ok()

    def _mark(self, seqs: list[int]) -> list[int]:
        """Mark ``seqs`` delivered; the ones that could not be. On a full disk a large
        batch may need more new pages than there are, while a smaller one fits and frees
        room (delivered events can be evicted): so a refused batch is halved, oldest first,
        down to :data:`MIN_MARK_SPLIT`, and what follows a refused part waits."""
        try:
            self.outbox.mark_delivered(seqs)
        except STORE_ERRORS as exc:
            if len(seqs) <= MIN_MARK_SPLIT:
                self._mark_failures.failed(error=str(exc), events=len(seqs))
                return seqs
            half = len(seqs) // 2
            kept = self._mark(seqs[:half])
            return kept + seqs[half:] if kept else self._mark(seqs[half:])
        return []

    def run_due(self, now: float) -> None:
        if self._to_mark and (now >= self._marks_due or len(self._to_mark) >= MAX_MARKS):
            self.flush_marks(now)
        if now >= self._repeat_check_at:
            self._repeat_check_at = now + REPEAT_CHECK_S
            self._check_overdue(now)
            self._queue_repeats()

    def wake_at(self, now: float) -> float:
        times = [self._repeat_check_at]
        if self._to_mark:
            times.append(self._marks_due)
        if self.connected:  # while disconnected, the reconnection itself wakes the loop
            if self.delivery.paused_until > now:
                times.append(self.delivery.paused_until)
            elif self._backlog or self.extra:  # a paced drain: wake for the next tokens
                due = self.delivery.refill_at(now)
                if due is not None:
                    times.append(due)
        return min(times)

    @property
    def idle(self) -> bool:
        """Nothing in flight and nothing undelivered in the store."""
        return not self.delivery.inflight and self.outbox.depth() == 0

    # ------------------------------------------------------------------ repeats and resends

    def resend(self, req: Resend) -> None:
        span = req.span()
        room = MAX_QUEUED_RESENDS - len(self.extra)
        if room <= 0:  # bounded memory whatever the control room (or a forger) asks
            log.warning("resend_refused", from_seq=req.from_seq, to_seq=req.to_seq, reason="busy")
            return
        try:
            stored = self.outbox.span(span.start, min(span.stop - 1, span.start + room - 1))
        except STORE_ERRORS as exc:  # the control room asks again when it sees the gap still open
            log.error("resend_failed", from_seq=req.from_seq, to_seq=req.to_seq, error=str(exc))
            return
        self.extra.extend((s, Purpose.RESEND) for s in stored)
        log.info("resend_requested", from_seq=req.from_seq, to_seq=req.to_seq, found=len(stored))

    def _queue_repeats(self) -> None:
        queued = {s.seq for s, _ in self.extra}
        inflight = {e.seq for e in self.delivery.inflight.values() if e.purpose is Purpose.REPEAT}
        for stored in self.outbox.due_repeats(self.repeat_s, limit=100):
            if stored.seq not in queued and stored.seq not in inflight:
                self.extra.append((stored, Purpose.REPEAT))

    def _check_overdue(self, now: float) -> None:
        """A PUBACK that never comes while connected (a broker that lost the message, a
        session gone astray) must not stall delivery: after a few keepalives the event is
        forgotten as in flight and sent again from the outbox (same id: at least once)."""
        if not self.connected:
            return
        max_age = max(OVERDUE_MIN_S, OVERDUE_KEEPALIVES * self.mqtt.keepalive_s)
        overdue = self.delivery.overdue(now, max_age)
        if overdue:
            seqs = sorted(e.seq for e in overdue)
            log.warning("puback_overdue", events=len(seqs), first_seq=seqs[0], after_s=max_age)
        stale = [m for m, (_, t) in self._state_sent.items() if now - t > max_age]
        for mid in stale:
            sensor, _ = self._state_sent.pop(mid)
            if sensor not in self._state_due and sensor in self.real:
                self._state_due[sensor] = self.real[sensor]
        if stale:
            self._flush_states(now)

    # ------------------------------------------------------------------ retained states

    def _flush_states(self, now: float) -> None:
        """Hand over the newest retained state of each sensor, one in flight per sensor.

        A state is the present, so only the newest matters: during a storm (or a dead link
        not yet noticed) thousands of stale states would otherwise queue in paho, unbounded
        and ahead of the events, and be re-sent on reconnect before them."""
        if not self._state_due or not self.connected:
            return
        busy = {sensor for sensor, _ in self._state_sent.values()}
        for sensor in [s for s in self._state_due if s not in busy]:
            mid = self.publisher.publish(
                self.topics.state(sensor), self._state_due[sensor], qos=1, retain=True
            )
            if mid is None:
                return
            self._state_sent[mid] = (sensor, now)
            del self._state_due[sensor]
