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
import stat
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
    AdcChannel,
    DigitalInput,
    Direction,
    EolInput,
    Hcsr04Input,
    Kind,
    Mcp3008Input,
    PulseInput,
    SensorConfig,
    SiagaConfig,
)

I2C1 = {"GPIO2", "GPIO3"}
DELAY_ON_WARN_S = 120.0
HEARTBEAT_WARN_S = 300.0


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
    uses_adc = any(isinstance(s.input, AdcChannel) for s in config.sensors)
    for i, sensor in enumerate(config.sensors):
        where = f"sensors[{i}]({sensor.id})"
        out += _noise(sensor, where, state)
        out += _verification(sensor, where)
        out += _pins(sensor, where, uses_adc)
        out += _ranges(sensor, where)
    return out + _timing(config) + _files(config)


def _noise(sensor: SensorConfig, where: str, state: dict[str, Any]) -> list[LintWarning]:
    raw = recorded_stats(state, sensor.id)
    if raw is None or isinstance(sensor.input, DigitalInput | PulseInput | EolInput):
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
    if isinstance(inp, AdcChannel):
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
    """Levels that would run but on the wrong side of the fault range (the unreachable
    ones are config errors: :meth:`SensorConfig._check_reachable`)."""
    out = []
    inp = sensor.input
    f = sensor.fault
    if isinstance(inp, Hcsr04Input) and f.min == 0:
        out.append(
            LintWarning(
                f"{where}.fault.min",
                "exactly 0 with an HC-SR04: around an empty drain the echo's noise gives "
                "levels a little below 0 (a short run of them is out_of_range); use e.g. -0.10",
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


def _timing(config: SiagaConfig) -> list[LintWarning]:
    out = []
    for i, sensor in enumerate(config.sensors):
        if sensor.delay_on_s > DELAY_ON_WARN_S:
            out.append(
                LintWarning(
                    f"sensors[{i}]({sensor.id}).delay_on_s",
                    f"{sensor.delay_on_s:g} s: an alarm must hold that long before it is "
                    f"reported; no detector needs more than {DELAY_ON_WARN_S:g} s of "
                    "verification (smoke 2-5 s, water 5-60 s)",
                )
            )
    beat = config.heartbeat.interval_s
    if beat > HEARTBEAT_WARN_S:
        out.append(
            LintWarning(
                "heartbeat.interval_s",
                f"{beat:g} s: the control room takes a device for gone after 3 missed "
                f"heartbeats, so a dead device goes unnoticed for {3 * beat / 3600:.1f} h; "
                f"{HEARTBEAT_WARN_S:g} s or less is usual (default 30)",
            )
        )
    return out


def _files(config: SiagaConfig) -> list[LintWarning]:
    out = []
    key = config.mqtt.key_file
    if key is not None:
        try:
            mode = key.stat().st_mode
        except OSError:
            mode = 0  # a missing file is check-config's error, not a warning
        if mode & stat.S_IROTH:
            out.append(
                LintWarning(
                    "mqtt.key_file",
                    f"{key} is world-readable: anyone on this Pi can copy the device's "
                    f"private key; chmod 0640 {key} (owner root, group siaga)",
                )
            )
    store = config.storage.path
    if not store.is_absolute():
        out.append(
            LintWarning(
                "storage.path",
                f"{store} is relative: it depends on the directory the daemon starts in "
                "(/ under systemd); use an absolute path such as "
                "/var/lib/siaga-edge/outbox.sqlite3",
            )
        )
    return out


# Physical header pin -> BCM GPIO on the 40-pin header, for the bare-number warning.
HEADER_TO_BCM = {
    3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24,
    19: 10, 21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12,
    33: 13, 35: 19, 36: 16, 37: 26, 38: 20, 40: 21,
}  # fmt: skip
PIN_FIELDS = {"pin", "trigger", "echo"}


def bare_pins(data: Mapping[str, Any]) -> list[LintWarning]:
    """Pins written as a bare number in the file (``pin = 15``): taken as GPIO15, but a
    technician counting header pins meant physical pin 15, which is GPIO22."""
    found: list[tuple[str, object]] = []
    outputs = data.get("outputs")
    if isinstance(outputs, Mapping):
        found += [
            (f"outputs.{k}", outputs[k]) for k in ("siren_pin", "status_led_pin") if k in outputs
        ]
    sensors = data.get("sensors")
    for i, sensor in enumerate(sensors if isinstance(sensors, list) else []):
        inp = sensor.get("input") if isinstance(sensor, Mapping) else None
        if isinstance(inp, Mapping):
            ident = sensor.get("id", "?")
            found += [(f"sensors[{i}]({ident}).input.{k}", inp[k]) for k in PIN_FIELDS if k in inp]
    out = []
    for field, value in found:
        text = str(value).strip()
        if isinstance(value, bool) or not (isinstance(value, int) or text.isdigit()):
            continue
        n = int(text)
        header = HEADER_TO_BCM.get(n)
        meant = f"; if you counted header pins, pin {n} is GPIO{header}" if header else ""
        out.append(
            LintWarning(
                field,
                f"a bare number ({n}) is taken as GPIO{n} (the BCM number){meant}: write "
                f'"GPIO{n}" to say which',
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


def all_warnings(config: SiagaConfig, data: Mapping[str, Any] | None = None) -> list[LintWarning]:
    """Every warning about a config, its environment and (given) the file's own text."""
    return lint(config) + environment(os.environ) + bare_pins(data or {})


def report(
    config: SiagaConfig, stream: TextIO | None = None, data: Mapping[str, Any] | None = None
) -> int:
    """Print every warning (to stderr by default); how many there were."""
    out = stream or sys.stderr
    warnings = all_warnings(config, data)
    for warning in warnings:
        print(f"warning: {warning}", file=out)
    return len(warnings)


def summary(count: int) -> str:
    """The last line of check-config: ``valid, N warnings``."""
    return f"valid, {count} warning{'' if count == 1 else 's'}"
