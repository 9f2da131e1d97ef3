"""A drill: a scenario played into detection beside the real sensors, never instead of them.

The daemon keeps one :class:`Drill` while a drill runs. It owns its own
:class:`~edge.detect.machine.SensorMachine` per sensor the scenario names (built by
``machine_for`` from the same config, so a drill tests the site's real thresholds and
delays), and feeds them from the scenario's pure :class:`~edge.simulate.Timeline` at each
sensor's own sample rate. The real machines never see a drill sample; the daemon marks
every transition of these machines ``drill: true``.

Pure and clock-free: the caller passes monotonic time in (``start(t0)``, ``advance(now)``),
on the daemon's core thread.

What each input receives, as its adapter would deliver it (:func:`sensed_value`):

- sampled inputs (``mcp3008``, ``hcsr04``): one sample every ``1 / sample_hz`` seconds;
- a contact (``digital``): its level at the start, then one sample at each change,
  looked at every :data:`CONTACT_TICK_S`;
- a vibration switch (``pulse``): ``0`` at the start, then one ``1`` per pulse, the
  scenario's pulse rate spread evenly over each :data:`CONTACT_TICK_S`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from edge.config import DigitalInput, PulseInput, SensorConfig, SiagaConfig
from edge.detect.build import machine_for
from edge.detect.machine import SensorMachine
from edge.detect.types import Transition
from edge.simulate.scenario import PulseTrain, Scenario, Timeline, sensed_value

CONTACT_TICK_S = 0.05
"""How often a drill looks at a contact or pulse input (the hardware has no sample rate)."""


class DrillError(ValueError):
    """A drill this site cannot run (unknown or disabled sensor, impossible value)."""


class Drill:
    def __init__(
        self,
        scenario: Scenario,
        traces: Mapping[str, Sequence[tuple[float, float]]],
        config: SiagaConfig,
        *,
        name: str,
    ) -> None:
        scenario.check_against(config)
        sensors = [config.sensor(sensor_id) for sensor_id in scenario.sensors]
        disabled = [s.id for s in sensors if not s.enabled]
        if disabled:
            raise DrillError(
                f"sensor {', '.join(disabled)} is disabled in the config: a drill cannot run on it"
            )
        if not sensors:
            raise DrillError("the scenario names no sensor")
        self.name = name
        self.duration_s = scenario.duration_s
        self.timeline = Timeline(scenario, traces, config=config)
        self.sensors: dict[str, SensorConfig] = {s.id: s for s in sensors}
        self.machines: dict[str, SensorMachine] = {s.id: machine_for(s) for s in sensors}
        self.t0: float | None = None
        self._next: dict[str, float] = {}
        self._contact: dict[str, float | None] = {}
        self._rates: dict[str, float | None] = {}
        self._trains = {s.id: PulseTrain() for s in sensors if isinstance(s.input, PulseInput)}
        self.samples_fed = 0

    # ------------------------------------------------------------------ time

    def start(self, t0: float) -> list[Transition]:
        """Begin at monotonic ``t0``; the machines' ``starting`` transitions."""
        self.t0 = t0
        out: list[Transition] = []
        for sensor_id, machine in self.machines.items():
            out += machine.start(t0)
            self._next[sensor_id] = t0
        return out

    @property
    def end(self) -> float:
        assert self.t0 is not None, "start() first"
        return self.t0 + self.duration_s

    def next_due(self) -> float:
        """When :meth:`advance` next has a sample to feed (or the drill ends)."""
        return min([*self._next.values(), self.end])

    def finished(self, now: float) -> bool:
        return now >= self.end

    def elapsed(self, now: float) -> float:
        assert self.t0 is not None, "start() first"
        return min(max(0.0, now - self.t0), self.duration_s)

    def advance(self, now: float) -> list[Transition]:
        """Feed every sample due up to ``now`` (at most the end); transitions in time order."""
        limit = min(now, self.end)
        out: list[Transition] = []
        for sensor_id, cfg in self.sensors.items():
            batch = self._samples(cfg, limit)
            if batch:
                self.samples_fed += len(batch)
                out += self.machines[sensor_id].sample_many(batch)
        for machine in self.machines.values():
            out += machine.tick(limit)
        out.sort(key=lambda tr: tr.t)
        return out

    # ------------------------------------------------------------------ inputs

    def _samples(self, cfg: SensorConfig, limit: float) -> list[tuple[float, float | None]]:
        assert self.t0 is not None
        sensor_id = cfg.id
        inp = cfg.input
        contact = isinstance(inp, DigitalInput | PulseInput)
        period = CONTACT_TICK_S if contact else 1.0 / cfg.sample_hz
        t = self._next[sensor_id]
        out: list[tuple[float, float | None]] = []
        while t <= limit:
            sim = self.timeline.value_at(sensor_id, t - self.t0)
            if isinstance(inp, PulseInput):
                out += self._pulses(sensor_id, t, period, sim.value if sim.fail is None else None)
            elif isinstance(inp, DigitalInput):
                level = sensed_value(cfg, sim)
                if sensor_id not in self._contact or level != self._contact[sensor_id]:
                    self._contact[sensor_id] = level
                    out.append((t, level))
            else:
                out.append((t, sensed_value(cfg, sim)))
            t = self.t0 + round((t - self.t0 + period) / period) * period
        self._next[sensor_id] = t
        return out

    def _pulses(
        self, sensor_id: str, t: float, period: float, rate: float | None
    ) -> list[tuple[float, float | None]]:
        """At the start a 0 (no pulse yet); later the pulses of the tick that ends at ``t``,
        at the rate that held during it, spread evenly over it."""
        out: list[tuple[float, float | None]] = []
        if sensor_id not in self._contact:
            self._contact[sensor_id] = 0.0
            self._rates[sensor_id] = rate
            return [(t, 0.0)]
        held, self._rates[sensor_id] = self._rates.get(sensor_id), rate
        train = self._trains[sensor_id]
        if held is None:
            train.reset()
            return out
        count = train.advance(held, period)
        out += [(t - period + period * (i + 1) / count, 1.0) for i in range(count)]
        return out
