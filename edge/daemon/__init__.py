"""The daemon as a house of small rooms; the core (``core.py``) only orchestrates.

| module | its one job |
|---|---|
| ``core.py`` | :class:`Core`: the core thread's turn (``wait``/``step``), the alarm path |
| ``loop.py`` | :class:`Daemon`: the core's life: start, run, shutdown, control surface |
| ``inbox.py`` | the messages the core thread is told, and the queue |
| ``inbound.py`` | what a control-room message asks for (pure parse) |
| ``sensor_set.py`` | pins, machines, last samples, calibrate taps |
| ``recorder.py`` | commit first; the full-disk hold; what the store lost |
| ``courier.py`` | store to wire: window, pace, PUBACK marks, repeats, resends, retained states |
| ``drills.py`` | a drill's start, feed, report and end |
| ``health.py`` | heartbeat, telemetry, watchdog, the alarm latency budget |
| ``reload.py`` | what a SIGHUP changes (pure plan) |
"""

from edge.daemon.courier import MAX_QUEUED_RESENDS
from edge.daemon.loop import Daemon

__all__ = ["MAX_QUEUED_RESENDS", "Daemon"]
