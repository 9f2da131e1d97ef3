"""The configured sensors: their pins (adapters), their detection, their last samples.

The daemon and ``readings`` (when no daemon runs) both use it. Every method returns the
transitions it caused, through the site's zones and latches (``edge.detect.zones``):
a member's own transition, tagged with its zone, then the zone's. A sensor in walk test
(``muted``) is kept out of its zone's vote: a technician's test never raises a zone.
Nothing here stores, publishes or sounds anything. A sensor whose
pins cannot be opened (held by another program, SPI off, no GPIO library) is a fault,
not a reason to stop: the others still watch, and it is tried again every
:data:`SENSOR_RETRY_S`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from edge import logs
from edge.clock import Clock
from edge.config import SensorConfig, SiagaConfig
from edge.control import TAP_LIMIT, ControlError, sensor_reading
from edge.daemon.reload import ReloadPlan
from edge.detect.build import machine_for, zones_for
from edge.detect.machine import SensorMachine
from edge.detect.types import Reason, State, Transition
from edge.detect.zones import ZoneSet
from edge.sensors import Sample, Sensor, open_hint, open_sensor

log = logs.get("sensors")

SENSOR_RETRY_S = 30.0
TAP_EXPIRY_S = 60.0  # a calibrate tap nobody has read for this long is dropped


class SensorSet:
    def __init__(
        self,
        factory: Any,
        clock: Clock,
        post: Callable[[Sample], None],
        *,
        muted: Callable[[str, float], bool] = lambda sensor, t: False,
    ) -> None:
        """``clock`` and ``post`` are for the adapters: they stamp samples and post them.
        ``muted(sensor, t)``: whether a transition of ``sensor`` at ``t`` is a walk test's."""
        self.factory = factory
        self.muted = muted
        self.zones = ZoneSet()
        self.clock = clock
        self.post = post
        self.configs: dict[str, SensorConfig] = {}
        self.machines: dict[str, SensorMachine] = {}
        self.adapters: dict[str, Sensor] = {}
        self.last: dict[str, Sample] = {}
        self.open_errors: dict[str, Exception] = {}
        self._retry_at: dict[str, float] = {}
        self._taps: dict[str, list[Sample]] = {}
        self._tap_read: dict[str, float] = {}

    # ------------------------------------------------------------------ membership

    def start(self, config: SiagaConfig, now: float) -> list[Transition]:
        """Every sensor of ``config`` and its zones, from ``now``."""
        self.zones = zones_for(config)
        out = self.zones.start(now)
        for cfg in config.sensors:
            out += self.add(cfg, now)
        return out

    def add(self, cfg: SensorConfig, now: float) -> list[Transition]:
        machine = machine_for(cfg)
        self.configs[cfg.id] = cfg
        self.machines[cfg.id] = machine
        out = self._through(machine.start(now))
        if cfg.enabled:
            out += self._open(cfg, now)
        return out

    def _through(self, transitions: list[Transition]) -> list[Transition]:
        out: list[Transition] = []
        for tr in transitions:
            out += [tr] if self.muted(tr.sensor, tr.t) else self.zones.feed(tr)
        return out

    def acknowledge(self, ident: str, now: float) -> list[Transition]:
        """An alarm of sensor or zone ``ident`` was acknowledged: a latch may release."""
        return self.zones.acknowledge(ident, now)

    def rejoin(self, sensor: str, now: float) -> Transition | None:
        """A walk test ended: the sensor's present state, for its zone to learn (the
        caller publishes it as real when it differs from the last real state)."""
        machine = self.machines.get(sensor)
        if machine is None:
            return None
        tr = Transition(
            now, sensor, machine.state, machine.state, Reason.TEST, machine.stage, machine.value
        )
        self.zones.observe(tr)
        return tr

    def rename(self, cfg: SensorConfig) -> None:
        """Only its words changed: same machine, same state, same alarm."""
        self.configs[cfg.id] = cfg

    def remove(self, sensor_id: str) -> None:
        self._retry_at.pop(sensor_id, None)
        self.open_errors.pop(sensor_id, None)
        adapter = self.adapters.pop(sensor_id, None)
        if adapter is not None:
            adapter.close()
        self.configs.pop(sensor_id, None)
        self.machines.pop(sensor_id, None)
        self.last.pop(sensor_id, None)
        self._taps.pop(sensor_id, None)

    def apply(self, plan: ReloadPlan, now: float) -> list[Transition]:
        """A reload: rebuild what changed, drop what went, rename, add what is new; the
        zones are built again and learn each kept sensor's present state."""
        for sensor_id in plan.changed + plan.removed:
            self.remove(sensor_id)
        for sensor_id in plan.renamed:
            self.rename(plan.config.sensor(sensor_id))
        self.zones = zones_for(plan.config)
        out = self.zones.start(now)
        for present in self.present(now, Reason.RELOAD):
            out += self.zones.observe(present)
        for sensor_id in plan.changed + plan.added:
            out += self.add(plan.config.sensor(sensor_id), now)
        return out

    def present(self, now: float, reason: Reason) -> list[Transition]:
        """Each sensor's state as it stands, as a transition to itself (for zones to learn)."""
        return [
            Transition(now, sensor_id, m.state, m.state, reason, m.stage, m.value)
            for sensor_id, m in self.machines.items()
        ]

    def close(self) -> None:
        """Release every pin (the machines stay, for a last look)."""
        for sensor_id in list(self.adapters):
            adapter = self.adapters.pop(sensor_id)
            try:
                adapter.close()
            except Exception as exc:
                log.warning("sensor_close_failed", sensor=sensor_id, error=str(exc))

    def _open(self, cfg: SensorConfig, now: float) -> list[Transition]:
        adapter: Sensor | None = None
        try:
            adapter = open_sensor(cfg, self.factory, self.clock, self.post)
            adapter.start()
        except Exception as exc:
            if adapter is not None:
                with contextlib.suppress(Exception):
                    adapter.close()
            first = cfg.id not in self._retry_at
            self._retry_at[cfg.id] = now + SENSOR_RETRY_S
            self.open_errors[cfg.id] = exc
            if not first:
                return []
            log.error(
                "sensor_unavailable",
                sensor=cfg.id,
                error=str(exc) or type(exc).__name__,
                hint=open_hint(exc),
                retry_s=SENSOR_RETRY_S,
            )
            return self._through(self.machines[cfg.id].lost(now))
        self.adapters[cfg.id] = adapter
        self.open_errors.pop(cfg.id, None)
        if self._retry_at.pop(cfg.id, None) is not None:
            log.info("sensor_opened", sensor=cfg.id)
        return []

    # ------------------------------------------------------------------ time

    def sample(self, sample: Sample) -> list[Transition]:
        machine = self.machines.get(sample.sensor)
        if machine is None:
            return []  # a late sample of a sensor just removed by a reload
        self.last[sample.sensor] = sample
        tap = self._taps.get(sample.sensor)
        if tap is not None and len(tap) < TAP_LIMIT:
            tap.append(sample)
        return self._through(machine.sample(sample.t, sample.value))

    def tick(self, now: float) -> list[Transition]:
        """Deadlines that passed (a debounce, a no-data timeout) and pins to try again."""
        out: list[Transition] = []
        for machine in self.machines.values():
            due = machine.deadline()
            if due is not None and due <= now:
                out += self._through(machine.tick(now))
        zone_due = self.zones.deadline()
        if zone_due is not None and zone_due <= now:
            out += self.zones.tick(now)
        for sensor_id, due in list(self._retry_at.items()):
            if due <= now and sensor_id in self.configs:
                out += self._open(self.configs[sensor_id], now)
        return out

    def wake_at(self) -> float | None:
        times = [d for m in self.machines.values() if (d := m.deadline()) is not None]
        times += self._retry_at.values()
        if (zone_due := self.zones.deadline()) is not None:
            times.append(zone_due)
        return min(times, default=None)

    # ------------------------------------------------------------------ views

    def states(self) -> list[State]:
        return [m.state for m in self.machines.values()]

    def readings(self, configs: Iterable[SensorConfig], now: float) -> list[dict[str, Any]]:
        return [
            sensor_reading(cfg, self.machines.get(cfg.id), self.last.get(cfg.id), now)
            for cfg in configs
        ]

    def tap(self, sensor: str, action: str, now: float) -> list[list[float | None]]:
        """Raw samples of one sensor for ``calibrate``: start, read (and clear), stop."""
        for stale in [s for s, t in self._tap_read.items() if now - t > TAP_EXPIRY_S]:
            self._taps.pop(stale, None)
            self._tap_read.pop(stale, None)
        if sensor not in self.adapters:
            known = ", ".join(self.adapters) or "none"
            raise ControlError(f"no enabled sensor {sensor!r} (known: {known})")
        if action == "start":
            self._taps[sensor] = []
            self._tap_read[sensor] = now
            return []
        if action == "stop":
            self._taps.pop(sensor, None)
            self._tap_read.pop(sensor, None)
            return []
        samples = self._taps.get(sensor)
        if samples is None:
            raise ControlError(f"no tap on {sensor!r}: tap_start first")
        self._taps[sensor] = []
        self._tap_read[sensor] = now
        return [[s.t, s.value, s.raw] for s in samples]

    @property
    def tapping(self) -> bool:
        return bool(self._taps)
