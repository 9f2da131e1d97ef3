"""Classifiers: what the present input means, before supervision and debounce.

One per way of sensing a hazard. Each takes calibrated samples with their timestamps and
answers a :class:`Level`; ``idle`` answers again when only time has passed, and
``next_change`` says when time alone could change the answer (``timed`` is False when it
never can, which lets :meth:`SensorMachine.sample_many` skip asking).
"""

from __future__ import annotations

import math
from typing import Protocol

from edge.detect.eol import Loop, LoopState
from edge.detect.highpass import HighPass
from edge.detect.levels import LevelClassifier, Threshold
from edge.detect.pulses import PulseWindow
from edge.detect.rate import RateOfRise
from edge.detect.stalta import StaLtaTrigger
from edge.detect.types import NORMAL, Level, Reason, State, order_of, stage_index

WARNING_ORDER = order_of(State.WARNING)
ALARM_ORDER = order_of(State.ALARM)


class Classifier(Protocol):
    @property
    def ready(self) -> bool: ...

    @property
    def timed(self) -> bool: ...

    def classify(self, t: float, value: float) -> Level: ...

    def idle(self, t: float) -> Level: ...

    def next_change(self) -> float | None: ...

    def measure(self, value: float) -> float:
        """An event's value, from the last sample: what the thresholds are compared with."""
        ...


class Contact:
    """A detector's relay or an MQ module's DO pin: closed (1) is the hazard."""

    ALARM = Level(ALARM_ORDER, State.ALARM, Reason.CONTACT)
    ready = True
    timed = False

    def __init__(self, reason: Reason = Reason.CONTACT) -> None:
        """``reason``: ``manual`` for a call point, so the event says a person raised it."""
        self._level = NORMAL
        self._alarm = (
            self.ALARM if reason is Reason.CONTACT else Level(ALARM_ORDER, State.ALARM, reason)
        )

    def classify(self, t: float, value: float) -> Level:
        self._level = self._alarm if value >= 0.5 else NORMAL
        return self._level

    def idle(self, t: float) -> Level:
        return self._level

    def next_change(self) -> float | None:
        return None

    def measure(self, value: float) -> float:
        return value


class LoopContact(Contact):
    """A supervised loop's resistance (ohms): its alarm band is the hazard. Open, short
    and between-band readings never get here: supervision holds them (``loop_check``)."""

    def __init__(self, loop: Loop) -> None:
        super().__init__()
        self.loop = loop

    def classify(self, t: float, value: float) -> Level:
        self._level = self.ALARM if self.loop.classify(value) is LoopState.ALARM else NORMAL
        return self._level


class Thresholds:
    """Levels with hysteresis (or named stages), optionally with a rate-of-rise alarm.

    ``sign`` is -1 for a falling sensor: values become "badness" so one code path serves
    both directions. A rate alarm keeps the stage the level has reached, so the control
    room reads "alarm (rate), Siaga III": rising fast, and where it is now.
    """

    ready = True
    timed = False

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
        self.rate = rate
        self._rate_threshold = rate_threshold
        self._rate_levels: dict[Level, Level] = {}
        self._level = NORMAL

    def classify(self, t: float, value: float) -> Level:
        badness = self._sign * value
        level = self._levels.classify(badness)
        if self.rate is not None and self.rate.update(t, badness) and level.state != State.ALARM:
            level = self._rate_level(level)
        self._level = level
        return level

    def idle(self, t: float) -> Level:
        return self._level

    def next_change(self) -> float | None:
        return None

    def measure(self, value: float) -> float:
        return value

    def _rate_level(self, level: Level) -> Level:
        rated = self._rate_levels.get(level)
        if rated is None:
            rated = Level(
                order_of(State.ALARM, stage_index(level.order)),
                State.ALARM,
                Reason.RATE,
                level.stage,
                threshold=self._rate_threshold,
            )
            self._rate_levels[level] = rated
        return rated


class Seismic:
    """High-pass, then STA/LTA trigger (warning), then peak amplitude while triggered (alarm).

    The peak is of the high-passed signal, so gravity and tilt never count as shaking, and
    it resets when the trigger releases: each event is judged on its own peak.

    An alarm outlasts the trigger while the shaking does: during long shaking the long
    window catches up and the ratio falls below ``off`` although the ground still moves
    at the alarm level (a quake whose shaking builds over tens of seconds). The alarm then
    holds as long as the high-passed signal reaches ``alarm`` at least once every
    ``hold_s`` (the long window, ``lta_s``: a couple of cycles even at the high-pass
    corner); only then does the level fall back to normal, and ``delay_off_s`` runs.
    """

    timed = False

    def __init__(
        self,
        highpass: HighPass,
        trigger: StaLtaTrigger,
        alarm: float | None,
        hold_s: float = 0.0,
    ) -> None:
        self.highpass = highpass
        self.trigger = trigger
        self.alarm = alarm
        self.hold_s = hold_s
        self.peak = 0.0
        self.filtered = 0.0
        self._strong_t = -math.inf  # last time |high-passed| reached alarm in an alarm
        # The STA/LTA ratio is unitless: a warning's threshold would not be in the sensor's
        # unit like its value (the peak so far), so it reports none.
        self._warning = Level(WARNING_ORDER, State.WARNING, Reason.STA_LTA)
        self._alarm = Level(ALARM_ORDER, State.ALARM, Reason.LEVEL, threshold=alarm)
        self._level = NORMAL

    @property
    def ready(self) -> bool:
        return self.trigger.ready

    def classify(self, t: float, value: float) -> Level:
        x = self.filtered = self.highpass.step(value)
        magnitude = -x if x < 0.0 else x
        alarm = self.alarm
        strong = alarm is not None and magnitude >= alarm
        if not self.trigger.step(x):
            if self._level is self._alarm:
                if strong:
                    self._strong_t = t
                if t - self._strong_t <= self.hold_s:
                    self.peak = max(self.peak, magnitude)
                    return self._alarm
            self.peak = 0.0
            self._level = NORMAL
            return NORMAL
        peak = self.peak = max(self.peak, magnitude)
        level = self._alarm if alarm is not None and peak >= alarm else self._warning
        if strong:
            self._strong_t = t
        self._level = level
        return level

    def idle(self, t: float) -> Level:
        return self._level

    def next_change(self) -> float | None:
        return None

    def measure(self, value: float) -> float:
        """The peak |high-passed| while triggered or held in alarm, else the present one."""
        held = self._level is self._alarm
        return self.peak if self.trigger.triggered or held else abs(self.filtered)


class PulseDensity:
    """Vibration-switch pulses per window as a level (see :mod:`edge.detect.pulses`)."""

    ready = True
    timed = True

    def __init__(self, window: PulseWindow, warning: int | None, alarm: int) -> None:
        self.window = window
        self.warning = warning
        self.alarm = alarm
        self.count = 0
        self._alarm = Level(ALARM_ORDER, State.ALARM, Reason.PULSES, threshold=float(alarm))
        self._warning = (
            None
            if warning is None
            else Level(WARNING_ORDER, State.WARNING, Reason.PULSES, threshold=float(warning))
        )

    def classify(self, t: float, value: float) -> Level:
        count = self.count = self.window.pulse(t) if value >= 0.5 else self.window.count(t)
        return self._level(count)

    def idle(self, t: float) -> Level:
        count = self.count = self.window.count(t)
        return self._level(count)

    def next_change(self) -> float | None:
        return self.window.next_change()

    def measure(self, value: float) -> float:
        return float(self.count)

    def _level(self, count: int) -> Level:
        if count >= self.alarm:
            return self._alarm
        if self._warning is not None and self.warning is not None and count >= self.warning:
            return self._warning
        return NORMAL
