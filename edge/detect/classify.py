"""Classifiers: what the present input means, before supervision and debounce.

One per way of sensing a hazard. Each takes calibrated samples with their timestamps and
answers a :class:`Level`; ``idle`` answers again when only time has passed, and
``next_change`` says when time alone could change the answer.
"""

from __future__ import annotations

from typing import Protocol

from edge.detect.highpass import HighPass
from edge.detect.levels import LevelClassifier, Threshold
from edge.detect.pulses import PulseWindow
from edge.detect.rate import RateOfRise
from edge.detect.stalta import StaLtaTrigger
from edge.detect.types import NORMAL, Level, Reason, State

RATE_ORDER = 1000  # a rate alarm outranks any level short of a level alarm


class Classifier(Protocol):
    @property
    def ready(self) -> bool: ...

    def classify(self, t: float, value: float) -> Level: ...

    def idle(self, t: float) -> Level: ...

    def next_change(self) -> float | None: ...


class Contact:
    """A detector's relay or an MQ module's DO pin: closed is the hazard."""

    ALARM = Level(2, State.ALARM, Reason.CONTACT)

    def __init__(self) -> None:
        self._level = NORMAL

    ready = True

    def classify(self, t: float, value: float) -> Level:
        self._level = self.ALARM if value >= 0.5 else NORMAL
        return self._level

    def idle(self, t: float) -> Level:
        return self._level

    def next_change(self) -> float | None:
        return None


class Thresholds:
    """Levels with hysteresis (or named stages), optionally with a rate-of-rise alarm.

    ``sign`` is -1 for a falling sensor: values become "badness" so one code path serves
    both directions.
    """

    def __init__(
        self,
        thresholds: list[Threshold],
        hysteresis: float,
        *,
        sign: float = 1.0,
        rate: RateOfRise | None = None,
        rate_threshold: float | None = None,
    ) -> None:
        self._levels = LevelClassifier(thresholds, hysteresis)
        self._sign = sign
        self._rate = rate
        self._rate_threshold = rate_threshold
        self._level = NORMAL

    ready = True

    def classify(self, t: float, value: float) -> Level:
        badness = self._sign * value
        level = self._levels.classify(badness)
        if self._rate is not None and self._rate.update(t, badness) and level.state != State.ALARM:
            level = Level(
                RATE_ORDER, State.ALARM, Reason.RATE, level.stage, threshold=self._rate_threshold
            )
        self._level = level
        return level

    def idle(self, t: float) -> Level:
        return self._level

    def next_change(self) -> float | None:
        return None


class Seismic:
    """High-pass, then STA/LTA trigger (warning), then peak amplitude while triggered (alarm)."""

    def __init__(
        self, highpass: HighPass, trigger: StaLtaTrigger, alarm: float | None
    ) -> None:
        self.highpass = highpass
        self.trigger = trigger
        self.alarm = alarm
        self.peak = 0.0
        self._level = NORMAL

    @property
    def ready(self) -> bool:
        return self.trigger.ready

    def classify(self, t: float, value: float) -> Level:
        x = self.highpass.step(value)
        if not self.trigger.step(x):
            self.peak = 0.0
            self._level = NORMAL
            return NORMAL
        self.peak = max(self.peak, abs(x))
        if self.alarm is not None and self.peak >= self.alarm:
            self._level = Level(2, State.ALARM, Reason.LEVEL, threshold=self.alarm)
        else:
            self._level = Level(1, State.WARNING, Reason.STA_LTA, threshold=self.trigger.on)
        return self._level

    def idle(self, t: float) -> Level:
        return self._level

    def next_change(self) -> float | None:
        return None


class PulseDensity:
    """Vibration-switch pulses per window as a level (see :mod:`edge.detect.pulses`)."""

    def __init__(self, window: PulseWindow, warning: int | None, alarm: int) -> None:
        self.window = window
        self.warning = warning
        self.alarm = alarm

    ready = True

    def classify(self, t: float, value: float) -> Level:
        count = self.window.pulse(t) if value >= 0.5 else self.window.count(t)
        return self._level(count)

    def idle(self, t: float) -> Level:
        return self._level(self.window.count(t))

    def next_change(self) -> float | None:
        return self.window.next_change()

    def _level(self, count: int) -> Level:
        if count >= self.alarm:
            return Level(2, State.ALARM, Reason.PULSES, threshold=float(self.alarm))
        if self.warning is not None and count >= self.warning:
            return Level(1, State.WARNING, Reason.PULSES, threshold=float(self.warning))
        return NORMAL
