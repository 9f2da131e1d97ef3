"""The sensor state machine: supervision, classification and debounce, combined.

Rules (the whole contract of a sensor's published state):

1. A sensor disabled in config is ``disabled`` from start, forever; nothing is evaluated.
2. Every other sensor starts ``starting`` (reason ``startup``).
3. It stays ``starting`` while its classifier warms up (``warmup_s`` since start, an
   STA/LTA long window filling) and until its first level is established: a reading of a
   normal state (below every threshold, or in a stage whose state is normal) establishes
   it at once (reason ``startup``); a worse reading must first hold for ``delay_on_s``,
   like any escalation. It is never reported ``normal`` before.
4. Supervision comes first. When a check fails (``no_data``, ``stuck``, ``chatter``;
   ``out_of_range``, ``open_circuit``, ``short_circuit`` once verified over
   ``fault.verify_s``, see :mod:`edge.detect.supervision`) the sensor is ``fault`` at
   that instant, whatever its level. Invalid samples never reach the classifier, and
   while bad samples await verification no delay completes on time alone (it completes
   at the next valid sample, if the level still holds). An input that cannot be read at all
   (:meth:`SensorMachine.lost`) is ``fault`` (``no_data``) at once.
5. A sensor leaves ``fault`` only after valid data has flowed continuously for its
   ``delay_off_s`` (a fault that is ``stuck`` and nothing else: at the first reading that
   differs, which disproves it); it then shows its debounced level (or ``starting``,
   rule 3). A failed
   check interrupts every running delay: a condition is "continuous" only on data, so
   during a fault the debouncer is fed fresh valid samples only, never the last level
   held over, and a delay that began before a failed check starts again after it.
6. Levels change only through the debouncer: up when the input has been at least that bad
   continuously for ``delay_on_s``, down when it has been at most that bad continuously
   for ``delay_off_s``. Time alone can complete a delay, which is why every answer comes
   with :meth:`SensorMachine.deadline`.
7. A transition is published when the shown ``(state, stage)`` changes. Its reason is the
   level's (``level``, ``rate``, ``sta_lta``, ``pulses``, ``contact``); ``cleared`` when it
   returns to normal from a worse state; ``level`` when it moves between stages of the
   normal state; ``startup`` when it first becomes normal; or the fault's reason.
8. Transitions carry the time at which they happened: a deadline that passed before a
   sample arrived is processed at the deadline's time, not at the sample's.
9. Time never runs backwards: a sample or tick earlier than the last instant processed is
   taken as happening at that instant (a reading timestamped before a deadline the
   caller already ticked must not rewrite what was published).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass

from edge.detect.classify import Classifier
from edge.detect.debounce import Debouncer
from edge.detect.supervision import SupervisionRules, Supervisor
from edge.detect.types import NORMAL, Level, Reason, State, Transition

_MAX_DEADLINES_PER_TICK = 100_000
_INF = float("inf")
_BIG = sys.float_info.max


@dataclass(frozen=True, slots=True)
class Timing:
    delay_on_s: float = 0.0
    delay_off_s: float = 0.0
    warmup_s: float = 0.0


NO_DELAYS = Timing()
UNSUPERVISED = SupervisionRules()


class SensorMachine:
    def __init__(
        self,
        sensor_id: str,
        classifier: Classifier,
        *,
        timing: Timing = NO_DELAYS,
        supervision: SupervisionRules = UNSUPERVISED,
        enabled: bool = True,
    ) -> None:
        self.sensor_id = sensor_id
        self.classifier = classifier
        self.timing = timing
        self.rules = supervision
        self.enabled = enabled
        self.state = State.STARTING
        self.stage: str | None = None
        self.reason = Reason.STARTUP
        """The reason of the last published transition (a fault's: why it is one)."""
        self.value: float | None = None
        self.raw_level: Level | None = None
        self.last_sample_t: float | None = None
        self._t0: float | None = None
        self._now = -_INF
        self._supervisor = Supervisor(supervision, 0.0)
        self._debouncer: Debouncer | None = None
        self._established = False
        self._failures = 0
        self.fast_path = True
        """False forces every sample through the full path (the tests' reference)."""
        self._fast = False
        self._fast_due = -_INF
        self._fast_order = 0
        self._low = -_BIG if supervision.min is None else supervision.min
        self._high = _BIG if supervision.max is None else supervision.max

    # ------------------------------------------------------------------ inputs

    def start(self, t: float) -> list[Transition]:
        """Begin at ``t``: the first transition announces ``starting`` (or ``disabled``)."""
        self._t0 = self._now = t
        self._supervisor = Supervisor(self.rules, t)
        state = State.STARTING if self.enabled else State.DISABLED
        self.state = state
        self._regate()
        return [Transition(t, self.sensor_id, state, State.STARTING, Reason.STARTUP)]

    def sample(self, t: float, value: float | None) -> list[Transition]:
        """A reading at ``t``; ``None`` is a failed read (no echo, SPI error).

        While no fault is up and no deadline falls before ``t``, a valid in-range reading
        whose level is the one the debouncer was last given changes nothing but the
        supervisor's and classifier's memory: that common case takes a short path (see
        :meth:`_quiet`); everything else, the full one.
        """
        if (
            self._fast
            and value is not None
            and self._low <= value <= self._high
            and self._now <= t < self._fast_due
        ):
            self._supervisor.accept(t, value)
            classifier = self.classifier
            level = self.raw_level = classifier.classify(t, value)
            self.value = value
            self.last_sample_t = self._now = t
            if classifier.timed:
                nxt = classifier.next_change()
                if nxt is not None and nxt < self._fast_due:
                    self._fast_due = nxt
            if level.order == self._fast_order:
                return []
            self._debounce(t)
            out = self._settle(t)
        else:
            out = self._sample(t, value)
        self._regate()
        return out

    def lost(self, t: float) -> list[Transition]:
        """The input cannot be read at all from ``t`` (it failed to open): rule 4."""
        if not self.enabled:
            return []
        if self._t0 is None:
            raise RuntimeError("SensorMachine.start() must come before lost()")
        out = self._tick(t)
        self._supervisor.lost()
        out += self._settle(self._now)
        self._regate()
        return out

    def sample_many(self, samples: Iterable[tuple[float, float | None]]) -> list[Transition]:
        """Samples in time order: exactly the transitions of :meth:`sample` one by one."""
        out: list[Transition] = []
        sample = self.sample
        for t, value in samples:
            got = sample(t, value)
            if got:
                out += got
        return out

    def tick(self, t: float) -> list[Transition]:
        """Let time pass up to ``t`` with no new sample; process every deadline on the way."""
        out = self._tick(t)
        self._regate()
        return out

    def _tick(self, t: float) -> list[Transition]:
        if not self.enabled or self._t0 is None:
            return []
        out: list[Transition] = []
        for _ in range(_MAX_DEADLINES_PER_TICK):
            due = self.deadline()
            if due is None or due > t:
                break
            out += self._evaluate(due)
        if t > self._now:
            out += self._evaluate(t)
        return out

    def deadline(self) -> float | None:
        """The next time at which this machine must be ticked even if no sample arrives.

        Always later than the last instant processed: a deadline, once ticked, is done.
        """
        if not self.enabled or self._t0 is None:
            return None
        now = self._now
        best = self._supervisor.deadline(now)
        times = [self.classifier.next_change()]
        if self._debouncer is not None:
            times.append(self._debouncer.deadline())
        else:
            times.append(self._t0 + self.timing.warmup_s)
        for x in times:
            if x is not None and x > now and (best is None or x < best):
                best = x
        return best

    @property
    def last_good_t(self) -> float | None:
        """When the last valid sample was taken (None before any): an HC-SR04 that hears
        no echo keeps sampling, but this stops moving."""
        return self._supervisor.last_good

    def pending_change(self) -> tuple[float, State, str | None] | None:
        """When and to what the shown level changes if the input stays as it is, if at all.

        For a replay that ends mid-delay: what would have happened next.
        """
        if self._debouncer is None or self._supervisor.fault is not None:
            return None
        nxt = self._debouncer.next_change()
        if nxt is None:
            return None
        due, level = nxt
        return (due, level.state, level.stage)

    # ------------------------------------------------------------------ internals

    def _sample(self, t: float, value: float | None) -> list[Transition]:
        if not self.enabled:
            return []
        if self._t0 is None:
            raise RuntimeError("SensorMachine.start() must come before the first sample")
        out = self._tick(t)
        t = self._now  # rule 9
        self.last_sample_t = t
        if self._supervisor.sample(t, value):
            assert value is not None
            self.value = value
            self.raw_level = self.classifier.classify(t, value)
            self._debounce(t)
        elif value is not None:
            self.value = value
        out += self._settle(t)
        return out

    def _regate(self) -> None:
        if self.fast_path and self.enabled and self._t0 is not None:
            self._fast, self._fast_due, self._fast_order = self._quiet()
        else:
            self._fast = False

    def _quiet(self) -> tuple[bool, float, int]:
        """Whether the short path of :meth:`sample` applies, until when, at which order.

        It applies while no fault is up (recovery has its own bookkeeping), no contact
        edges are counted, and the debouncer exists: then a sample whose level has the
        order last fed to it, arriving before every deadline, cannot change anything the
        debouncer holds (feeding the same order again is a no-op and nothing ripens
        before the earliest deadline).
        """
        raw = self.raw_level
        if (
            self._debouncer is None
            or raw is None
            or self._supervisor.fault is not None
            or self._supervisor.suspect
            or self.rules.chatter_per_s is not None
            or self.rules.sample_check is not None
        ):
            return False, 0.0, 0
        due = self.deadline()
        return True, _INF if due is None else due, raw.order

    def _warm(self, t: float) -> bool:
        assert self._t0 is not None
        return self.classifier.ready and self._t0 + self.timing.warmup_s <= t

    def _evaluate(self, t: float) -> list[Transition]:
        self._now = t
        self._supervisor.check(t)
        if self.raw_level is not None:
            self.raw_level = self.classifier.idle(t)
        sup = self._supervisor
        if sup.fault is None and not sup.suspect:
            self._debounce(t)  # during a fault only fresh valid samples count (rule 5)
        return self._settle(t)

    def _debounce(self, t: float) -> None:
        raw = self.raw_level
        if raw is None:
            return  # nothing classified yet
        deb = self._debouncer
        if deb is None:
            if self._supervisor.fault is not None or not self._warm(t):
                return
            initial = raw if raw.state is State.NORMAL else NORMAL
            deb = self._debouncer = Debouncer(
                self.timing.delay_on_s, self.timing.delay_off_s, initial
            )
        deb.feed(t, raw)
        if not self._established and not deb.pending:
            self._established = True

    def _settle(self, t: float) -> list[Transition]:
        previous = self.state
        fault = self._supervisor.fault
        onset: float | None = None
        if fault is not None:
            state, stage, reason, threshold = State.FAULT, None, fault, None
            value = self._supervisor.fault_value
        elif self._debouncer is None or not self._established:
            state, stage, reason = State.STARTING, None, Reason.STARTUP
            threshold, value = None, None
        else:
            level = self._debouncer.current
            state, stage, threshold = level.state, level.stage, level.threshold
            value = None if self.value is None else self.classifier.measure(self.value)
            onset = self._debouncer.onset
            if state is not State.NORMAL:
                reason = level.reason
            elif previous is State.STARTING:
                reason = Reason.STARTUP
            elif previous is State.NORMAL:
                reason = Reason.LEVEL  # from one normal stage to another
            else:
                reason = Reason.CLEARED
        if self._failures != self._supervisor.failures:
            # Missing or untrusted data breaks "continuously": no delay runs across a
            # failed check, whether it starts a fault or happens during one.
            self._failures = self._supervisor.failures
            if self._debouncer is not None:
                self._debouncer.interrupt()
        if state is self.state and stage == self.stage:
            return []
        self.state, self.stage, self.reason = state, stage, reason
        return [
            Transition(
                t,
                self.sensor_id,
                state,
                previous,
                reason,
                stage=stage,
                value=value,
                threshold=threshold,
                onset=onset,
            )
        ]
