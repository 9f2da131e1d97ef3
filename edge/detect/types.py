"""Values the detection core speaks in: states, reasons, levels and transitions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    STARTING = "starting"
    NORMAL = "normal"
    WARNING = "warning"
    ALARM = "alarm"
    FAULT = "fault"
    DISABLED = "disabled"


class Reason(StrEnum):
    LEVEL = "level"
    RATE = "rate"
    STA_LTA = "sta_lta"
    PULSES = "pulses"
    CONTACT = "contact"
    CLEARED = "cleared"
    NO_DATA = "no_data"
    STUCK = "stuck"
    OUT_OF_RANGE = "out_of_range"
    CHATTER = "chatter"
    STARTUP = "startup"
    # Reasons of events about the device itself (sensor "_device").
    STORAGE = "storage"
    RELOAD = "reload"
    DRILL = "drill"
    LATENCY = "latency"
    LINK = "link"


FAULT_REASONS = frozenset({Reason.NO_DATA, Reason.STUCK, Reason.OUT_OF_RANGE, Reason.CHATTER})


@dataclass(frozen=True, slots=True)
class Level:
    """What a classifier makes of the present input, before debounce.

    ``order`` ranks levels by how bad they are (0 = normal); the debouncer compares orders,
    the outside world sees ``state`` and ``stage``.
    """

    order: int
    state: State
    reason: Reason
    stage: str | None = None
    threshold: float | None = None

    @property
    def shown(self) -> tuple[State, str | None]:
        return (self.state, self.stage)


NORMAL = Level(0, State.NORMAL, Reason.CLEARED)


@dataclass(frozen=True, slots=True)
class Transition:
    """One state change of one sensor: the core's only output."""

    t: float
    sensor: str
    state: State
    previous: State
    reason: Reason
    stage: str | None = None
    value: float | None = None
    threshold: float | None = None
    onset: float | None = None
    """When the condition that caused it began (``t - onset`` is the debounce delay)."""
