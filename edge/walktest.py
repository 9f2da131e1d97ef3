"""Walk test (commissioning): which sensors are in test, until when. Pure: no clock.

A technician puts sensors in test (``siaga-edge test SENSOR… --minutes N``) and walks the
site setting each one off. While a sensor is in test its events are test events
(``"test": true``, UJI/TEST in the message): they never sound the siren, are never
repeated, never need an ack and are never the retained real state. A test is bounded:
it ends by itself at ``until`` (or earlier, ``stop``), and the daemon then hands the
sensor back to real service (publishing its present state as a real event if it differs
from the last real one).

``now`` is whatever monotonic seconds the caller keeps; every answer is a list of
:class:`Change` (a sensor entering or leaving test) for the daemon to publish and audit,
plus :meth:`WalkTest.due`, the next instant :meth:`WalkTest.expire` must be called.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

ALL = "all"
DEFAULT_MINUTES = 30.0
MAX_MINUTES = 240.0
"""A walk test never outlasts a working shift: a forgotten one must not mute a site."""


class WalkTestError(ValueError):
    """A request the walk test refuses; the message says why (shown to the technician)."""


class ChangeKind(StrEnum):
    START = "start"
    EXTEND = "extend"
    END = "end"


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    sensor: str
    at: float
    until: float | None
    """When the test ends (None for an end)."""
    why: str
    """"started", "extended", "stopped" (by someone) or "expired" (its time was up)."""


@dataclass(frozen=True, slots=True)
class Window:
    sensor: str
    start: float
    until: float
    who: str


class WalkTest:
    """The sensors in test. ``sensors`` are the configured sensor ids, in config order."""

    def __init__(self, sensors: Iterable[str]) -> None:
        self.sensors = list(sensors)
        self.windows: dict[str, Window] = {}

    def names(self, requested: Sequence[str]) -> list[str]:
        """The sensor ids a request names (``all`` is every sensor), checked, in order."""
        if not requested:
            raise WalkTestError("name the sensors to test, or all")
        if ALL in requested:
            return list(self.sensors)
        unknown = [s for s in requested if s not in self.sensors]
        if unknown:
            raise WalkTestError(
                f"no sensor {', '.join(map(repr, unknown))} here (known: {', '.join(self.sensors)})"
            )
        return list(dict.fromkeys(requested))

    def start(self, requested: Sequence[str], minutes: float, now: float, who: str) -> list[Change]:
        """Put sensors in test from ``now`` for ``minutes``; one already in test is
        extended to the new end. Raises WalkTestError for unknown sensors or a duration
        outside (0, MAX_MINUTES]."""
        if not 0 < minutes <= MAX_MINUTES:
            raise WalkTestError(f"a walk test lasts more than 0 and at most {MAX_MINUTES:g} min")
        until = now + minutes * 60.0
        out = []
        for sensor in self.names(requested):
            extended = sensor in self.windows
            self.windows[sensor] = Window(sensor, now, until, who)
            kind = ChangeKind.EXTEND if extended else ChangeKind.START
            out.append(Change(kind, sensor, now, until, "extended" if extended else "started"))
        return out

    def stop(self, requested: Sequence[str] | None, now: float) -> list[Change]:
        """End the test of the named sensors (None or ``all``: every one) now."""
        names = list(self.windows) if not requested or ALL in requested else requested
        out = []
        for sensor in names:
            if self.windows.pop(sensor, None) is not None:
                out.append(Change(ChangeKind.END, sensor, now, None, "stopped"))
        return out

    def in_test(self, sensor: str, now: float) -> bool:
        """Whether an event of ``sensor`` at ``now`` is a test event. At ``until`` the
        test is over, whether or not :meth:`expire` has been called yet."""
        window = self.windows.get(sensor)
        return window is not None and window.start <= now < window.until

    def due(self) -> float | None:
        """The next instant at which :meth:`expire` has something to end."""
        return min((w.until for w in self.windows.values()), default=None)

    def expire(self, now: float) -> list[Change]:
        """End every test whose time is up at ``now``, each at its own ``until``."""
        ended = sorted((w for w in self.windows.values() if w.until <= now), key=lambda w: w.until)
        for window in ended:
            del self.windows[window.sensor]
        return [Change(ChangeKind.END, w.sensor, w.until, None, "expired") for w in ended]

    def status(self, now: float) -> list[dict[str, object]]:
        """Each sensor in test with the seconds it has left (for ``siaga-edge test``)."""
        return [
            {"sensor": w.sensor, "remaining_s": round(max(0.0, w.until - now), 1), "by": w.who}
            for w in sorted(self.windows.values(), key=lambda w: self.sensors.index(w.sensor))
        ]
