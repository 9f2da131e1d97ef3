"""HC-SR04 arithmetic: echo times to a water level, robust to missed and stray pings."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

PAIR_TOLERANCE_M = 0.05
"""Two valid pings further apart than this cannot say which one is the stray echo."""


def speed_of_sound(air_temp_c: float) -> float:
    """m/s in dry air; at the 28 °C of a Banyuwangi afternoon it is 348 m/s, not 343.

    Linear fit of 331.3·√(1 + T/273.15), within 0.1 % from -20 to 60 °C; humidity adds
    under 0.4 % even in the tropics, which the technician's reference point absorbs.
    """
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

    A missing echo (None), a non-positive or non-finite one, or one beyond
    ``max_distance_m`` is no measurement. The level is the median of the valid pings, so
    with three or more valid pings one stray echo (debris, a drop of condensation on the
    transducer) cannot move it. With exactly two valid pings there is no majority: they
    must agree within :data:`PAIR_TOLERANCE_M` or the burst says nothing. With fewer than
    half the pings valid there is no sample at all, and supervision decides when that
    becomes a fault.
    """
    distances = [
        d
        for e in echoes_s
        if e is not None and e > 0
        if (d := echo_to_distance(e, air_temp_c)) <= max_distance_m
    ]
    if not distances or len(distances) * 2 < len(echoes_s):
        return None
    if len(distances) == 2 and abs(distances[0] - distances[1]) > PAIR_TOLERANCE_M:
        return None
    return mount_height_m - median(distances)
