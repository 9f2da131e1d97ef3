"""Threshold levels with hysteresis (a Schmitt trigger over several thresholds).

The input enters a level when it reaches the level's threshold and leaves it only when it
falls ``hysteresis`` below, so a value hovering at a threshold does not chatter. Values
are "badness": for a falling sensor the caller negates values and thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge.detect.types import NORMAL, STATE_STEP, Level, Reason, State, order_of


@dataclass(frozen=True, slots=True)
class Threshold:
    at: float
    level: Level


class LevelClassifier:
    def __init__(
        self, thresholds: Sequence[Threshold], hysteresis: float, base: Level = NORMAL
    ) -> None:
        ats = [th.at for th in thresholds]
        if ats != sorted(ats) or len(set(ats)) != len(ats):
            raise ValueError("thresholds must be strictly increasing")
        self._thresholds = list(thresholds)
        self._ats = ats
        self._hysteresis = hysteresis
        self._base = base
        self._index = -1  # -1: below every threshold

    @property
    def level(self) -> Level:
        return self._base if self._index < 0 else self._thresholds[self._index].level

    def classify(self, value: float) -> Level:
        """Enter at ``>= at``; leave below ``at - hysteresis``."""
        ats, i = self._ats, self._index
        top = len(ats) - 1
        while i < top and value >= ats[i + 1]:
            i += 1
        while i >= 0 and value < ats[i] - self._hysteresis:
            i -= 1
        self._index = i
        return self._base if i < 0 else self._thresholds[i].level


def warning_alarm(
    warning: float | None,
    alarm: float | None,
    *,
    reason: Reason = Reason.LEVEL,
    sign: float = 1.0,
) -> list[Threshold]:
    """The two classic thresholds; ``sign`` -1 turns a falling sensor into badness."""
    out = []
    if warning is not None:
        level = Level(order_of(State.WARNING), State.WARNING, reason, threshold=warning)
        out.append(Threshold(sign * warning, level))
    if alarm is not None:
        level = Level(order_of(State.ALARM), State.ALARM, reason, threshold=alarm)
        out.append(Threshold(sign * alarm, level))
    return out


def staged(
    stages: Sequence[tuple[str, float, State]], *, sign: float = 1.0
) -> tuple[list[Threshold], Level]:
    """Named stages (e.g. Siaga IV … Siaga I) as thresholds, plus the level below them all.

    A stage's badness comes from its configured level and the sensor's direction, never
    from its name: "Siaga I" is worse than "Siaga IV" only because the site says so.
    Its order is its state first, then its position, so moving between two stages of the
    same state (Siaga III to Siaga II, both warnings) is still a change the control room
    is told of.
    """
    if len(stages) >= STATE_STEP:
        raise ValueError("too many stages")
    thresholds = [
        Threshold(
            sign * at,
            Level(order_of(state, i + 1), state, Reason.LEVEL, stage=name, threshold=at),
        )
        for i, (name, at, state) in enumerate(stages)
    ]
    return thresholds, NORMAL
