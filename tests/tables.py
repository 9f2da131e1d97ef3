"""Helpers for the detection core's table-driven tests: a sensor from config fields, a
machine run over ``(t, value)`` samples, and the rows the tables compare."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edge.config import SensorConfig, validate_config
from edge.detect.build import machine_for

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
