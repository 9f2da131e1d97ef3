"""The pure detection core: plain functions and small state machines over ``(t, value)``.

Nothing here reads a clock, sleeps, starts a thread or does I/O. Time arrives as the ``t``
argument (seconds, monotonic) and every answer is a list of transitions plus the next
deadline at which the caller must wake the machine with :meth:`SensorMachine.tick`.
"""

from edge.detect.machine import SensorMachine
from edge.detect.types import Level, Reason, State, Transition

__all__ = ["Level", "Reason", "SensorMachine", "State", "Transition"]
