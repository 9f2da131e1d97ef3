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
    OPEN_CIRCUIT = "open_circuit"
    """A supervised (end-of-line) loop reads open: the cable is cut."""
    SHORT_CIRCUIT = "short_circuit"
    """A supervised (end-of-line) loop reads shorted: the cable is crushed or bridged."""
    STARTUP = "startup"
    # Reasons of zones (a group of sensors deciding together, edge/detect/zones.py) and of
    # manual call points.
    MANUAL = "manual"
    COINCIDENCE = "coincidence"
    CONFIRMING = "confirming"
    CONFIRMED = "confirmed"
    STUCK_TRIGGER = "stuck_trigger"
    QUORUM = "quorum"
    # Reasons of events about the device itself (sensor "_device").
    STORAGE = "storage"
    RELOAD = "reload"
    DRILL = "drill"
    TEST = "test"
    """A walk test or siren test began or ended (sensor ``_device``)."""
    LATENCY = "latency"
    LINK = "link"
    OUTPUTS = "outputs"
    POWER = "power"
    """Under-voltage now (fault), over (normal), or seen since boot (warning)."""
    WATCHDOG = "watchdog"
    """No hardware watchdog is armed (warning)."""
    CLOCK = "clock"
    """The clock is not synchronised (warning), or became so (normal)."""


FAULT_REASONS = frozenset(
    {
        Reason.NO_DATA,
        Reason.STUCK,
        Reason.OUT_OF_RANGE,
        Reason.CHATTER,
        Reason.OPEN_CIRCUIT,
        Reason.SHORT_CIRCUIT,
        Reason.STUCK_TRIGGER,
        Reason.QUORUM,
    }
)

STATE_STEP = 1_000_000
"""Orders of levels of one state span ``[rank * STATE_STEP, (rank + 1) * STATE_STEP)``."""
_RANK = {State.NORMAL: 0, State.WARNING: 1, State.ALARM: 2}


def order_of(state: State, stage_index: int = 0) -> int:
    """How bad a level is: by state first, then by its stage's position (1 = mildest).

    Ranking by state first means an alarm outranks every warning whatever its stage, and
    a rate-of-rise alarm at stage k ranks with the level alarm at stage k; ranking by
    stage second means moving between two stages of one state is still a change.
    """
    if not 0 <= stage_index < STATE_STEP:
        raise ValueError(f"stage index {stage_index} out of range")
    return _RANK[state] * STATE_STEP + stage_index


def stage_index(order: int) -> int:
    """The stage position encoded in an order (0: no stage)."""
    return order % STATE_STEP


@dataclass(frozen=True, slots=True)
class Level:
    """What a classifier makes of the present input, before debounce.

    ``order`` ranks levels by how bad they are (0 = normal, see :func:`order_of`); the
    debouncer compares orders, the outside world sees ``state`` and ``stage``.
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
    zone: str | None = None
    """The zone this sensor is a member of; on a zone's own transition, the zone itself."""
    members: tuple[str, ...] = ()
    """On a zone's transition: the members whose state made it (voters, detectors, the
    call point, the stuck or failed members)."""
