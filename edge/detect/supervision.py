"""Sensor supervision: is the input itself trustworthy?

A sensor that cannot be trusted must never look ``normal``: silence from an unplugged
HC-SR04 is not "no flood". Each check names its fault reason:

- ``no_data``: no valid sample for ``no_data_s`` (counted from start, so a sensor that
  never answers is caught too);
- ``out_of_range``: a sample outside ``[min, max]`` (it is not passed on);
- ``stuck``: the exact same value for ``stuck_s`` (a frozen ADC or a dead amplifier);
- ``chatter``: more edges per second than ``chatter_per_s`` over a 10 s window on a
  contact input (a loose wire, not a detector).

A fault is raised the moment its check fails. It clears only after valid data has flowed
continuously for ``recover_s``: one good reading from a flaky sensor proves nothing.
"""

from __future__ import annotations

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
    def __init__(self, rules: SupervisionRules, t0: float) -> None:
        self.rules = rules
        self.fault: Reason | None = None
        self.fault_value: float | None = None
        self._last_valid = t0
        self._healthy_since: float | None = t0
        self._stuck_value: float | None = None
        self._stuck_since = t0
        self._edges: deque[float] = deque()

    def sample(self, t: float, value: float | None) -> bool:
        """Check one sample; True when it is valid and may be classified."""
        r = self.rules
        if value is None:
            self._healthy_since = None
            self.check(t)
            return False
        out_low = r.min is not None and value < r.min
        out_high = r.max is not None and value > r.max
        if out_low or out_high:
            self._raise(Reason.OUT_OF_RANGE, value)
            return False
        self._last_valid = t
        if value != self._stuck_value:
            self._stuck_value, self._stuck_since = value, t
            if self.fault is Reason.STUCK:
                self._healthy_since = t
        if r.chatter_per_s is not None:
            self._edges.append(t)
        if self._healthy_since is None:
            self._healthy_since = t
        self.check(t)
        return True

    def check(self, t: float) -> None:
        """Re-evaluate the time-based checks at ``t``; raise or clear the fault."""
        r = self.rules
        if r.no_data_s is not None and t - self._last_valid >= r.no_data_s:
            self._raise(Reason.NO_DATA, None)
            return
        if (
            r.stuck_s is not None
            and self._stuck_value is not None
            and t - self._stuck_since >= r.stuck_s
        ):
            self._raise(Reason.STUCK, self._stuck_value)
            return
        if r.chatter_per_s is not None:
            while self._edges and self._edges[0] <= t - CHATTER_WINDOW_S:
                self._edges.popleft()
            if len(self._edges) > r.chatter_per_s * CHATTER_WINDOW_S:
                self._raise(Reason.CHATTER, None)
                return
            if self.fault is Reason.CHATTER and self._healthy_since is None:
                self._healthy_since = t  # the contact has calmed down
        healthy = self._healthy_since
        if self.fault is not None and healthy is not None and t - healthy >= r.recover_s:
            self.fault = None
            self.fault_value = None

    def deadline(self) -> float | None:
        r = self.rules
        times = []
        if r.no_data_s is not None and self.fault is not Reason.NO_DATA:
            times.append(self._last_valid + r.no_data_s)
        if r.stuck_s is not None and self._stuck_value is not None and self.fault is None:
            times.append(self._stuck_since + r.stuck_s)
        if self._edges:
            times.append(self._edges[0] + CHATTER_WINDOW_S)
        if self.fault is not None and self._healthy_since is not None:
            times.append(self._healthy_since + r.recover_s)
        return min(times) if times else None

    def _raise(self, reason: Reason, value: float | None) -> None:
        if self.fault is None:
            self.fault = reason
            self.fault_value = value
        self._healthy_since = None
