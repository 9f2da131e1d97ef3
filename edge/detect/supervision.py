"""Sensor supervision: is the input itself trustworthy?

A sensor that cannot be trusted must never look ``normal``: silence from an unplugged
HC-SR04 is not "no flood". Each check names its fault reason:

- ``no_data``: no valid sample for ``no_data_s`` (counted from start, so a sensor that
  never answers is caught too);
- ``out_of_range``: a sample outside ``[min, max]``, or not a finite number (it is not
  passed on);
- ``stuck``: the exact same value for ``stuck_s`` (a frozen ADC or a dead amplifier);
- ``chatter``: more changes of value per second than ``chatter_per_s`` over a 10 s window
  on a contact input (a loose wire, not a detector);
- the input could not be opened at all (a pin in use, SPI off, no GPIO library): the
  adapter says so with :meth:`Supervisor.lost`, reported as ``no_data`` at once, whatever
  ``no_data_s`` is, since no sample will ever come.

A fault is raised the moment its check fails. It clears only after valid data has flowed
continuously for ``recover_s``: one good reading from a flaky sensor proves nothing. The
reported reason is the first check that failed; later failures during the same fault
restart the recovery but do not rename it (the control room already has a fault to see).

One exception: a fault that is ``stuck`` and nothing else clears the moment a valid
reading differs from the stuck value. The change itself disproves it, and a sensor that a
flat baseline made "stuck" must be able to show a fire that then starts at once: waiting
``recover_s`` would hide the first part of the very event the sensor exists for.

Every deadline is an instant ``since + span`` and every check compares ``since + span <=
t`` with the same expression, so ticking at a deadline always settles it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from edge.detect.types import Reason

CHATTER_WINDOW_S = 10.0


@dataclass(frozen=True, slots=True)
class SupervisionRules:
    no_data_s: float | None = None
    min: float | None = None
    max: float | None = None
    stuck_s: float | None = None
    chatter_per_s: float | None = None
    recover_s: float = 0.0


class Supervisor:
    __slots__ = (
        "_edges",
        "_healthy_since",
        "_last_valid",
        "_last_value",
        "_max_edges",
        "_only_stuck",
        "_stuck_since",
        "_stuck_value",
        "failures",
        "fault",
        "fault_value",
        "rules",
    )

    def __init__(self, rules: SupervisionRules, t0: float) -> None:
        self.rules = rules
        self.fault: Reason | None = None
        self.fault_value: float | None = None
        self.failures = 0
        """How many times a check has failed; a change means continuity was broken."""
        self._last_valid = t0
        self._healthy_since: float | None = t0
        self._stuck_value: float | None = None
        self._stuck_since = t0
        self._last_value: float | None = None
        self._edges: deque[float] = deque()
        self._only_stuck = False
        per_s = rules.chatter_per_s
        self._max_edges = None if per_s is None else per_s * CHATTER_WINDOW_S

    @property
    def last_valid(self) -> float:
        """Time of the last valid sample (the start, before any)."""
        return self._last_valid

    def sample(self, t: float, value: float | None) -> bool:
        """Check one sample; True when it is valid and may be classified."""
        r = self.rules
        if value is None:
            self._healthy_since = None
            self.check(t)
            return False
        if (
            not math.isfinite(value)
            or (r.min is not None and value < r.min)
            or (r.max is not None and value > r.max)
        ):
            self._raise(Reason.OUT_OF_RANGE, value)
            return False
        self._last_valid = t
        if value != self._stuck_value:
            self._stuck_value, self._stuck_since = value, t
            if self.fault is Reason.STUCK and self._only_stuck:
                self.fault = self.fault_value = None
                self._healthy_since = t
        if self._max_edges is not None:
            if self._last_value is not None and value != self._last_value:
                self._edges.append(t)
            self._last_value = value
        if self._healthy_since is None:
            self._healthy_since = t
        self.check(t)
        return True

    def lost(self) -> None:
        """The input is gone: a fault (``no_data``) until valid samples flow again."""
        self._raise(Reason.NO_DATA, None)

    def accept(self, t: float, value: float) -> None:
        """Record a sample already known valid and in range, with no check due before ``t``.

        The fast path of :meth:`SensorMachine.sample_many`: what :meth:`sample` does for
        such a sample when no fault is raised and no edge is counted.
        """
        self._last_valid = t
        if value != self._stuck_value:
            self._stuck_value = value
            self._stuck_since = t
        if self._healthy_since is None:
            self._healthy_since = t

    def check(self, t: float) -> None:
        """Re-evaluate the time-based checks at ``t``; raise or clear the fault."""
        r = self.rules
        if r.no_data_s is not None and self._last_valid + r.no_data_s <= t:
            self._raise(Reason.NO_DATA, None)
            return
        if (
            r.stuck_s is not None
            and self._stuck_value is not None
            and self._stuck_since + r.stuck_s <= t
        ):
            self._raise(Reason.STUCK, self._stuck_value)
            return
        if self._max_edges is not None:
            edges = self._edges
            while edges and edges[0] + CHATTER_WINDOW_S <= t:
                edges.popleft()
            if len(edges) > self._max_edges:
                self._raise(Reason.CHATTER, None)
                return
            if self.fault is Reason.CHATTER and self._healthy_since is None:
                self._healthy_since = t  # the contact has calmed down
        healthy = self._healthy_since
        if self.fault is not None and healthy is not None and healthy + r.recover_s <= t:
            self.fault = None
            self.fault_value = None

    def deadline(self, after: float) -> float | None:
        """The next instant later than ``after`` at which a check can change its answer."""
        r = self.rules
        times = []
        if r.no_data_s is not None:
            times.append(self._last_valid + r.no_data_s)
        if r.stuck_s is not None and self._stuck_value is not None:
            times.append(self._stuck_since + r.stuck_s)
        if self._edges:
            times.append(self._edges[0] + CHATTER_WINDOW_S)
        if self.fault is not None and self._healthy_since is not None:
            times.append(self._healthy_since + r.recover_s)
        future = [x for x in times if x > after]
        return min(future) if future else None

    def _raise(self, reason: Reason, value: float | None) -> None:
        self.failures += 1
        if self.fault is None:
            self.fault = reason
            self.fault_value = value
            self._only_stuck = reason is Reason.STUCK
        elif reason is not Reason.STUCK:
            self._only_stuck = False
        self._healthy_since = None
