"""HC-SR04 arithmetic: echo times to a water level, robust to missed and stray pings."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median


def speed_of_sound(air_temp_c: float) -> float:
    """m/s in dry air; at the 28 °C of a Banyuwangi afternoon it is 348 m/s, not 343."""
    return 331.3 + 0.606 * air_temp_c


def echo_to_distance(echo_s: float, air_temp_c: float) -> float:
    return echo_s * speed_of_sound(air_temp_c) / 2.0


def distance_to_echo(distance_m: float, air_temp_c: float) -> float:
    return 2.0 * distance_m / speed_of_sound(air_temp_c)


def level_from_pings(
    echoes_s: Sequence[float | None],
    *,
    mount_height_m: float,
    air_temp_c: float,
    max_distance_m: float,
) -> float | None:
    """Water level (m above the bottom) from one burst of pings, or None.

    A missing echo (None) or one beyond ``max_distance_m`` is no measurement. The level is
    the median of the valid pings, so one stray echo (debris, a drop of condensation on
    the transducer) cannot move it; with fewer than half the pings valid there is no
    sample at all, and supervision decides when that becomes a fault.
    """
    distances = [
        d
        for e in echoes_s
        if e is not None and e > 0
        if (d := echo_to_distance(e, air_temp_c)) <= max_distance_m
    ]
    if not distances or len(distances) * 2 < len(echoes_s):
        return None
    return mount_height_m - median(distances)
