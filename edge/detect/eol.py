"""An end-of-line (EOL) supervised loop, as fire panels read it: resistance to state.

The loop, read through an MCP3008 channel (docs/operations.md, "Wiring")::

    VREF (3.3 V) --[pullup_ohm]--+-- CHx (ADC)
                                 |
                 loop cable  ----+----+---------- ... ----+
                                      |                   |
                          detector NO contact      [eol_ohm] (at the far end)
                                      |                   |
                                 [alarm_ohm]              |
                                      |                   |
                 GND ------------------+-------------------+

At rest the loop is the end-of-line resistor alone; a detector in alarm closes its
contact and puts its alarm resistor in parallel; a cut cable is an open loop, a crushed
or bridged one a short. The ADC reads the divider ``R / (R + pullup_ohm)`` of VREF, so
the supply's own value cancels out (the pull-up must go to the MCP3008's VREF).

Bands (``tolerance`` is ±10 % by default, the usual panel tolerance), in ohms, edges
inclusive, from low to high:

===========  ===========================================  ============================
state        resistance                                   what detection makes of it
===========  ===========================================  ============================
short        below ``alarm_loop · (1 - tol)``              fault ``short_circuit``
alarm        ``alarm_loop · (1 ± tol)``                    alarm (reason ``contact``)
between      between the alarm and the normal band         fault ``out_of_range``
normal       ``eol_ohm · (1 ± tol)``                       normal
open         above ``eol_ohm · (1 + tol)``                 fault ``open_circuit``
===========  ===========================================  ============================

where ``alarm_loop = eol_ohm ‖ alarm_ohm``. Nothing outside the two bands is ever
normal; fault readings are verified over ``fault.verify_s`` like any sample-level fault.
Pure: no ADC, no clock.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from enum import StrEnum

from edge.detect.supervision import SampleCheck
from edge.detect.types import Reason

ADC_STEPS = 1024
MIN_BAND_CODES = 4
"""Each band and each edge must lie this many ADC codes apart: noise of a code or two
must never carry a reading across one."""
_MAX_FRACTION = 1.0 - 1.0 / (2 * ADC_STEPS)  # full scale: an open loop, still finite


class LoopState(StrEnum):
    SHORT = "short"
    ALARM = "alarm"
    BETWEEN = "between"
    NORMAL = "normal"
    OPEN = "open"


FAULT_REASON = {
    LoopState.SHORT: Reason.SHORT_CIRCUIT,
    LoopState.BETWEEN: Reason.OUT_OF_RANGE,
    LoopState.OPEN: Reason.OPEN_CIRCUIT,
}


@dataclass(frozen=True, slots=True)
class Band:
    state: LoopState
    low_ohm: float
    high_ohm: float


@dataclass(frozen=True, slots=True)
class Loop:
    eol_ohm: float
    alarm_ohm: float
    pullup_ohm: float
    tolerance: float = 0.10

    @property
    def alarm_loop_ohm(self) -> float:
        """The loop in alarm: the end-of-line resistor with an alarm resistor across it."""
        return self.eol_ohm * self.alarm_ohm / (self.eol_ohm + self.alarm_ohm)

    def bands(self) -> list[Band]:
        """Every band, low to high resistance (the table in the module's docstring)."""
        tol = self.tolerance
        alarm_lo, alarm_hi = self.alarm_loop_ohm * (1 - tol), self.alarm_loop_ohm * (1 + tol)
        normal_lo, normal_hi = self.eol_ohm * (1 - tol), self.eol_ohm * (1 + tol)
        return [
            Band(LoopState.SHORT, 0.0, alarm_lo),
            Band(LoopState.ALARM, alarm_lo, alarm_hi),
            Band(LoopState.BETWEEN, alarm_hi, normal_lo),
            Band(LoopState.NORMAL, normal_lo, normal_hi),
            Band(LoopState.OPEN, normal_hi, math.inf),
        ]

    def classify(self, ohm: float) -> LoopState:
        """The loop's state at ``ohm``; a band's own edges belong to it."""
        _, alarm, _, normal, _ = self.bands()
        if normal.low_ohm <= ohm <= normal.high_ohm:
            return LoopState.NORMAL
        if alarm.low_ohm <= ohm <= alarm.high_ohm:
            return LoopState.ALARM
        if ohm < alarm.low_ohm:
            return LoopState.SHORT
        if ohm > normal.high_ohm:
            return LoopState.OPEN
        return LoopState.BETWEEN

    def ohm(self, fraction: float) -> float:
        """The loop's resistance from the ADC's fraction of VREF (full scale: open, large
        but finite, so it is a number the event can carry)."""
        f = min(max(fraction, 0.0), _MAX_FRACTION)
        return self.pullup_ohm * f / (1.0 - f)

    def fraction(self, ohm: float) -> float:
        """What the ADC reads for a loop of ``ohm`` (the inverse of :meth:`ohm`)."""
        if math.isinf(ohm):
            return 1.0
        return ohm / (ohm + self.pullup_ohm)

    def problems(self) -> list[tuple[str, str]]:
        """(field, reason) for resistor values that make a band unreachable or ambiguous."""
        _, alarm, _, normal, _ = self.bands()
        if alarm.high_ohm >= normal.low_ohm:
            return [
                (
                    "alarm_ohm",
                    f"the alarm band ({alarm.low_ohm:.0f}-{alarm.high_ohm:.0f} Ω) overlaps the "
                    f"normal band ({normal.low_ohm:.0f}-{normal.high_ohm:.0f} Ω): an alarm could "
                    "read as normal; use an alarm resistor well below eol_ohm (e.g. 680 Ω "
                    "with 4.7 kΩ)",
                )
            ]
        edges = [alarm.low_ohm, alarm.high_ohm, normal.low_ohm, normal.high_ohm]
        codes = [0.0] + [self.fraction(e) * ADC_STEPS for e in edges] + [float(ADC_STEPS)]
        if min(b - a for a, b in itertools.pairwise(codes)) < MIN_BAND_CODES:
            return [
                (
                    "pullup_ohm",
                    f"with pullup_ohm {self.pullup_ohm:g} the ADC cannot tell the bands apart "
                    f"(fewer than {MIN_BAND_CODES} codes between two edges): use a pull-up "
                    "close to eol_ohm",
                )
            ]
        return []


def loop_check(loop: Loop) -> SampleCheck:
    """The supervision check of a loop: open, short and between-bands are faults."""

    def check(ohm: float) -> Reason | None:
        return FAULT_REASON.get(loop.classify(ohm))

    return check
