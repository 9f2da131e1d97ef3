"""Threshold levels with hysteresis (a Schmitt trigger over several thresholds).

The input enters a level when it reaches the level's threshold and leaves it only when it
falls ``hysteresis`` below, so a value hovering at a threshold does not chatter. Values
are "badness": for a falling sensor the caller negates values and thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge.detect.types import NORMAL, Level, Reason, State


@dataclass(frozen=True, slots=True)
class Threshold:
    at: float
    level: Level


class LevelClassifier:
    def __init__(self, thresholds: Sequence[Threshold], hysteresis: float, base: Level = NORMAL):
        ats = [th.at for th in thresholds]
        if ats != sorted(ats) or len(set(ats)) != len(ats):
            raise ValueError("thresholds must be strictly increasing")
        self._thresholds = list(thresholds)
        self._hysteresis = hysteresis
        self._base = base
        self._index = -1  # -1: below every threshold

    @property
    def level(self) -> Level:
        return self._base if self._index < 0 else self._thresholds[self._index].level

    def classify(self, value: float) -> Level:
        ths = self._thresholds
        while self._index + 1 < len(ths) and value >= ths[self._index + 1].at:
            self._index += 1
        while self._index >= 0 and value < ths[self._index].at - self._hysteresis:
            self._index -= 1
        return self.level


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
        out.append(Threshold(sign * warning, Level(1, State.WARNING, reason, threshold=warning)))
    if alarm is not None:
        out.append(Threshold(sign * alarm, Level(2, State.ALARM, reason, threshold=alarm)))
    return out


def staged(
    stages: Sequence[tuple[str, float, State]], *, sign: float = 1.0
) -> tuple[list[Threshold], Level]:
    """Named stages (e.g. Siaga IV … Siaga I) as thresholds, plus the level below them all.

    The order of a stage is its position, so moving between two stages of the same state
    (Siaga III to Siaga II, both warnings) is still a change the control room is told of.
    """
    thresholds = [
        Threshold(sign * at, Level(i + 1, state, Reason.LEVEL, stage=name, threshold=at))
        for i, (name, at, state) in enumerate(stages)
    ]
    return thresholds, NORMAL
