"""Helpers for the detection core's table-driven tests: a sensor from config fields, a
machine run over ``(t, value)`` samples, and the rows the tables compare."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edge.config import SensorConfig, SiagaConfig, validate_config
from edge.detect.build import machine_for
from edge.detect.types import Reason, State, Transition
from edge.detect.zones import ZoneSet

Row = tuple[float, str, str, str | None]
"""One event as the tables write it: (t, state, reason, stage)."""
Samples = list[tuple[float, float | None]]


def sensor(**fields: Any) -> SensorConfig:
    """One sensor (id ``x`` unless given), validated as the daemon would."""
    return _one({"id": "x", **fields})


def gauge(**fields: Any) -> SensorConfig:
    """The example config's drain gauge (air-selokan), with ``fields`` changed (None
    removes one)."""
    base: dict[str, Any] = {
        "id": "air-selokan",
        "kind": "water_level",
        "name": "Selokan utara",
        "input": {"type": "hcsr04", "trigger": "GPIO23", "echo": "GPIO24", "mount_height_m": 2.5},
        "sample_hz": 2,
        "unit": "m",
        "warning": 0.8,
        "alarm": 1.2,
        "hysteresis": 0.05,
        "delay_on_s": 5.0,
        "delay_off_s": 60.0,
        "fault": {"no_data_s": 10.0, "min": 0.0, "max": 2.5},
    }
    merged = {**base, **fields}
    return _one({k: v for k, v in merged.items() if v is not None})


def _one(fields: dict[str, Any]) -> SensorConfig:
    data = {"site": {"id": "s", "device": "d"}, "sensors": [fields]}
    return validate_config(data, Path("test.toml")).sensors[0]


def run(cfg: SensorConfig, samples: Samples, until: float | None = None) -> list[Row]:
    """Events through the full path, one sample at a time (then time to ``until``); the
    short path (``sample_many``) must agree."""
    one = machine_for(cfg)
    one.fast_path = False  # the reference: every sample through the full path
    out = one.start(0.0)
    for t, v in samples:
        out += one.sample(t, v)
    batch = machine_for(cfg)
    assert batch.start(0.0) + batch.sample_many(samples) == out
    if until is not None:
        out += one.tick(until)
    return [(round(tr.t, 9), tr.state.value, tr.reason.value, tr.stage) for tr in out]


def held(segments: Iterable[tuple[float, float, float | None]], hz: float = 2.0) -> Samples:
    """``(from_s, to_s, value)`` segments sampled at ``hz`` on a grid from 0."""
    out: Samples = []
    for start, end, value in segments:
        out += [(n / hz, value) for n in range(round(start * hz), round(end * hz))]
    return out


# ---------------------------------------------------------------- zones


def accelerometer(sensor_id: str, channel: int, **fields: Any) -> dict[str, Any]:
    """An accelerometer as the example config has it (STA/LTA warning, 0.05 g alarm)."""
    return {
        "id": sensor_id,
        "kind": "vibration",
        "input": {"type": "mcp3008", "channel": channel},
        "sample_hz": 100,
        "unit": "g",
        "sta_lta": {"sta_s": 0.2, "lta_s": 2.0, "on": 4.0, "off": 1.5, "highpass_hz": 1.0},
        "alarm": 0.05,
        "delay_off_s": 10.0,
        **fields,
    }


def detector(sensor_id: str, pin: int, **fields: Any) -> dict[str, Any]:
    """A smoke detector's relay on a digital input."""
    return {
        "id": sensor_id,
        "kind": "smoke",
        "input": {"type": "digital", "pin": f"GPIO{pin}"},
        "delay_on_s": 3.0,
        "delay_off_s": 30.0,
        **fields,
    }


def call_point(sensor_id: str, pin: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": sensor_id,
        "kind": "smoke",
        "manual": True,
        "input": {"type": "digital", "pin": f"GPIO{pin}", "bounce_s": 0.01},
        **fields,
    }


def site(sensors: list[dict[str, Any]], zones: list[dict[str, Any]]) -> SiagaConfig:
    data = {"site": {"id": "s", "device": "d"}, "sensors": sensors, "zones": zones}
    return validate_config(data, Path("test.toml"))


ZoneRow = tuple[float, str, str, str, tuple[str, ...]]
"""A zone's or member's published transition: (t, sensor, state, reason, members)."""


class Members:
    """Drives a ZoneSet with member state changes, as their machines would send them."""

    def __init__(self, zones: ZoneSet, t0: float = 0.0, members: Iterable[str] = ()) -> None:
        self.zones = zones
        self.previous: dict[str, State] = {}
        self.out = zones.start(t0)
        for m in members:
            self.set(t0, m, State.NORMAL, Reason.STARTUP)

    def set(self, t: float, sensor: str, state: State, reason: Reason | None = None) -> None:
        default = {State.WARNING: Reason.STA_LTA, State.ALARM: Reason.LEVEL}
        why = reason or default.get(state, Reason.CLEARED)
        previous = self.previous.get(sensor, State.STARTING)
        self.previous[sensor] = state
        self.out += self.zones.feed(Transition(t, sensor, state, previous, why))

    def tick(self, t: float) -> None:
        self.out += self.zones.tick(t)

    def ack(self, ident: str, t: float) -> None:
        self.out += self.zones.acknowledge(ident, t)

    def rows(self, ident: str) -> list[ZoneRow]:
        return [
            (round(tr.t, 9), tr.sensor, tr.state.value, tr.reason.value, tr.members)
            for tr in self.out
            if tr.sensor == ident
        ]
