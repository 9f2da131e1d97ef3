"""Likely mistakes in a valid config: it would run, but probably not as the site means.

``check-config`` prints these as warnings (to stderr) and still exits 0: each one names
the field and says why it is suspicious and what to do. Checks:

- a threshold inside the noise recorded by ``siaga-edge calibrate`` (``calibration.json``
  next to the event store), which would trip on noise alone;
- a smoke detector with ``delay_on_s = 0``: no alarm verification, one spike alarms (a
  manual call point is meant to: it is a person's word);
- an analog sensor with ``hysteresis = 0``: a reading wandering at a threshold chatters;
- a pin on a bus: SPI0 (GPIO7-11) is the MCP3008's, and with SPI enabled (which an ADC
  needs) the kernel owns all of it, chip selects included; GPIO2/3 carry the board's
  I2C pull-ups;
- an HC-SR04 with ``fault.min`` exactly 0: around an empty drain the echo's noise gives
  levels slightly below 0, each an ``out_of_range`` fault;
- an HC-SR04 threshold within 2 cm of the sensor face (it cannot see that close), or any
  threshold beyond ``fault.min``/``fault.max`` (it can never be reached), or one on the
  wrong side of them (the normal readings would be faults);
- a ``SIAGA_`` environment variable whose section does not exist (it sets nothing).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from edge.calibrate import load_state, recorded_stats, state_path, suggest, value_stats
from edge.config import (
    ENV_NESTING,
    ENV_PATH,
    ENV_PREFIX,
    SPI0_BUS,
    SPI0_SELECT,
    DigitalInput,
    Direction,
    Hcsr04Input,
    Kind,
    Mcp3008Input,
    PulseInput,
    SensorConfig,
    SiagaConfig,
)

HCSR04_MIN_RANGE_M = 0.02
I2C1 = {"GPIO2", "GPIO3"}


@dataclass(frozen=True, slots=True)
class LintWarning:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def lint(config: SiagaConfig, state: dict[str, Any] | None = None) -> list[LintWarning]:
    """Every suspicious setting; ``state`` is calibration.json (read from disk if None)."""
    if state is None:
        state = load_state(state_path(config))
    out: list[LintWarning] = []
    uses_adc = any(isinstance(s.input, Mcp3008Input) for s in config.sensors)
    for i, sensor in enumerate(config.sensors):
        where = f"sensors[{i}]({sensor.id})"
        out += _noise(sensor, where, state)
        out += _verification(sensor, where)
        out += _pins(sensor, where, uses_adc)
        out += _ranges(sensor, where)
    return out


def _noise(sensor: SensorConfig, where: str, state: dict[str, Any]) -> list[LintWarning]:
    raw = recorded_stats(state, sensor.id)
    if raw is None or isinstance(sensor.input, DigitalInput | PulseInput):
        return []
    suggestion = suggest(sensor, value_stats(sensor, raw))
    return [
        LintWarning(
            where,
            f"{text} (baseline recorded {raw.ts or 'earlier'} by siaga-edge calibrate); "
            "raise it, or calibrate again if the sensor changed",
        )
        for ok, text in suggestion.checks
        if not ok
    ]


def _verification(sensor: SensorConfig, where: str) -> list[LintWarning]:
    out = []
    if (
        sensor.kind is Kind.SMOKE
        and sensor.delay_on_s == 0
        and sensor.enabled
        and not sensor.manual
    ):
        out.append(
            LintWarning(
                f"{where}.delay_on_s",
                "0 on a smoke detector: no alarm verification, a single spike (dust, "
                "steam, a relay bounce) is an alarm; 2-5 s is usual",
            )
        )
    analog = isinstance(sensor.input, Mcp3008Input | Hcsr04Input)
    if analog and sensor.hysteresis == 0 and (sensor.warning is not None or sensor.stages):
        out.append(
            LintWarning(
                f"{where}.hysteresis",
                "0 on an analog sensor: a reading wandering at a threshold goes in and out "
                "of warning; `siaga-edge calibrate` suggests one from the noise",
            )
        )
    return out


def _pins(sensor: SensorConfig, where: str, uses_adc: bool) -> list[LintWarning]:
    inp = sensor.input
    if isinstance(inp, Mcp3008Input):
        return []
    spi0 = {*SPI0_BUS, *SPI0_SELECT.values()}
    out = []
    for field, pin in sensor.pins:
        if pin in spi0:
            why = "the MCP3008's bus in this config" if uses_adc else "SPI0, the MCP3008's bus"
            out.append(
                LintWarning(
                    f"{where}.{field}",
                    f"{pin} is on {why}: with SPI enabled (dtparam=spi=on, which an ADC "
                    "needs) the kernel owns it; use a free pin such as GPIO5, 6, 12, 13, 26",
                )
            )
        elif pin in I2C1:
            out.append(
                LintWarning(
                    f"{where}.{field}",
                    f"{pin} has the board's fixed 1.8 kΩ I2C pull-up to 3.3 V: an input there "
                    "reads high when nothing drives it",
                )
            )
    return out


def _ranges(sensor: SensorConfig, where: str) -> list[LintWarning]:
    out = []
    inp = sensor.input
    f = sensor.fault
    if isinstance(inp, Hcsr04Input) and f.min == 0:
        out.append(
            LintWarning(
                f"{where}.fault.min",
                "exactly 0 with an HC-SR04: around an empty drain the echo's noise gives "
                "levels a little below 0, each an out_of_range fault; use e.g. -0.05",
            )
        )
    levels = [(n, getattr(sensor, n)) for n in ("warning", "alarm")]
    levels += [(f"stage {s.name!r}", s.level) for s in sensor.stages]
    if sensor.sta_lta is not None:
        return out  # `alarm` is a peak after the high-pass, not a level
    rising = sensor.direction is Direction.RISING
    for name, level in levels:
        if level is None:
            continue
        field = f"{where}.{name}" if " " not in name else f"{where}.stages"
        if isinstance(inp, Hcsr04Input) and level > inp.mount_height_m - HCSR04_MIN_RANGE_M:
            where_it_is = (
                "above the sensor face"
                if level >= inp.mount_height_m
                else f"within {HCSR04_MIN_RANGE_M * 100:.0f} cm of the sensor face"
            )
            out.append(
                LintWarning(
                    field,
                    f"{name} {level:g} m is {where_it_is} (mount_height_m "
                    f"{inp.mount_height_m:g}): an HC-SR04 cannot measure that close, so it "
                    "is never reached",
                )
            )
        limit = f.max if rising else f.min
        if limit is not None and (level > limit if rising else level < limit):
            out.append(
                LintWarning(
                    field,
                    f"{name} {level:g} is beyond fault.{'max' if rising else 'min'} "
                    f"({limit:g}): the sensor is in fault before it gets there",
                )
            )
        floor = f.min if rising else f.max
        if floor is not None and (level <= floor if rising else level >= floor):
            out.append(
                LintWarning(
                    field,
                    f"{name} {level:g} is at or {'below' if rising else 'above'} "
                    f"fault.{'min' if rising else 'max'} ({floor:g}): the readings on the "
                    "safe side of it, the normal ones, are out_of_range faults",
                )
            )
    return out


def environment(environ: Mapping[str, str]) -> list[LintWarning]:
    """``SIAGA_`` variables that set nothing: a typo in a section name is otherwise silent."""
    sections = set(SiagaConfig.model_fields)
    out = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper == ENV_PATH:
            continue
        section = upper.removeprefix(ENV_PREFIX).split(ENV_NESTING)[0].lower()
        if section not in sections:
            out.append(
                LintWarning(
                    name,
                    f"sets nothing: {section!r} is not a config section "
                    f"({', '.join(sorted(sections))}); it is ignored",
                )
            )
    return out


def report(config: SiagaConfig, stream: TextIO | None = None) -> int:
    """Print every warning (to stderr by default); how many there were."""
    out = stream or sys.stderr
    warnings = lint(config) + environment(os.environ)
    for warning in warnings:
        print(f"warning: {warning}", file=out)
    return len(warnings)
