"""Vibration: STA/LTA on an accelerometer, pulse density on a vibration switch.

Scenarios are tables: samples in, the exact event sequence ``(t, state, reason, stage)``
out. The STA/LTA signals are built so the trigger times follow from the recursion in
closed form: after silence, the first sample of a burst gives STA/LTA = nlta/nsta = 10.
"""

from __future__ import annotations

from typing import Any

import pytest
from tables import Row, Samples, run, sensor

from edge.config import SensorConfig
from edge.detect.stalta import StaLtaTrigger

HZ = 100


def accelerometer(**fields: Any) -> SensorConfig:
    """The example's getar-fondasi; high-pass off so the recursion has a closed form."""
    base: dict[str, Any] = {
        "kind": "vibration",
        "input": {"type": "mcp3008", "channel": 0},
        "sample_hz": HZ,
        "unit": "g",
        "sta_lta": {"sta_s": 0.2, "lta_s": 2.0, "on": 4.0, "off": 1.5, "highpass_hz": 0.0},
        "alarm": 0.05,
        "delay_off_s": 10.0,
    }
    return sensor(**{**base, **fields})


def switch(**fields: Any) -> SensorConfig:
    """The example's getar-pagar: SW-420 pulses, warning 5 / alarm 20 in 2 s."""
    base: dict[str, Any] = {
        "kind": "vibration",
        "input": {"type": "pulse", "pin": "GPIO5"},
        "pulses": {"window_s": 2.0, "warning": 5, "alarm": 20},
        "delay_off_s": 10.0,
    }
    return sensor(**{**base, **fields})


def bursts(*parts: tuple[float, float, float], end: float = 30.0) -> Samples:
    """Zero except ``(from_s, to_s, amplitude)`` parts, where it alternates ±amplitude."""
    out: Samples = []
    for n in range(round(end * HZ)):
        t = n / HZ
        amp = next((a for t0, t1, a in parts if t0 <= t < t1), 0.0)
        out.append((t, amp if n % 2 else -amp))
    return out


def release_time(samples: Samples, on: float = 4.0, off: float = 1.5) -> float:
    """Reference: Withers' recursion written out, first release after the first trigger."""
    sta, lta, csta, clta, triggered = 0.0, 1e-99, 1 / 20, 1 / 200, False
    for n, (t, x) in enumerate(samples):
        if n == 0:
            continue
        assert x is not None
        sta = csta * x * x + (1 - csta) * sta
        lta = clta * x * x + (1 - clta) * lta
        if n < 200:
            continue
        if not triggered and sta / lta >= on:
            triggered = True
        elif triggered and sta / lta < off:
            return t
    raise AssertionError("never released")


def alarm_end(samples: Samples, alarm: float = 0.05, hold_s: float = 2.0) -> float:
    """When an alarm's level falls back: at the trigger's release, or, while the shaking
    still reaches ``alarm``, at the first sample more than ``hold_s`` (lta_s) after the
    last one that did (the alarm holds while the shaking lasts)."""
    release = release_time(samples)
    last = max(t for t, x in samples if x is not None and abs(x) >= alarm and t < release + 1e-9)
    for t, x in samples:
        if t < release or x is None:
            continue
        if abs(x) >= alarm:
            last = t
        elif t - last > hold_s:
            return t
    raise AssertionError("never fell back")


READY = 1.99  # the 200th sample: the long window is full, STA/LTA can decide

STALTA: dict[str, tuple[Samples, list[Row]]] = {
    "a_burst_after_quiet_warns_at_its_first_sample_and_clears_delay_off_after_release": (
        bursts((5.0, 6.0, 0.02)),
        [
            (0.0, "starting", "startup", None),
            (READY, "normal", "startup", None),
            (5.0, "warning", "sta_lta", None),
            (round(release_time(bursts((5.0, 6.0, 0.02))) + 10.0, 9), "normal", "cleared", None),
        ],
    ),
    "a_burst_above_alarm_is_an_alarm_at_once": (
        bursts((5.0, 6.0, 0.1)),
        [
            (0.0, "starting", "startup", None),
            (READY, "normal", "startup", None),
            (5.0, "alarm", "level", None),
            (round(alarm_end(bursts((5.0, 6.0, 0.1))) + 10.0, 9), "normal", "cleared", None),
        ],
    ),
    "warning_becomes_alarm_when_the_peak_while_triggered_reaches_alarm": (
        bursts((5.0, 5.5, 0.02), (5.5, 6.0, 0.06)),
        [
            (0.0, "starting", "startup", None),
            (READY, "normal", "startup", None),
            (5.0, "warning", "sta_lta", None),
            (5.5, "alarm", "level", None),
            (
                round(alarm_end(bursts((5.0, 5.5, 0.02), (5.5, 6.0, 0.06))) + 10.0, 9),
                "normal",
                "cleared",
                None,
            ),
        ],
    ),
    "no_trigger_while_the_long_window_fills_even_on_a_burst": (
        bursts((0.5, 1.5, 0.1), end=1.9),
        [(0.0, "starting", "startup", None)],
    ),
}


@pytest.mark.parametrize("name", list(STALTA))
def test_sta_lta_scenario(name: str) -> None:
    samples, expected = STALTA[name]
    assert run(accelerometer(), samples) == expected


def test_an_alarm_holds_while_the_shaking_lasts_after_the_ratio_has_caught_up() -> None:
    """Long strong shaking: the 2 s long window catches up and the ratio falls below
    ``off`` within seconds, but the ground still moves at twice the alarm level for 35 s.
    The alarm must hold until the shaking stops (docs/detection.md: the alarm and
    delay_off_s hold the state through a long event). Found replaying a quake whose
    shaking grows to 0.3 g over 30 s: "Normal kembali" at 26 s, in the middle of it."""
    samples = bursts((5.0, 40.0, 0.1), end=60.0)
    release = release_time(samples)
    assert release < 15.0, "the ratio must release long before the shaking ends"
    rows = run(accelerometer(), samples)
    assert rows[:3] == [
        (0.0, "starting", "startup", None),
        (READY, "normal", "startup", None),
        (5.0, "alarm", "level", None),
    ]
    # held until 2 s (lta_s) after the last sample at the alarm level, then delay_off_s
    assert rows[3:] == [(52.0, "normal", "cleared", None)]


def test_a_held_alarm_ends_when_the_shaking_drops_below_alarm() -> None:
    """Shaking that goes on below the alarm level does not hold the alarm: it falls back
    2 s after the last strong sample and clears delay_off_s later (no warning is made up
    while the trigger is off)."""
    samples = bursts((5.0, 20.0, 0.1), (20.0, 40.0, 0.03), end=60.0)
    rows = run(accelerometer(), samples)
    assert rows[2] == (5.0, "alarm", "level", None)
    assert rows[3:] == [(32.0, "normal", "cleared", None)]


def test_after_silence_the_first_burst_sample_gives_the_window_ratio() -> None:
    trigger = StaLtaTrigger(20, 200, on=4.0, off=1.5)
    for _ in range(500):
        trigger.step(0.0)
    assert trigger.step(0.02)
    assert trigger.ratio == pytest.approx(10.0)


def test_a_dead_flat_input_for_hours_does_not_divide_by_zero() -> None:
    trigger = StaLtaTrigger(20, 200, on=4.0, off=1.5)
    assert not any(trigger.step(0.0) for _ in range(200_000))
    assert trigger.ratio == 0.0


def test_high_pass_removes_gravity_so_a_tilted_sensor_is_quiet() -> None:
    """1 g of offset (a sensor mounted sideways) plus a slow drift never triggers."""
    cfg = accelerometer(
        sta_lta={"sta_s": 0.2, "lta_s": 2.0, "on": 4.0, "off": 1.5, "highpass_hz": 1.0}
    )
    samples: Samples = [(n / HZ, 1.0 + 0.001 * n / HZ) for n in range(60 * HZ)]
    assert run(cfg, samples) == [
        (0.0, "starting", "startup", None),
        (READY, "normal", "startup", None),
    ]


PULSES: dict[str, tuple[Samples, float, list[Row]]] = {
    "five_pulses_in_the_window_warn_at_the_fifth_and_clear_after_quiet": (
        [(0.0, 0.0)] + [(10.0 + k / 8, 1.0) for k in range(5)],
        60.0,
        [
            (0.0, "starting", "startup", None),
            (0.0, "normal", "startup", None),
            (10.5, "warning", "pulses", None),
            (22.0, "normal", "cleared", None),
        ],
    ),
    "pulses_within_delay_off_retrigger_and_restart_the_quiet_time": (
        [(0.0, 0.0)]
        + [(10.0 + k / 8, 1.0) for k in range(5)]
        + [(15.0 + k / 8, 1.0) for k in range(5)],
        60.0,
        [
            (0.0, "starting", "startup", None),
            (0.0, "normal", "startup", None),
            (10.5, "warning", "pulses", None),
            (27.0, "normal", "cleared", None),
        ],
    ),
    "twenty_pulses_in_the_window_alarm_then_step_down_as_they_age_out": (
        [(0.0, 0.0)] + [(40.0 + k / 16, 1.0) for k in range(20)],
        80.0,
        [
            (0.0, "starting", "startup", None),
            (0.0, "normal", "startup", None),
            (40.25, "warning", "pulses", None),
            (41.1875, "alarm", "pulses", None),
            (52.0, "warning", "pulses", None),
            (52.9375, "normal", "cleared", None),
        ],
    ),
    "pulses_spread_thinner_than_the_window_never_warn": (
        [(0.0, 0.0)] + [(10.0 + k / 2, 1.0) for k in range(40)],
        60.0,
        [(0.0, "starting", "startup", None), (0.0, "normal", "startup", None)],
    ),
}


@pytest.mark.parametrize("name", list(PULSES))
def test_pulse_density_scenario(name: str) -> None:
    samples, until, expected = PULSES[name]
    assert run(switch(), samples, until) == expected
