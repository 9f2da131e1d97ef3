"""Sensor supervision: is the input itself trustworthy?

A sensor that cannot be trusted must never look ``normal``: silence from an unplugged
HC-SR04 is not "no flood". Each check names its fault reason:

- ``no_data``: no reading for ``no_data_s`` (counted from start, so a sensor that never
  answers is caught too); a reading a sample-level check refuses is still a reading: a
  cut loop that keeps reading open is ``open_circuit``, not silence;
- ``out_of_range``: a sample outside ``[min, max]``, or not a finite number (it is not
  passed on);
- ``stuck``: the exact same value for ``stuck_s`` (a frozen ADC or a dead amplifier);
- ``chatter``: more changes of value per second than ``chatter_per_s`` over a 10 s window
  on a contact input (a loose wire, not a detector);
- the input could not be opened at all (a pin in use, SPI off, no GPIO library): the
  adapter says so with :meth:`Supervisor.lost`, reported as ``no_data`` at once, whatever
  ``no_data_s`` is, since no sample will ever come.

Sample-level checks (``out_of_range``, and an end-of-line loop's ``open_circuit`` /
``short_circuit`` from ``sample_check``) are *verified*: one bad sample never starts a
fault. Bad samples are held back from detection, and the fault is raised by the bad
sample that arrives ``verify_s`` or more after the first bad one, with no valid sample
in between (its reason is that sample's). A valid sample ends the suspicion; so isolated
outliers (an echo off debris, a noisy read at an empty drain) never fault, while a cut
cable does, within ``verify_s`` and a sample period. Suspect samples do not break the
continuity a delay needs; only a raised fault does. A sensor that goes silent while
suspect is caught by ``no_data``.

The time-based checks raise their fault the moment they fail. A fault clears only after
valid data has flowed continuously for ``recover_s``: one good reading from a flaky
sensor proves nothing. The reported reason is the first check that failed; later
failures during the same fault restart the recovery but do not rename it (the control
room already has a fault to see).

A fault raised by sample-level checks and nothing else clears after a short clean run,
``clean_s`` (twice ``verify_s``, never more than ``recover_s``; ``recover_s`` when
``verify_s`` is 0): such a fault was
verified by the samples themselves, and the same samples disprove it. Holding it for
the full ``delay_off_s`` would blind a gauge for a minute after every brief disturbance.

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
from collections.abc import Callable
from dataclasses import dataclass

from edge.detect.types import Reason

CHATTER_WINDOW_S = 10.0
CLEAN_RUN_FACTOR = 2.0
"""A sample-level fault clears after this many ``verify_s`` of valid samples."""
SAMPLE_REASONS = frozenset({Reason.OUT_OF_RANGE, Reason.OPEN_CIRCUIT, Reason.SHORT_CIRCUIT})

SampleCheck = Callable[[float], Reason | None]
"""A check of one value on its own (an end-of-line loop's bands): the fault it shows."""


@dataclass(frozen=True, slots=True)
class SupervisionRules:
    no_data_s: float | None = None
    min: float | None = None
    max: float | None = None
    stuck_s: float | None = None
    chatter_per_s: float | None = None
    recover_s: float = 0.0
    verify_s: float = 0.0
    sample_check: SampleCheck | None = None

    @property
    def clean_s(self) -> float:
        """The clean run that clears a fault of sample-level checks only (with no
        verification, ``verify_s = 0``, there is no short run: ``recover_s``)."""
        if self.verify_s <= 0:
            return self.recover_s
        return min(self.recover_s, CLEAN_RUN_FACTOR * self.verify_s)


class Supervisor:
    __slots__ = (
        "_edges",
        "_healthy_since",
        "_last_read",
        "_last_valid",
        "_last_value",
        "_max_edges",
        "_only_sample",
        "_only_stuck",
        "_stuck_since",
        "_stuck_value",
        "_suspect_since",
        "failures",
        "fault",
        "fault_value",
        "last_good",
        "rules",
    )

    def __init__(self, rules: SupervisionRules, t0: float) -> None:
        self.rules = rules
        self.fault: Reason | None = None
        self.fault_value: float | None = None
        self.failures = 0
        """How many times a check has failed; a change means continuity was broken."""
        self._last_valid = t0
        self._last_read = t0
        self.last_good: float | None = None
        """When the last valid sample came; None before any."""
        self._healthy_since: float | None = t0
        self._stuck_value: float | None = None
        self._stuck_since = t0
        self._last_value: float | None = None
        self._edges: deque[float] = deque()
        self._only_stuck = False
        self._only_sample = False
        self._suspect_since: float | None = None
        per_s = rules.chatter_per_s
        self._max_edges = None if per_s is None else per_s * CHATTER_WINDOW_S

    @property
    def last_valid(self) -> float:
        """Time of the last valid sample (the start, before any)."""
        return self._last_valid

    @property
    def suspect(self) -> bool:
        """Bad samples are arriving but not yet for ``verify_s``: detection waits."""
        return self._suspect_since is not None

    def problem(self, value: float) -> Reason | None:
        """The sample-level fault ``value`` shows on its own, if any."""
        r = self.rules
        if (
            not math.isfinite(value)
            or (r.min is not None and value < r.min)
            or (r.max is not None and value > r.max)
        ):
            return Reason.OUT_OF_RANGE
        return None if r.sample_check is None else r.sample_check(value)

    def sample(self, t: float, value: float | None) -> bool:
        """Check one sample; True when it is valid and may be classified."""
        if value is None:
            self._healthy_since = None
            self.check(t)
            return False
        reason = self.problem(value)
        if reason is not None:
            self._last_read = t
            if self.fault is not None:
                self._raise(reason, value)  # during a fault: the clean run starts again
                return False
            if self._suspect_since is None:
                self._suspect_since = t
            if self._suspect_since + self.rules.verify_s <= t:
                self._raise(reason, value)
            else:
                self.check(t)
            return False
        self._suspect_since = None
        self._last_valid = self._last_read = t
        self.last_good = t
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
        self._last_valid = self._last_read = self.last_good = t
        self._suspect_since = None
        if value != self._stuck_value:
            self._stuck_value = value
            self._stuck_since = t
        if self._healthy_since is None:
            self._healthy_since = t

    def check(self, t: float) -> None:
        """Re-evaluate the time-based checks at ``t``; raise or clear the fault."""
        r = self.rules
        if r.no_data_s is not None and self._last_read + r.no_data_s <= t:
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
        if self.fault is not None and healthy is not None and healthy + self._recover_s() <= t:
            self.fault = None
            self.fault_value = None

    def deadline(self, after: float) -> float | None:
        """The next instant later than ``after`` at which a check can change its answer."""
        r = self.rules
        times = []
        if r.no_data_s is not None:
            times.append(self._last_read + r.no_data_s)
        if r.stuck_s is not None and self._stuck_value is not None:
            times.append(self._stuck_since + r.stuck_s)
        if self._edges:
            times.append(self._edges[0] + CHATTER_WINDOW_S)
        if self.fault is not None and self._healthy_since is not None:
            times.append(self._healthy_since + self._recover_s())
        future = [x for x in times if x > after]
        return min(future) if future else None

    def _recover_s(self) -> float:
        return self.rules.clean_s if self._only_sample else self.rules.recover_s

    def _raise(self, reason: Reason, value: float | None) -> None:
        self.failures += 1
        self._suspect_since = None
        if self.fault is None:
            self.fault = reason
            self.fault_value = value
            self._only_stuck = reason is Reason.STUCK
            self._only_sample = reason in SAMPLE_REASONS
        else:
            if reason is not Reason.STUCK:
                self._only_stuck = False
            if reason not in SAMPLE_REASONS:
                self._only_sample = False
        self._healthy_since = None
