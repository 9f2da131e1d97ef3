"""Two-point linear calibration: raw reading (e.g. ADC fraction) to the sensor's unit."""

from __future__ import annotations

from collections.abc import Callable


def linear(raw: tuple[float, float], value: tuple[float, float]) -> Callable[[float], float]:
    """The line through ``(raw[0], value[0])`` and ``(raw[1], value[1])``."""
    (r0, r1), (v0, v1) = raw, value
    if r0 == r1:
        raise ValueError("calibration needs two different raw points")
    slope = (v1 - v0) / (r1 - r0)

    def convert(x: float) -> float:
        return v0 + (x - r0) * slope

    return convert


def identity(x: float) -> float:
    return x
