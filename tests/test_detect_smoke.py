"""Smoke: a detector's contact with alarm verification, an MQ-2 through an ADC with preheat.

Scenarios are tables: samples in, the exact event sequence ``(t, state, reason, stage)``
out, at exact times.
"""

from __future__ import annotations

from typing import Any

import pytest
from tables import Row, Samples, held, run, sensor

from edge.config import SensorConfig
from edge.detect.build import calibration_for


def detector(**fields: Any) -> SensorConfig:
    """The example's smoke-dapur: a detector relay, 3 s verification, 30 s to clear."""
    base: dict[str, Any] = {
        "kind": "smoke",
        "input": {"type": "digital", "pin": "GPIO17", "active_low": True, "bounce_s": 0.01},
        "delay_on_s": 3.0,
        "delay_off_s": 30.0,
    }
    return sensor(**{**base, **fields})


def mq2(**fields: Any) -> SensorConfig:
    """The example's smoke-gudang (ppm through an MCP3008), with a 60 s preheat."""
    base: dict[str, Any] = {
        "kind": "smoke",
        "input": {"type": "mcp3008", "channel": 1},
        "sample_hz": 4,
        "calibration": {"raw": [0.10, 0.80], "value": [0.0, 1000.0]},
        "unit": "ppm",
        "warning": 300.0,
        "alarm": 600.0,
        "hysteresis": 50.0,
        "delay_on_s": 3.0,
        "delay_off_s": 30.0,
        "warmup_s": 60.0,
        "fault": {"no_data_s": 5.0, "min": -50.0, "max": 1200.0},
    }
    return sensor(**{**base, **fields})


STARTUP: list[Row] = [(0.0, "starting", "startup", None), (0.0, "normal", "startup", None)]

CONTACT: dict[str, tuple[Samples, float, list[Row]]] = {
    "contact_held_for_delay_on_is_an_alarm_at_exactly_that_time": (
        [(0.0, 0.0), (10.0, 1.0), (20.0, 0.0)],
        60.0,
        [*STARTUP, (13.0, "alarm", "contact", None), (50.0, "normal", "cleared", None)],
    ),
    "contact_shorter_than_delay_on_is_no_alarm": (
        [(0.0, 0.0), (10.0, 1.0), (12.5, 0.0)],
        60.0,
        STARTUP,
    ),
    "verification_restarts_when_the_contact_opens": (
        [(0.0, 0.0), (10.0, 1.0), (12.0, 0.0), (12.5, 1.0)],
        60.0,
        [*STARTUP, (15.5, "alarm", "contact", None)],
    ),
    "contact_reopening_briefly_does_not_clear_the_alarm": (
        [(0.0, 0.0), (10.0, 1.0), (20.0, 0.0), (30.0, 1.0), (31.0, 0.0)],
        70.0,
        [*STARTUP, (13.0, "alarm", "contact", None), (61.0, "normal", "cleared", None)],
    ),
    "detector_already_in_alarm_at_start_alarms_after_delay_on": (
        [(0.0, 1.0)],
        10.0,
        [(0.0, "starting", "startup", None), (3.0, "alarm", "contact", None)],
    ),
    "a_chattering_contact_is_a_fault_and_recovers_after_calm_plus_delay_off": (
        [(0.0, 0.0)] + [(10.0 + k / 4, float(k % 2 == 0)) for k in range(24)],
        100.0,
        [*STARTUP, (15.0, "fault", "chatter", None), (50.75, "normal", "cleared", None)],
    ),
}


@pytest.mark.parametrize("name", list(CONTACT))
def test_smoke_detector_contact_scenario(name: str) -> None:
    samples, until, expected = CONTACT[name]
    assert run(detector(), samples, until) == expected


MQ2: dict[str, tuple[Samples, list[Row]]] = {
    "preheat_is_starting_never_normal_then_normal_at_warmup_s": (
        held([(0, 90, 100.0)], 4),
        [(0.0, "starting", "startup", None), (60.0, "normal", "startup", None)],
    ),
    "a_high_reading_during_preheat_counts_only_from_the_end_of_warmup": (
        held([(0, 90, 700.0)], 4),
        [(0.0, "starting", "startup", None), (63.0, "alarm", "level", None)],
    ),
    "warning_alarm_with_hysteresis_and_delays": (
        held(
            [
                (0, 100, 100.0),
                (100, 200, 400.0),
                (200, 300, 650.0),
                (300, 400, 575.0),
                (400, 500, 500.0),
                (500, 600, 100.0),
            ],
            4,
        ),
        [
            (0.0, "starting", "startup", None),
            (60.0, "normal", "startup", None),
            (103.0, "warning", "level", None),
            (203.0, "alarm", "level", None),
            (430.0, "warning", "level", None),
            (530.0, "normal", "cleared", None),
        ],
    ),
}


@pytest.mark.parametrize("name", list(MQ2))
def test_mq2_analog_scenario(name: str) -> None:
    samples, expected = MQ2[name]
    assert run(mq2(), samples) == expected


def test_mq2_calibration_is_the_line_through_the_two_points() -> None:
    to_ppm = calibration_for(mq2())
    assert to_ppm(0.10) == pytest.approx(0.0)
    assert to_ppm(0.80) == pytest.approx(1000.0)
    assert to_ppm(0.45) == pytest.approx(500.0)
    assert to_ppm(0.03) == pytest.approx(-100.0)


def test_contact_debounce_never_fires_on_a_vibration_switch_pulse_train() -> None:
    """A SW-420 shaken hard: 10 ms pulses at 10 Hz. The contact never stays closed for
    the verification delay, so a contact input can never alarm on it (and it chatters),
    which is why a pulse input has its own detector."""
    train = [(0.0, 0.0)]
    for k in range(300):
        train += [(10.0 + k / 10, 1.0), (10.0 + k / 10 + 0.01, 0.0)]
    events = run(detector(), train, 60.0)
    assert not [row for row in events if row[1] == "alarm"]
    assert ("fault", "chatter") in [(row[1], row[2]) for row in events]
