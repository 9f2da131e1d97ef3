"""Water level: HC-SR04 pings, thresholds with hysteresis and dwell, named stages, rate of rise.

Scenarios are tables: samples in, the exact event sequence ``(t, state, reason, stage)``
out. Values and times are chosen exact in binary so every expected time is exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tables import Row, Samples, gauge, held, run

from edge.config import ConfigError
from edge.detect.rate import RateOfRise
from edge.detect.ultrasonic import (
    distance_to_echo,
    echo_to_distance,
    level_from_pings,
    speed_of_sound,
)


def ramp(start: float, end: float, v0: float, per_s: float) -> Samples:
    """One sample a second from ``start`` to ``end``, rising ``per_s`` from ``v0``."""
    return [(float(t), v0 + (t - start) * per_s) for t in range(int(start), int(end))]


STARTUP: list[Row] = [(0.0, "starting", "startup", None), (0.0, "normal", "startup", None)]

SIAGA = [
    {"name": "Siaga IV", "level": 0.0, "state": "normal"},
    {"name": "Siaga III", "level": 0.75, "state": "warning"},
    {"name": "Siaga II", "level": 1.0, "state": "warning"},
    {"name": "Siaga I", "level": 1.25, "state": "alarm"},
]


SCENARIOS: dict[str, tuple[dict[str, Any], Samples, list[Row]]] = {
    "warning_then_alarm_each_after_delay_on_cleared_after_delay_off": (
        {},
        held([(0, 30, 0.5), (30, 100, 1.0), (100, 200, 1.3), (200, 400, 0.5)]),
        [
            *STARTUP,
            (35.0, "warning", "level", None),
            (105.0, "alarm", "level", None),
            (260.0, "normal", "cleared", None),
        ],
    ),
    "a_rise_shorter_than_delay_on_is_not_reported": (
        {},
        held([(0, 30, 0.5), (30, 34.5, 1.3), (34.5, 100, 0.5)]),
        STARTUP,
    ),
    "alarm_steps_down_to_warning_then_normal_each_after_delay_off": (
        {},
        held([(0, 10, 1.3), (10, 100, 1.0), (100, 200, 0.5)]),
        [
            (0.0, "starting", "startup", None),
            (5.0, "alarm", "level", None),
            (70.0, "warning", "level", None),
            (160.0, "normal", "cleared", None),
        ],
    ),
    "hovering_at_the_warning_threshold_does_not_chatter_with_hysteresis": (
        {},
        [(t / 2, 0.79 if t % 2 else 0.81) for t in range(0, 200)],
        [*STARTUP[:1], (5.0, "warning", "level", None)],
    ),
    "hovering_at_the_threshold_without_hysteresis_never_confirms": (
        {"hysteresis": 0.0},
        [(t / 2, 0.81 if t % 2 else 0.79) for t in range(0, 200)],
        STARTUP,
    ),
    "dropping_within_the_hysteresis_band_keeps_the_warning": (
        {},
        held([(0, 10, 0.5), (10, 30, 0.9), (30, 200, 0.76)]),
        [*STARTUP, (15.0, "warning", "level", None)],
    ),
    "stages_are_reported_by_name_indonesian_siaga_iv_is_normal_siaga_i_worst": (
        {"warning": None, "alarm": None, "stages": SIAGA},
        held([(0, 10, 0.5), (10, 20, 0.875), (20, 30, 1.125), (30, 40, 1.5), (40, 200, 0.5)]),
        [
            (0.0, "starting", "startup", None),
            (0.0, "normal", "startup", "Siaga IV"),
            (15.0, "warning", "level", "Siaga III"),
            (25.0, "warning", "level", "Siaga II"),
            (35.0, "alarm", "level", "Siaga I"),
            (100.0, "normal", "cleared", "Siaga IV"),
        ],
    ),
    "stage_order_comes_from_the_levels_never_from_the_names": (
        {
            "warning": None,
            "alarm": None,
            "stages": [
                {"name": "Siaga I", "level": 0.5, "state": "warning"},
                {"name": "Awas", "level": 1.0, "state": "alarm"},
            ],
        },
        held([(0, 10, 0.25), (10, 20, 0.75), (20, 30, 1.5)]),
        [
            *STARTUP,
            (15.0, "warning", "level", "Siaga I"),
            (25.0, "alarm", "level", "Awas"),
        ],
    ),
    "rate_of_rise_is_an_alarm_at_any_level_after_half_a_window_and_delay_on": (
        {"rate_alarm_per_min": 0.125, "rate_window_s": 120.0},
        ramp(0, 100, 0.25, 1 / 256),
        [*STARTUP, (65.0, "alarm", "rate", None)],
    ),
    "rate_alarm_keeps_the_stage_reached": (
        {"warning": None, "alarm": None, "stages": SIAGA, "rate_alarm_per_min": 0.125},
        ramp(0, 200, 0.25, 1 / 256),
        [
            (0.0, "starting", "startup", None),
            (0.0, "normal", "startup", "Siaga IV"),
            (65.0, "alarm", "rate", "Siaga IV"),
            (133.0, "alarm", "rate", "Siaga III"),
            (197.0, "alarm", "rate", "Siaga II"),
        ],
    ),
    "rate_alarm_armed_only_above_its_base_level": (
        {"rate_alarm_per_min": 0.125, "rate_arm_above": 1.0},
        ramp(0, 200, 0.25, 1 / 256),
        [*STARTUP, (146.0, "warning", "level", None), (197.0, "alarm", "rate", None)],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_water_level_scenario(name: str) -> None:
    fields, samples, expected = SCENARIOS[name]
    assert run(gauge(**fields), samples) == expected


def test_rate_alarm_releases_to_the_level_once_the_least_squares_slope_falls() -> None:
    """Rise for 160 s then hold: the alarm (rate) steps down to the level's warning
    delay_off after the fitted slope drops below half the alarm rate (numpy's polyfit
    over the same window is the reference)."""
    per_s = 1 / 256
    samples = ramp(0, 160, 0.25, per_s) + [(float(t), 0.25 + 159 * per_s) for t in range(160, 400)]
    ts = np.array([t for t, _ in samples])
    vs = np.array([v for _, v in samples])
    release = next(
        t
        for t in ts[ts > 160]
        if np.polyfit(ts[(ts >= t - 120) & (ts <= t)], vs[(ts >= t - 120) & (ts <= t)], 1)[0]
        < 0.125 / 60 / 2
    )
    events = run(gauge(rate_alarm_per_min=0.125), samples)
    assert events == [
        *STARTUP,
        (65.0, "alarm", "rate", None),
        (float(release) + 60.0, "warning", "level", None),
    ]


def test_rate_of_rise_slope_is_the_least_squares_fit_over_the_window() -> None:
    rng = np.random.default_rng(7)
    ts = np.cumsum(rng.uniform(0.2, 1.5, 600))
    vs = 0.5 + 0.002 * ts + rng.normal(0, 0.01, ts.size)
    rate = RateOfRise(alarm_per_min=1.0, window_s=60.0, arm_above=None)
    for i, (t, v) in enumerate(zip(ts, vs, strict=True)):
        rate.update(float(t), float(v))
        inside = (ts[: i + 1] >= t - 60.0) & (ts[: i + 1] <= t)
        if t - ts[: i + 1][inside][0] >= 30.0:
            expected = np.polyfit(ts[: i + 1][inside], vs[: i + 1][inside], 1)[0]
            assert rate.slope() == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_rate_of_rise_ignores_a_two_point_jump_that_the_fit_averages_out() -> None:
    """One wild sample moves a two-point slope a lot and a 120 s fit very little."""
    rate = RateOfRise(alarm_per_min=0.1, window_s=120.0, arm_above=None)
    fired = [rate.update(float(t), 0.5 + (0.2 if t == 119 else 0.0)) for t in range(120)]
    assert not any(fired)


def test_stages_against_the_direction_are_refused() -> None:
    with pytest.raises(ConfigError, match="strictly increasing"):
        gauge(warning=None, alarm=None, stages=list(reversed(SIAGA)))


def test_hysteresis_wider_than_a_stage_gap_is_refused() -> None:
    with pytest.raises(ConfigError, match="smallest gap"):
        gauge(warning=None, alarm=None, stages=SIAGA, hysteresis=0.3)


# ---------------------------------------------------------------- HC-SR04 pings

ECHO_1M = distance_to_echo(1.0, 28.0)


def level(echoes: list[float | None], **kw: float) -> float | None:
    args = {"mount_height_m": 2.5, "air_temp_c": 28.0, "max_distance_m": 4.0, **kw}
    return level_from_pings(echoes, **args)


def test_speed_of_sound_at_28_c_is_348_m_per_s() -> None:
    assert speed_of_sound(28.0) == pytest.approx(348.27, abs=0.01)
    assert speed_of_sound(20.0) == pytest.approx(343.4, abs=0.1)


def test_echo_time_is_converted_with_the_configured_air_temperature() -> None:
    echo = distance_to_echo(1.5, 28.0)
    assert echo_to_distance(echo, 28.0) == pytest.approx(1.5)
    # Assuming 20 °C for a 28 °C echo reads 1.4 % short: 2 cm at 1.5 m.
    assert echo_to_distance(echo, 20.0) == pytest.approx(1.5 * 343.42 / 348.27, rel=1e-3)


def test_level_is_mount_height_minus_the_median_distance() -> None:
    assert level([ECHO_1M] * 5) == pytest.approx(1.5)


def test_one_stray_ping_in_five_does_not_move_the_level() -> None:
    spike = distance_to_echo(0.2, 28.0)
    assert level([ECHO_1M, ECHO_1M, spike, ECHO_1M, ECHO_1M]) == pytest.approx(1.5)


def test_two_missing_pings_in_five_still_give_a_level() -> None:
    assert level([ECHO_1M, None, ECHO_1M, None, ECHO_1M]) == pytest.approx(1.5)


def test_fewer_than_half_the_pings_valid_is_no_sample() -> None:
    assert level([ECHO_1M, None, None, None, ECHO_1M]) is None


def test_echoes_beyond_max_distance_or_not_positive_are_not_measurements() -> None:
    far = distance_to_echo(4.2, 28.0)
    assert level([far, far, far, ECHO_1M, ECHO_1M]) is None
    assert level([0.0, -1.0, float("nan"), float("inf"), ECHO_1M]) is None


def test_two_valid_pings_that_disagree_say_nothing() -> None:
    spike = distance_to_echo(0.5, 28.0)
    assert level([ECHO_1M, spike, None]) is None
    assert level([ECHO_1M, distance_to_echo(1.02, 28.0), None]) == pytest.approx(1.49)
