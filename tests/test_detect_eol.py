"""Supervised end-of-line loops: resistance bands, and what detection makes of them.

The classification is a pure function of the loop's resistance (edge.detect.eol); the
machine turns its open, short and between-band readings into verified faults, never a
``normal``.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from tables import held, run, sensor

from edge.config import ConfigError, EolInput, SensorConfig
from edge.detect.eol import Loop, LoopState

LOOP = Loop(eol_ohm=4700.0, alarm_ohm=680.0, pullup_ohm=4700.0)
ALARM_LOOP = 4700.0 * 680.0 / (4700.0 + 680.0)  # 594.05 Ω


def smoke_loop(**fields: Any) -> SensorConfig:
    base: dict[str, Any] = {
        "kind": "smoke",
        "input": {"type": "eol", "channel": 2, "eol_ohm": 4700, "alarm_ohm": 680},
        "sample_hz": 1,
        "delay_on_s": 2.0,
        "delay_off_s": 30.0,
    }
    return sensor(**{**base, **fields})


def test_the_bands_are_plus_minus_ten_percent_around_each_resistance() -> None:
    assert [(b.state.value, round(b.low_ohm, 1), round(b.high_ohm, 1)) for b in LOOP.bands()] == [
        ("short", 0.0, round(ALARM_LOOP * 0.9, 1)),
        ("alarm", round(ALARM_LOOP * 0.9, 1), round(ALARM_LOOP * 1.1, 1)),
        ("between", round(ALARM_LOOP * 1.1, 1), 4230.0),
        ("normal", 4230.0, 5170.0),
        ("open", 5170.0, math.inf),
    ]


EDGES = [
    # (resistance, state): each band's own edges belong to it
    (0.0, LoopState.SHORT),
    (ALARM_LOOP * 0.9 - 0.01, LoopState.SHORT),
    (ALARM_LOOP * 0.9, LoopState.ALARM),
    (ALARM_LOOP, LoopState.ALARM),
    (ALARM_LOOP * 1.1, LoopState.ALARM),
    (ALARM_LOOP * 1.1 + 0.01, LoopState.BETWEEN),
    (4229.99, LoopState.BETWEEN),
    (4230.0, LoopState.NORMAL),
    (4700.0, LoopState.NORMAL),
    (5170.0, LoopState.NORMAL),
    (5170.01, LoopState.OPEN),
    (math.inf, LoopState.OPEN),
]


@pytest.mark.parametrize(("ohm", "state"), EDGES, ids=[f"{o:.2f}" for o, _ in EDGES])
def test_every_band_edge(ohm: float, state: LoopState) -> None:
    assert LOOP.classify(ohm) is state


def test_the_adc_fraction_and_the_resistance_are_inverse() -> None:
    for ohm in (10.0, ALARM_LOOP, 4700.0, 50_000.0):
        assert LOOP.ohm(LOOP.fraction(ohm)) == pytest.approx(ohm)
    assert LOOP.classify(LOOP.ohm(1.0)) is LoopState.OPEN  # full scale: finite, and open
    assert LOOP.classify(LOOP.ohm(0.0)) is LoopState.SHORT


def test_an_alarm_resistor_whose_band_overlaps_normal_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"input\.alarm_ohm.*overlaps the normal band"):
        smoke_loop(input={"type": "eol", "channel": 2, "eol_ohm": 4700, "alarm_ohm": 47000})


def test_a_pullup_the_adc_cannot_resolve_the_bands_with_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"input\.pullup_ohm.*cannot tell the bands apart"):
        smoke_loop(
            input={
                "type": "eol",
                "channel": 2,
                "eol_ohm": 4700,
                "alarm_ohm": 680,
                "pullup_ohm": 1e6,
            }
        )


def test_range_limits_do_not_apply_to_a_loop_its_bands_supervise_it() -> None:
    with pytest.raises(ConfigError, match=r"fault\.stuck_s does not apply to an eol input"):
        smoke_loop(fault={"stuck_s": 3600})


NORMAL_OHM, IN_ALARM, CUT, SHORTED = 4700.0, ALARM_LOOP, LOOP.ohm(1.0), 0.0
STARTING = [(0.0, "starting", "startup", None), (0.0, "normal", "startup", None)]


def test_a_loop_at_rest_is_normal_and_its_alarm_band_alarms_after_delay_on() -> None:
    samples = held([(0, 10, NORMAL_OHM), (10, 20, IN_ALARM)], hz=1)
    assert run(smoke_loop(), samples) == [*STARTING, (12.0, "alarm", "contact", None)]


@pytest.mark.parametrize(
    ("reads", "reason"),
    [(CUT, "open_circuit"), (SHORTED, "short_circuit"), (2000.0, "out_of_range")],
    ids=["cut", "short", "between"],
)
def test_a_cut_or_shorted_loop_is_a_fault_within_10_s_never_normal(
    reads: float, reason: str
) -> None:
    samples = held([(0, 10, NORMAL_OHM), (10, 60, reads)], hz=1)
    events = run(smoke_loop(), samples)
    assert events == [*STARTING, (13.0, "fault", reason, None)]  # verify_s 3 s after 10 s


def test_a_repaired_loop_is_normal_again_after_a_short_clean_run() -> None:
    samples = held([(0, 10, NORMAL_OHM), (10, 20, CUT), (20, 60, NORMAL_OHM)], hz=1)
    assert run(smoke_loop(), samples) == [
        *STARTING,
        (13.0, "fault", "open_circuit", None),
        (26.0, "normal", "cleared", None),
    ]


def test_one_glitch_outside_the_bands_is_no_fault() -> None:
    samples = held([(0, 10, NORMAL_OHM), (10, 11, CUT), (11, 60, NORMAL_OHM)], hz=1)
    assert run(smoke_loop(), samples) == STARTING


def test_an_eol_input_names_its_bands_in_the_schema() -> None:
    fields = EolInput.model_fields
    assert {"eol_ohm", "alarm_ohm", "pullup_ohm", "tolerance"} <= set(fields)
