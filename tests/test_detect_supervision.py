"""Supervision: a sensor that cannot be trusted is ``fault`` in time and never ``normal``.

Scenarios are tables: samples in (``None`` is a failed read), the exact event sequence
``(t, state, reason, stage)`` out, at exact times.
"""

from __future__ import annotations

from typing import Any

import pytest
from tables import Row, Samples, gauge, run

from edge.detect.build import machine_for


def every(start: float, end: float, value: float | None, hz: float = 2.0) -> Samples:
    return [(n / hz, value) for n in range(round(start * hz), round(end * hz))]


STARTUP: list[Row] = [(0.0, "starting", "startup", None), (0.0, "normal", "startup", None)]

SCENARIOS: dict[str, tuple[dict[str, Any], Samples, float | None, list[Row]]] = {
    "a_sensor_that_never_answers_is_a_no_data_fault_after_no_data_s": (
        {},
        [],
        30.0,
        [(0.0, "starting", "startup", None), (10.0, "fault", "no_data", None)],
    ),
    "failed_reads_are_missing_data": (
        {},
        every(0, 20, 0.5) + every(20, 40, None),
        None,
        [*STARTUP, (29.5, "fault", "no_data", None)],
    ),
    "a_gap_is_a_fault_at_last_sample_plus_no_data_s_and_recovers_after_delay_off": (
        {},
        every(0, 30, 0.5) + every(50, 200, 0.5),
        None,
        [*STARTUP, (39.5, "fault", "no_data", None), (110.0, "normal", "cleared", None)],
    ),
    "a_single_out_of_range_sample_is_no_fault": (
        {},
        [*every(0, 10, 0.5), (10.0, 3.0), *every(10.5, 100, 0.5)],
        None,
        STARTUP,
    ),
    "out_of_range_short_of_verify_s_is_no_fault": (
        {},
        every(0, 10, 0.5) + every(10, 12.5, -0.2) + every(12.5, 100, 0.5),
        None,
        STARTUP,
    ),
    "out_of_range_held_for_verify_s_is_a_fault_that_a_short_clean_run_clears": (
        {},
        every(0, 10, 0.5) + every(10, 14, 3.0) + every(14, 100, 0.5),
        None,
        [*STARTUP, (13.0, "fault", "out_of_range", None), (20.0, "normal", "cleared", None)],
    ),
    "with_verify_s_0_out_of_range_is_a_fault_at_once": (
        {"fault": {"no_data_s": 10.0, "min": 0.0, "max": 2.5, "verify_s": 0.0}},
        [*every(0, 10, 0.5), (10.0, 3.0), *every(10.5, 100, 0.5)],
        None,
        [*STARTUP, (10.0, "fault", "out_of_range", None), (70.5, "normal", "cleared", None)],
    ),
    "one_bad_reading_during_recovery_restarts_it": (
        {},
        [
            *every(0, 10, 0.5),
            *every(10, 14, 3.0),
            *every(14, 17, 0.5),
            (17.0, -1.0),
            *every(17.5, 200, 0.5),
        ],
        None,
        [*STARTUP, (13.0, "fault", "out_of_range", None), (23.5, "normal", "cleared", None)],
    ),
    "an_isolated_outlier_does_not_interrupt_a_running_delay": (
        {},
        every(0, 10, 0.5) + every(10, 12, 1.0) + [(12.0, 9.0)] + every(12.5, 100, 1.0),
        None,
        [*STARTUP, (15.0, "warning", "level", None)],
    ),
    "a_verified_fault_interrupts_a_running_delay_and_recovery_shows_the_present_level": (
        {},
        every(0, 10, 0.5) + every(10, 12, 1.0) + every(12, 15.5, 9.0) + every(15.5, 100, 1.0),
        None,
        [*STARTUP, (15.0, "fault", "out_of_range", None), (21.5, "warning", "level", None)],
    ),
    "a_fault_breaks_the_continuity_a_delay_needs": (
        {"delay_on_s": 30.0, "delay_off_s": 5.0},
        every(0, 10, 0.5) + every(10, 12, 1.0) + every(12, 15.5, 9.0) + every(15.5, 100, 1.0),
        None,
        [
            *STARTUP,
            (15.0, "fault", "out_of_range", None),
            (20.5, "normal", "cleared", None),
            (45.5, "warning", "level", None),
        ],
    ),
    "a_failed_check_during_recovery_restarts_the_delay_too": (
        {"delay_on_s": 30.0, "delay_off_s": 5.0},
        [
            *every(0, 12, 0.5),
            *every(12, 15.5, 9.0),
            *every(15.5, 17, 1.0),
            (17.0, 9.0),
            *every(17.5, 100, 1.0),
        ],
        None,
        [
            *STARTUP,
            (15.0, "fault", "out_of_range", None),
            (22.5, "normal", "cleared", None),
            (47.5, "warning", "level", None),
        ],
    ),
    "suspect_samples_hold_a_delay_that_then_completes_at_the_next_valid_sample": (
        {},
        every(0, 10, 0.5) + every(10, 14.5, 1.0) + every(14.5, 16, 9.0) + every(16, 100, 1.0),
        None,
        [*STARTUP, (16.0, "warning", "level", None)],
    ),
    "an_alarm_lost_to_a_fault_is_shown_again_after_recovery": (
        {},
        every(0, 20, 1.3) + every(40, 200, 1.3),
        None,
        [
            (0.0, "starting", "startup", None),
            (5.0, "alarm", "level", None),
            (29.5, "fault", "no_data", None),
            (100.0, "alarm", "level", None),
        ],
    ),
    "an_identical_reading_for_stuck_s_is_a_stuck_fault_that_the_first_change_clears": (
        {"fault": {"no_data_s": 10.0, "min": 0.0, "max": 2.5, "stuck_s": 30.0}},
        every(0, 40, 0.5) + [(n / 2, 0.5 + (n % 3) / 100) for n in range(80, 400)],
        None,
        [*STARTUP, (30.0, "fault", "stuck", None), (40.0, "normal", "cleared", None)],
    ),
    "a_flood_after_a_flat_baseline_alarms_after_delay_on_not_after_a_fault_recovery": (
        {"fault": {"no_data_s": 10.0, "min": 0.0, "max": 2.5, "stuck_s": 30.0}},
        every(0, 40, 0.5) + [(n / 2, 1.5 + (n % 2) / 100) for n in range(80, 200)],
        None,
        [
            *STARTUP,
            (30.0, "fault", "stuck", None),
            (40.0, "normal", "cleared", None),
            (45.0, "alarm", "level", None),
        ],
    ),
    "a_stuck_fault_with_a_gap_in_it_waits_out_the_recovery_like_any_other": (
        {"fault": {"no_data_s": 10.0, "min": 0.0, "max": 2.5, "stuck_s": 30.0}},
        every(0, 35, 0.5) + [(35.0, 3.0)] + [(n / 2, 0.5 + (n % 3) / 100) for n in range(71, 300)],
        None,
        [*STARTUP, (30.0, "fault", "stuck", None), (95.5, "normal", "cleared", None)],
    ),
    "a_fault_during_starting_is_a_fault_then_starting_resumes": (
        {"warmup_s": 60.0},
        [*every(0, 5, 0.5), *every(5, 8.5, 3.0), *every(8.5, 100, 0.5)],
        None,
        [
            (0.0, "starting", "startup", None),
            (8.0, "fault", "out_of_range", None),
            (14.5, "starting", "startup", None),
            (60.0, "normal", "startup", None),
        ],
    ),
    "disabled_publishes_disabled_and_detects_nothing": (
        {"enabled": False},
        every(0, 100, 3.0) + every(100, 200, 1.3),
        400.0,
        [(0.0, "disabled", "startup", None)],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_supervision_scenario(name: str) -> None:
    fields, samples, until, expected = SCENARIOS[name]
    assert run(gauge(**fields), samples, until) == expected


def test_the_no_data_deadline_is_offered_to_the_caller_and_is_always_in_the_future() -> None:
    machine = machine_for(gauge())
    machine.start(0.0)
    machine.sample(1.0, 0.5)
    assert machine.deadline() == 11.0
    assert [tr.reason.value for tr in machine.tick(11.0)] == ["no_data"]
    due = machine.deadline()
    assert due is None or due > 11.0


def test_an_out_of_range_fault_then_silence_does_not_spin_on_a_past_deadline() -> None:
    """Regression: a second failing check under a first fault kept its deadline in the
    past, and tick() looped on it."""
    machine = machine_for(gauge())
    machine.start(0.0)
    machine.sample(1.0, 9.0)
    machine.tick(100.0)
    due = machine.deadline()
    assert due is None or due > 100.0


def test_non_finite_readings_are_out_of_range_not_a_level() -> None:
    machine = machine_for(gauge(fault={"no_data_s": 10.0}))
    machine.start(0.0)
    machine.sample(0.0, 0.5)
    events = [tr for t in (1.0, 2.0, 3.0, 4.0) for tr in machine.sample(t, float("nan"))]
    assert [(tr.t, tr.state.value, tr.reason.value) for tr in events] == [
        (4.0, "fault", "out_of_range")
    ]


def test_a_sample_timestamped_before_a_processed_deadline_is_taken_at_that_deadline() -> None:
    machine = machine_for(gauge())
    machine.start(0.0)
    machine.sample(0.0, 0.5)
    machine.tick(10.0)  # the no_data fault at 10.0 is published
    events = machine.sample(9.5, 0.5)  # a reading that began before, arriving late
    assert events == []
    assert machine.last_sample_t == 10.0


def test_an_input_that_cannot_be_opened_is_a_fault_at_once_even_without_no_data_s() -> None:
    machine = machine_for(gauge(fault={}))
    machine.start(0.0)
    events = machine.lost(0.5)
    assert [(tr.t, tr.state.value, tr.reason.value) for tr in events] == [(0.5, "fault", "no_data")]
    assert machine.tick(3600.0) == []  # no sample ever comes: the fault holds
    assert machine.state.value == "fault"


def test_a_lost_input_recovers_like_any_fault_once_valid_data_flows_again() -> None:
    machine = machine_for(gauge(fault={}))
    machine.start(0.0)
    machine.lost(0.0)
    out = []
    for n in range(2 * 61):
        out += machine.sample(100.0 + n / 2, 0.3)
    assert [(tr.t, tr.state.value, tr.reason.value) for tr in out] == [(160.0, "normal", "cleared")]
