"""Scenario files and their timeline: what each simulated sensor reads at each instant.

A scenario (cli.md, "Scenario files") is a list of changes: from ``at_s`` on a sensor
reads a value (reached over ``ramp_s`` when given), plays a recorded trace, or fails.
:class:`Timeline` turns that into a pure function of time, ``value_at(sensor, t_s)``,
shared by ``run --simulate`` (which turns values into pin activity) and by drills (which
feed them straight into detection). It knows nothing of pins or clocks on purpose.

Rules of the timeline, per sensor:

- Before its first change a sensor reads its idle value (:func:`idle_value`).
- A step holds its value until the sensor's next change. With ``ramp_s`` it moves in a
  straight line from the value the sensor had at ``at_s`` to the target.
- A trace plays its samples from ``at_s`` on (sample ``t_s`` at ``at_s + t_s``), each
  held until the next (no interpolation: the recording's own steps are kept), its first
  sample before that sample's time, and its last sample once it ends.
- A later change overrides: a value step or a trace ends a failure.
- A failure is an overlay on what the sensor measures, not a change of it: the water
  keeps rising while the sensor is blind, and a ramp after the failure starts from where
  the water got to. ``stuck`` reads the value it had when it stuck; ``no_echo`` and
  ``disconnected`` read ``None`` (what the hardware then shows is in :func:`sensed_value`);
  so do ``cut`` and ``short``, a supervised (``eol``) loop's cable cut or shorted.
"""

from __future__ import annotations

import math
import tomllib
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from edge.config import (
    SLUG,
    DigitalInput,
    EolInput,
    Hcsr04Input,
    Mcp3008Input,
    PulseInput,
    SensorConfig,
    SiagaConfig,
)
from edge.detect.build import calibration_for
from edge.trace import Samples, TraceError, load_trace
from edge.usererror import UserInputError

FailKind = Literal["no_echo", "stuck", "disconnected", "cut", "short"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Step(_Strict):
    """From ``at_s`` on, ``sensor`` reads ``value`` (or fails as ``fail`` says)."""

    at_s: float = Field(ge=0, allow_inf_nan=False, description="Seconds from the start")
    sensor: str = Field(pattern=SLUG)
    value: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="In the sensor's unit: 1/0 for a digital detector, pulses/s for pulse",
    )
    fail: FailKind | None = None
    ramp_s: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="Reach value linearly over this"
    )

    @model_validator(mode="after")
    def _one_thing(self) -> Step:
        if (self.value is None) == (self.fail is None):
            raise ValueError("a step sets either value or fail, exactly one of them")
        if self.ramp_s is not None and self.value is None:
            raise ValueError("ramp_s needs a value to ramp to")
        return self


class TracePlay(_Strict):
    """From ``at_s`` on, ``sensor`` plays the CSV trace ``file`` (relative to the scenario)."""

    at_s: float = Field(ge=0, allow_inf_nan=False)
    sensor: str = Field(pattern=SLUG)
    file: str = Field(min_length=1)


Change = Step | TracePlay


class Scenario(_Strict):
    duration_s: float = Field(gt=0, allow_inf_nan=False)
    steps: list[Step] = Field(default_factory=list, alias="step")
    traces: list[TracePlay] = Field(default_factory=list, alias="trace")
    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _coherent(self) -> Scenario:
        for where, change in self.changes():
            if change.at_s > self.duration_s:
                raise ValueError(
                    f"{where}: at_s {change.at_s:g} is after duration_s {self.duration_s:g}"
                )
        seen: dict[tuple[str, float], str] = {}
        for where, change in self.changes():
            key = (change.sensor, change.at_s)
            if key in seen:
                # Two changes at one instant have no order a reader could rely on.
                raise ValueError(
                    f"{seen[key]} and {where} both change {change.sensor} at {change.at_s:g} s"
                )
            seen[key] = where
        return self

    @property
    def source(self) -> Path | None:
        """The file this scenario came from; trace files are relative to it."""
        return self._source

    def changes(self) -> list[tuple[str, Change]]:
        """Every change with its name in the file (``step[2]``, ``trace[0]``)."""
        out: list[tuple[str, Change]] = [(f"step[{i}]", s) for i, s in enumerate(self.steps)]
        out += [(f"trace[{i}]", tr) for i, tr in enumerate(self.traces)]
        return out

    @property
    def sensors(self) -> list[str]:
        """Sensor ids the scenario drives, in order of first mention."""
        return list(dict.fromkeys(c.sensor for _, c in self.changes()))

    def load_traces(self) -> dict[str, Samples]:
        """Every trace file, keyed by ``file`` as written; a bad file is a ScenarioError."""
        base = self._source.parent if self._source is not None else Path.cwd()
        loaded: dict[str, Samples] = {}
        problems: list[tuple[str, str]] = []
        for i, play in enumerate(self.traces):
            if play.file in loaded:
                continue
            try:
                loaded[play.file] = load_trace(base / play.file)
            except TraceError as exc:
                problems.append((f"trace[{i}]({play.sensor}).file", str(exc)))
        if problems:
            raise ScenarioError(self._label, problems)
        return loaded

    def check_against(self, config: SiagaConfig) -> None:
        """Refuse what this site's sensors cannot do: unknown ids, impossible failures,
        values the hardware cannot show. Raises ScenarioError listing every problem."""
        sensors = {s.id: s for s in config.sensors}
        problems: list[tuple[str, str]] = []
        for where, change in self.changes():
            label = f"{where}({change.sensor})"
            sensor = sensors.get(change.sensor)
            if sensor is None:
                known = ", ".join(sensors)
                problems.append(
                    (label, f"no sensor {change.sensor!r} in the config (known: {known})")
                )
                continue
            if isinstance(change, Step):
                problems += [(label, reason) for reason in _step_problems(change, sensor)]
        if problems:
            raise ScenarioError(self._label, problems)

    @property
    def _label(self) -> Path:
        return self._source if self._source is not None else Path("<scenario>")


def _step_problems(step: Step, sensor: SensorConfig) -> list[str]:
    inp = sensor.input
    problems: list[str] = []
    if step.fail == "no_echo" and not isinstance(inp, Hcsr04Input):
        problems.append(f"fail 'no_echo' applies only to an hcsr04 input, not {inp.type}")
    if step.fail in ("cut", "short") and not isinstance(inp, EolInput):
        problems.append(f"fail {step.fail!r} applies only to an eol input, not {inp.type}")
    if step.value is None:
        return problems
    v = step.value
    if isinstance(inp, DigitalInput | EolInput):
        if v not in (0.0, 1.0):
            problems.append(f"value {v:g}: a {inp.type} input reads 1 (alarm) or 0 (normal)")
        if step.ramp_s is not None:
            problems.append(f"ramp_s does not apply to a {inp.type} input")
    elif isinstance(inp, PulseInput):
        if v < 0:
            problems.append(f"value {v:g}: pulses per second cannot be negative")
    elif isinstance(inp, Hcsr04Input):
        if not 0 <= v <= inp.mount_height_m:
            problems.append(
                f"value {v:g} m: the level must lie between the bottom (0) and the sensor "
                f"(mount_height_m {inp.mount_height_m:g})"
            )
    elif (
        sensor.calibration is not None
        and sensor.calibration.value[0] == sensor.calibration.value[1]
    ):
        problems.append("calibration maps every reading to one value: it cannot be simulated")
    return problems


class ScenarioError(UserInputError, ValueError):
    """A scenario that cannot run: names the file, where in it (``step[2](sensor)``) and why."""

    headline = "invalid scenario"

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [
            f"{path}: {where}: {reason}" if where else f"{path}: {reason}"
            for where, reason in problems
        ]
        super().__init__("\n".join(lines))


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file (not yet against a config: see ``check_against``)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(path, [("", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(path, [("", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise ScenarioError(path, [("", exc.strerror or str(exc))]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, [("", f"not valid TOML: {exc}")]) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [
            (_where(e["loc"], data), e["msg"].removeprefix("Value error, "))
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise ScenarioError(path, problems) from None
    scenario._source = path
    return scenario


def _where(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    """``('step', 2, 'fail')`` -> ``step[2](air-selokan).fail``, as config errors read."""
    out = ""
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("sensor"), str):
                out += f"({node['sensor']})"
            continue
        out += f".{part}" if out else str(part)
        node = node.get(part) if isinstance(node, dict) else None
    return out


# ---------------------------------------------------------------- what sensors read


IDLE_MARGIN = 0.02
"""How far inside ``fault.min..max`` an idle analog sensor sits, as a share of full scale."""


def idle_value(sensor: SensorConfig) -> float:
    """What a sensor reads before the scenario first changes it.

    Digital and pulse inputs: 0 (inactive, no pulses). Analog: 0 in the sensor's unit
    (an empty drain, clean air, a foundation at rest), but kept IDLE_MARGIN of full scale
    inside ``fault.min..max``: a reading exactly on a fault limit would flicker into
    ``out_of_range`` with the least noise (a real HC-SR04 reads a centimetre or so off), and
    an untouched sensor must not start in fault. So the example drain (``fault.min`` -0.10 m)
    idles at 0, empty.
    """
    if isinstance(sensor.input, DigitalInput | PulseInput | EolInput):
        return 0.0
    margin = IDLE_MARGIN * full_scale(sensor)
    value = 0.0
    if sensor.fault.min is not None:
        value = max(value, sensor.fault.min + margin)
    if sensor.fault.max is not None:
        value = min(value, sensor.fault.max - margin)
    return value


def full_scale(sensor: SensorConfig) -> float:
    """The span an analog sensor can show: its mount height, or its ADC's 0..1 calibrated."""
    inp = sensor.input
    if isinstance(inp, Hcsr04Input):
        return inp.mount_height_m
    calibrate = calibration_for(sensor)
    return abs(calibrate(1.0) - calibrate(0.0))


def adc_fraction(sensor: SensorConfig, value: float) -> float:
    """The ADC fraction (0..1, clamped: the ADC saturates) at which ``sensor`` reads ``value``.

    The inverse of the sensor's two-point calibration; without one the value is the fraction.
    """
    cal = sensor.calibration
    if cal is None:
        raw = value
    else:
        (r0, r1), (v0, v1) = cal.raw, cal.value
        if v0 == v1:
            raise ValueError(f"{sensor.id}: calibration maps every reading to {v0:g}")
        raw = r0 + (value - v0) * (r1 - r0) / (v1 - v0)
    return min(1.0, max(0.0, raw))


@dataclass(frozen=True, slots=True)
class SimValue:
    """A simulated sensor at one instant: what it measures and how it is failing."""

    value: float | None
    """In the sensor's unit (pulses/s for a pulse input); None while it cannot read."""
    fail: FailKind | None = None


def sensed_value(sensor: SensorConfig, sim: SimValue) -> float | None:
    """The sample an adapter would hand detection for ``sim``, for drills that skip the pins.

    Mirrors what :class:`edge.simulate.pins.SimPins` makes the hardware do: a disconnected
    ADC channel reads code 0, a disconnected contact rests at its pull resistor (inactive),
    an ultrasonic sensor without an echo gives no sample, an ADC saturates at its ends.
    For a pulse input the answer is the pulse rate (0 when failed); pulses are events, see
    :class:`PulseTrain`.
    """
    inp = sensor.input
    if isinstance(inp, EolInput):
        return _loop_ohm(inp, sim)
    if sim.fail in ("no_echo", "disconnected"):
        if isinstance(inp, Mcp3008Input):
            return calibration_for(sensor)(0.0)
        if isinstance(inp, DigitalInput):
            return 1.0 if inp.normally_closed else 0.0  # an NC loop cut open: the alarm
        if isinstance(inp, PulseInput):
            return 0.0
        return None
    if sim.value is None:
        return None
    if isinstance(inp, DigitalInput):
        return 1.0 if sim.value >= 0.5 else 0.0
    if isinstance(inp, Mcp3008Input):
        return calibration_for(sensor)(adc_fraction(sensor, sim.value))
    return sim.value


def loop_fraction(inp: EolInput, sim: SimValue) -> float:
    """What the MCP3008 reads on a supervised loop: its divider at rest or in alarm, full
    scale when cut (the pull-up alone), zero when shorted."""
    loop = inp.loop
    if sim.fail == "short":
        return 0.0
    if sim.fail is not None or sim.value is None:  # cut, disconnected
        return 1.0
    return loop.fraction(loop.alarm_loop_ohm if sim.value >= 0.5 else loop.eol_ohm)


def _loop_ohm(inp: EolInput, sim: SimValue) -> float:
    return inp.loop.ohm(loop_fraction(inp, sim))


class PulseTrain:
    """Turns a pulse rate into whole pulses as time passes, carrying the fraction over.

    ``advance(rate, dt)`` says how many pulses fall in the next ``dt`` seconds, so a rate
    of 2.5/s gives 5 pulses every 2 s whatever the tick size.
    """

    def __init__(self) -> None:
        self._owed = 0.0

    def advance(self, rate_per_s: float, dt: float) -> int:
        if rate_per_s <= 0 or dt <= 0:
            return 0
        self._owed += rate_per_s * dt
        whole = math.floor(self._owed + 1e-9)  # 5 x 0.2 is one pulse, not 0.99999
        self._owed = max(0.0, self._owed - whole)
        return whole

    def reset(self) -> None:
        self._owed = 0.0


# ---------------------------------------------------------------- the timeline


@dataclass(frozen=True, slots=True)
class _ValueChange:
    at_s: float
    target: float | None  # a step's value
    ramp_s: float | None
    samples: Sequence[tuple[float, float]] | None  # a trace's samples
    times: Sequence[float] | None
    start: float  # what the sensor read at at_s, before this change: where a ramp begins

    def at(self, t: float) -> float:
        if self.samples is not None and self.times is not None:
            i = bisect_right(self.times, t - self.at_s) - 1
            return self.samples[max(i, 0)][1]
        assert self.target is not None
        if self.ramp_s is not None and t < self.at_s + self.ramp_s:
            return self.start + (self.target - self.start) * (t - self.at_s) / self.ramp_s
        return self.target


@dataclass(frozen=True, slots=True)
class _Track:
    values: list[_ValueChange]
    value_times: list[float]
    fails: list[tuple[float, FailKind | None]]  # (at_s, fail or None when a change ends it)
    fail_times: list[float]
    idle: float

    def measured(self, t: float) -> float:
        i = bisect_right(self.value_times, t) - 1
        return self.values[i].at(t) if i >= 0 else self.idle

    def value_at(self, t: float) -> SimValue:
        i = bisect_right(self.fail_times, t) - 1
        fail = self.fails[i][1] if i >= 0 else None
        if fail is None:
            return SimValue(self.measured(t))
        if fail == "stuck":
            return SimValue(self.measured(self.fails[i][0]), fail)
        return SimValue(None, fail)


class Timeline:
    """The scenario as a pure function of time: ``value_at(sensor_id, t_s) -> SimValue``.

    ``traces`` maps each trace's ``file`` to its samples (``Scenario.load_traces``). With a
    ``config``, sensors start at their :func:`idle_value`; without one, at 0.0.
    """

    def __init__(
        self,
        scenario: Scenario,
        traces: Mapping[str, Sequence[tuple[float, float]]],
        *,
        config: SiagaConfig | None = None,
    ) -> None:
        self.scenario = scenario
        self.duration_s = scenario.duration_s
        idle = {s.id: idle_value(s) for s in config.sensors} if config is not None else {}
        self._idle = idle
        self._tracks: dict[str, _Track] = {}
        for sensor in scenario.sensors:
            changes = sorted(
                (c for _, c in scenario.changes() if c.sensor == sensor), key=lambda c: c.at_s
            )
            self._tracks[sensor] = self._track(changes, traces, idle.get(sensor, 0.0))

    @staticmethod
    def _track(
        changes: list[Change],
        traces: Mapping[str, Sequence[tuple[float, float]]],
        idle: float,
    ) -> _Track:
        values: list[_ValueChange] = []
        fails: list[tuple[float, FailKind | None]] = []
        for change in changes:
            fails.append((change.at_s, change.fail if isinstance(change, Step) else None))
            if isinstance(change, Step) and change.fail is not None:
                continue
            start = values[-1].at(change.at_s) if values else idle
            if isinstance(change, TracePlay):
                if change.file not in traces:
                    raise KeyError(f"trace file {change.file!r} was not loaded")
                samples = traces[change.file]
                if not samples:
                    raise ValueError(f"trace file {change.file!r} has no samples")
                times = [t for t, _ in samples]
                values.append(_ValueChange(change.at_s, None, None, samples, times, start))
            else:
                values.append(
                    _ValueChange(change.at_s, change.value, change.ramp_s, None, None, start)
                )
        return _Track(values, [v.at_s for v in values], fails, [at for at, _ in fails], idle)

    def value_at(self, sensor_id: str, t_s: float) -> SimValue:
        track = self._tracks.get(sensor_id)
        if track is None:
            return SimValue(self._idle.get(sensor_id, 0.0))
        return track.value_at(t_s)

    def boundaries(self) -> list[float]:
        """Instants where some sensor's value changes abruptly: changes, ramp ends, the end."""
        times = {self.duration_s}
        for _, change in self.scenario.changes():
            times.add(change.at_s)
            if isinstance(change, Step) and change.ramp_s is not None:
                times.add(min(change.at_s + change.ramp_s, self.duration_s))
        return sorted(t for t in times if t <= self.duration_s)
