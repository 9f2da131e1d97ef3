"""The sensor state machine: supervision, classification and debounce, combined.

Rules (the whole contract of a sensor's published state):

1. A sensor disabled in config is ``disabled`` from start, forever; nothing is evaluated.
2. Every other sensor starts ``starting`` (reason ``startup``).
3. It stays ``starting`` while its classifier warms up (``warmup_s`` since start, an
   STA/LTA long window filling) and until its first level is established: a normal
   reading establishes ``normal`` at once (reason ``startup``); a worse reading must first
   hold for ``delay_on_s``, like any escalation. It is never reported ``normal`` before.
4. Supervision comes first. When a check fails (``no_data``, ``out_of_range``,
   ``stuck``, ``chatter``) the sensor is ``fault`` at that instant, whatever its level.
   Invalid samples never reach the classifier.
5. A sensor leaves ``fault`` only after valid data has flowed continuously for its
   ``delay_off_s``; it then shows its debounced level (or ``starting``, rule 3).
6. Levels change only through the debouncer: up when the input has been at least that bad
   continuously for ``delay_on_s``, down when it has been at most that bad continuously
   for ``delay_off_s``. Time alone can complete a delay, which is why every answer comes
   with :meth:`SensorMachine.deadline`.
7. A transition is published when the shown ``(state, stage)`` changes. Its reason is the
   level's (``level``, ``rate``, ``sta_lta``, ``pulses``, ``contact``), ``cleared`` when it
   returns to normal, or the fault's reason.
8. Transitions carry the time at which they happened: a deadline that passed before a
   sample arrived is processed at the deadline's time, not at the sample's.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.detect.classify import Classifier
from edge.detect.debounce import Debouncer
from edge.detect.supervision import SupervisionRules, Supervisor
from edge.detect.types import NORMAL, Level, Reason, State, Transition

_MAX_DEADLINES_PER_TICK = 10_000


@dataclass(frozen=True, slots=True)
class Timing:
    delay_on_s: float = 0.0
    delay_off_s: float = 0.0
    warmup_s: float = 0.0


class SensorMachine:
    def __init__(
        self,
        sensor_id: str,
        classifier: Classifier,
        *,
        timing: Timing = Timing(),
        supervision: SupervisionRules = SupervisionRules(),
        enabled: bool = True,
    ) -> None:
        self.sensor_id = sensor_id
        self.classifier = classifier
        self.timing = timing
        self.rules = supervision
        self.enabled = enabled
        self.state = State.STARTING
        self.stage: str | None = None
        self.value: float | None = None
        self.raw_level: Level = NORMAL
        self.last_sample_t: float | None = None
        self._t0: float | None = None
        self._now = float("-inf")
        self._supervisor = Supervisor(supervision, 0.0)
        self._debouncer: Debouncer | None = None
        self._established = False

    # ------------------------------------------------------------------ inputs

    def start(self, t: float) -> list[Transition]:
        """Begin at ``t``: the first transition announces ``starting`` (or ``disabled``)."""
        self._t0 = self._now = t
        self._supervisor = Supervisor(self.rules, t)
        state = State.STARTING if self.enabled else State.DISABLED
        self.state = state
        return [Transition(t, self.sensor_id, state, State.STARTING, Reason.STARTUP)]

    def sample(self, t: float, value: float | None) -> list[Transition]:
        """A reading at ``t``; ``None`` is a failed read (no echo, SPI error)."""
        if not self.enabled:
            return []
        out = self.tick(t)
        self.last_sample_t = self._now = t
        if self._supervisor.sample(t, value):
            assert value is not None
            self.value = value
            self.raw_level = self.classifier.classify(t, value)
            self._debounce(t)
        elif value is not None:
            self.value = value
        out += self._settle(t)
        return out

    def tick(self, t: float) -> list[Transition]:
        """Let time pass up to ``t`` with no new sample; process every deadline on the way."""
        if not self.enabled:
            return []
        out: list[Transition] = []
        for _ in range(_MAX_DEADLINES_PER_TICK):
            due = self.deadline()
            if due is None or due > t:
                break
            out += self._evaluate(due)
        out += self._evaluate(t)
        return out

    def deadline(self) -> float | None:
        """The next time at which this machine must be ticked even if no sample arrives."""
        if not self.enabled:
            return None
        times = [
            self._supervisor.deadline(),
            self.classifier.next_change(),
            self._debouncer.deadline() if self._debouncer else None,
        ]
        if self._debouncer is None and self._t0 is not None:
            warm_at = self._t0 + self.timing.warmup_s
            times.append(warm_at if self._now < warm_at else None)
        due = [x for x in times if x is not None]
        return min(due) if due else None

    # ------------------------------------------------------------------ internals

    def _warm(self, t: float) -> bool:
        assert self._t0 is not None
        return self.classifier.ready and t - self._t0 >= self.timing.warmup_s

    def _evaluate(self, t: float) -> list[Transition]:
        self._now = t
        self._supervisor.check(t)
        self.raw_level = self.classifier.idle(t)
        self._debounce(t)
        return self._settle(t)

    def _debounce(self, t: float) -> None:
        if self._debouncer is None:
            if self.value is None or self._supervisor.fault is not None or not self._warm(t):
                return
            self._debouncer = Debouncer(self.timing.delay_on_s, self.timing.delay_off_s, NORMAL)
        self._debouncer.feed(t, self.raw_level)
        if not self._debouncer.pending:
            self._established = True

    def _settle(self, t: float) -> list[Transition]:
        previous = self.state
        fault = self._supervisor.fault
        onset: float | None = None
        if fault is not None:
            state, stage, reason, threshold = State.FAULT, None, fault, None
            value = self._supervisor.fault_value
        elif self._debouncer is None or not self._established:
            state, stage, reason, threshold, value = State.STARTING, None, Reason.STARTUP, None, None
        else:
            level = self._debouncer.current
            state, stage, threshold, value = level.state, level.stage, level.threshold, self.value
            onset = self._debouncer.onset
            if state is State.NORMAL:
                reason = Reason.STARTUP if previous is State.STARTING else Reason.CLEARED
            else:
                reason = level.reason
        if (state, stage) == (self.state, self.stage):
            return []
        self.state, self.stage = state, stage
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
