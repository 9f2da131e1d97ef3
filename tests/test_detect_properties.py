"""Properties of the detection core that hold for every input, checked with hypothesis.

Each test states one promise a safety engineer relies on; hypothesis looks for a sample
stream that breaks it.
"""

from __future__ import annotations

from itertools import accumulate
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tables import sensor

from edge.config import SensorConfig
from edge.detect.build import machine_for
from edge.detect.rate import RateOfRise
from edge.detect.stalta import StaLtaTrigger
from edge.detect.types import State, Transition

EXAMPLES = settings(max_examples=60, deadline=None)


def gauge(**fields: Any) -> SensorConfig:
    base: dict[str, Any] = {
        "kind": "water_level",
        "input": {"type": "hcsr04", "trigger": "GPIO23", "echo": "GPIO24", "mount_height_m": 2.5},
        "sample_hz": 2,
        "warning": 0.8,
        "alarm": 1.2,
        "delay_on_s": 5.0,
        "delay_off_s": 60.0,
        "fault": {"no_data_s": 10.0, "min": 0.0, "max": 2.5},
    }
    return sensor(**{**base, **fields})


def accelerometer(on: float = 4.0, off: float = 1.5, highpass_hz: float = 1.0) -> SensorConfig:
    return sensor(
        kind="vibration",
        input={"type": "mcp3008", "channel": 0},
        sample_hz=100,
        sta_lta={"sta_s": 0.2, "lta_s": 2.0, "on": on, "off": off, "highpass_hz": highpass_hz},
        alarm=0.05,
        delay_off_s=10.0,
    )


SENSORS: dict[str, SensorConfig] = {
    "water_rate": gauge(hysteresis=0.05, rate_alarm_per_min=0.5, rate_window_s=20.0),
    "water_stages": gauge(
        warning=None,
        alarm=None,
        hysteresis=0.05,
        stages=[
            {"name": "Siaga IV", "level": 0.0, "state": "normal"},
            {"name": "Siaga III", "level": 0.5, "state": "warning"},
            {"name": "Siaga II", "level": 1.0, "state": "warning"},
            {"name": "Siaga I", "level": 1.5, "state": "alarm"},
        ],
        fault={"no_data_s": 10.0, "min": 0.0, "max": 2.5, "stuck_s": 20.0},
    ),
    "mq2": sensor(
        kind="smoke",
        input={"type": "mcp3008", "channel": 1},
        calibration={"raw": [0.0, 1.0], "value": [0.0, 2.5]},
        warning=0.8,
        alarm=1.2,
        hysteresis=0.1,
        warmup_s=5.0,
        delay_on_s=3.0,
        delay_off_s=30.0,
        fault={"no_data_s": 5.0, "min": 0.0, "max": 2.5},
    ),
    "contact": sensor(
        kind="smoke",
        input={"type": "digital", "pin": "GPIO17"},
        delay_on_s=3.0,
        delay_off_s=30.0,
    ),
    "stalta": accelerometer(),
    "pulses": sensor(
        kind="vibration",
        input={"type": "pulse", "pin": "GPIO5"},
        pulses={"window_s": 2.0, "warning": 3, "alarm": 6},
        delay_off_s=10.0,
    ),
}


def times(min_dt: float = 0.01, max_dt: float = 8.0, max_size: int = 120) -> Any:
    """Increasing sample times starting at 0."""
    return st.lists(st.floats(min_dt, max_dt, allow_nan=False), min_size=1, max_size=max_size).map(
        lambda dts: [0.0, *(round(t, 6) for t in accumulate(dts))][:-1]
    )


LEVELS = st.sampled_from([0.0, 0.3, 0.6, 0.9, 1.1, 1.3, 1.7, 2.6, -0.5])
READINGS = st.one_of(LEVELS, st.none())


def starts_and_runs(
    cfg: SensorConfig, samples: list[tuple[float, float | None]]
) -> list[Transition]:
    machine = machine_for(cfg)
    return machine.start(0.0) + [tr for t, v in samples for tr in machine.sample(t, v)]


# ---------------------------------------------------------------- STA/LTA


@EXAMPLES
@given(
    nsta=st.integers(1, 50),
    extra=st.integers(1, 300),
    xs=st.lists(st.floats(-1e3, 1e3, allow_nan=False), max_size=400),
)
def test_sta_lta_never_triggers_during_warm_up(nsta: int, extra: int, xs: list[float]) -> None:
    trigger = StaLtaTrigger(nsta, nsta + extra, on=1.01, off=0.5)
    for x in xs[: nsta + extra]:
        assert not trigger.step(x)
        assert trigger.ratio == 0.0


@EXAMPLES
@given(xs=st.lists(st.floats(-2.0, 2.0, allow_nan=False), max_size=199))
def test_the_machine_stays_starting_while_the_long_window_fills(xs: list[float]) -> None:
    events = starts_and_runs(
        accelerometer(on=1.01, off=0.5), [(n / 100, x) for n, x in enumerate(xs)]
    )
    assert [tr.state for tr in events] == [State.STARTING]


@EXAMPLES
@given(
    value=st.floats(-2.0, 2.0, allow_nan=False),
    seconds=st.integers(3, 60),
    on=st.floats(1.01, 10.0),
)
def test_a_constant_signal_never_triggers(value: float, seconds: int, on: float) -> None:
    samples = [(n / 100, value) for n in range(seconds * 100)]
    events = starts_and_runs(accelerometer(on=on, off=min(1.0, on / 2)), samples)
    assert {tr.state for tr in events} <= {State.STARTING, State.NORMAL}


@EXAMPLES
@given(value=st.floats(-1e6, 1e6, allow_nan=False), n=st.integers(1, 5000), on=st.floats(1.6, 10))
def test_a_constant_signal_never_triggers_even_unfiltered_at_on_ratio_1_6_or_more(
    value: float, n: int, on: float
) -> None:
    """Unfiltered, a DC level makes STA/LTA peak at 1/(1 - 1/e) = 1.58 as the windows fill."""
    trigger = StaLtaTrigger(20, 200, on=on, off=1.0)
    assert not any(trigger.step(value) for _ in range(n))


# ---------------------------------------------------------------- rate of rise


@EXAMPLES
@given(
    ts=times(0.05, 30.0, 300),
    start=st.floats(0.0, 2.5),
    drops=st.lists(st.sampled_from([0.0, 0.0, 0.001, 0.01, 0.1]), min_size=300, max_size=300),
    arm=st.one_of(st.none(), st.floats(0.0, 2.0)),
)
def test_the_rate_alarm_never_fires_on_a_falling_or_flat_level(
    ts: list[float], start: float, drops: list[float], arm: float | None
) -> None:
    rate = RateOfRise(alarm_per_min=0.01, window_s=60.0, arm_above=arm)
    level = start
    for t, drop in zip(ts, drops, strict=False):
        level -= drop
        assert not rate.update(t, level)


# ---------------------------------------------------------------- supervision


@EXAMPLES
@given(ts=times(0.1, 25.0), values=st.lists(LEVELS.filter(lambda v: 0 <= v <= 2.5), min_size=120))
def test_any_gap_longer_than_no_data_s_yields_a_fault_by_then(
    ts: list[float], values: list[float]
) -> None:
    cfg = gauge()
    machine = machine_for(cfg)
    machine.start(0.0)
    previous = 0.0
    for t, v in zip(ts, values, strict=False):
        if t - previous > 10.0:
            machine.tick(previous + 10.0)
            assert machine.state is State.FAULT
        machine.sample(t, v)
        previous = t


@EXAMPLES
@given(
    name=st.sampled_from(["water_rate", "water_stages", "mq2"]),
    ts=times(0.1, 12.0),
    readings=st.lists(READINGS, min_size=120, max_size=120),
    ticks=st.lists(st.floats(0.0, 600.0), max_size=20),
)
def test_supervision_never_reports_a_level_while_data_is_missing(
    name: str, ts: list[float], readings: list[float | None], ticks: list[float]
) -> None:
    cfg = SENSORS[name]
    no_data = cfg.fault.no_data_s
    assert no_data is not None
    machine = machine_for(cfg)
    events = machine.start(0.0)
    valid: list[float] = []
    pending_ticks = sorted(ticks)
    for t, v in zip(ts, readings, strict=False):
        while pending_ticks and pending_ticks[0] < t:
            events += machine.tick(pending_ticks.pop(0))
        events += machine.sample(t, v)
        if v is not None and 0.0 <= v <= 2.5:
            valid.append(t)
    for tr in events:
        if tr.state in (State.NORMAL, State.WARNING, State.ALARM):
            assert any(tr.t - no_data < s <= tr.t for s in valid), tr


# ---------------------------------------------------------------- debounce


def level_of(value: float) -> int:
    return 2 if value >= 1.2 else 1 if value >= 0.8 else 0


ORDER = {State.NORMAL: 0, State.WARNING: 1, State.ALARM: 2}


def runs(ts: list[float], values: list[float]) -> list[tuple[float, float, int]]:
    """The input as held between samples: (from, to, level) pieces, the last one open."""
    ends = [*ts[1:], float("inf")]
    return [(t, end, level_of(v)) for t, end, v in zip(ts, ends, values, strict=False)]


Pieces = list[tuple[float, float, int]]
EPS = 1e-9  # a deadline is since + delay in floats; the pieces' bounds are the samples'


def held_at_least(pieces: Pieces, start: float, end: float, order: int) -> bool:
    """The input was at least ``order`` all through ``[start, end)``."""
    return all(lvl >= order for t0, t1, lvl in pieces if t1 > start + EPS and t0 < end)


def held_at_most(pieces: Pieces, start: float, end: float, order: int) -> bool:
    return all(lvl <= order for t0, t1, lvl in pieces if t1 > start + EPS and t0 < end)


SAMPLED = st.lists(st.sampled_from([0.3, 0.9, 1.3]), min_size=120, max_size=120)


@EXAMPLES
@given(
    ts=times(0.1, 4.0), values=SAMPLED, delay_on=st.floats(0.0, 8.0), delay_off=st.floats(0.0, 8.0)
)
def test_no_escalation_unless_the_condition_held_for_delay_on_continuously(
    ts: list[float], values: list[float], delay_on: float, delay_off: float
) -> None:
    cfg = gauge(delay_on_s=delay_on, delay_off_s=delay_off, fault={})
    events = starts_and_runs(cfg, list(zip(ts, values, strict=False)))
    pieces = runs(ts, values)
    shown = 0
    for tr in events:
        if tr.state not in ORDER:
            continue
        order = ORDER[tr.state]
        if order > shown:
            assert held_at_least(pieces, tr.t - delay_on, tr.t, order), tr
        elif order < shown:
            assert held_at_most(pieces, tr.t - delay_off, tr.t, order), tr
        shown = order


@EXAMPLES
@given(
    ts=times(0.1, 4.0), values=SAMPLED, delay_on=st.floats(0.0, 8.0), delay_off=st.floats(0.0, 8.0)
)
def test_the_state_never_reverses_faster_than_the_configured_delays(
    ts: list[float], values: list[float], delay_on: float, delay_off: float
) -> None:
    cfg = gauge(delay_on_s=delay_on, delay_off_s=delay_off, fault={})
    events = [
        tr for tr in starts_and_runs(cfg, list(zip(ts, values, strict=False))) if tr.state in ORDER
    ]
    for before, now, after in zip(events, events[1:], events[2:], strict=False):
        up = ORDER[now.state] > ORDER[before.state]
        if up and ORDER[after.state] < ORDER[now.state]:
            assert after.t - now.t >= delay_off - 1e-9
        if not up and ORDER[after.state] > ORDER[now.state]:
            assert after.t - now.t >= delay_on - 1e-9


@EXAMPLES
@given(
    name=st.sampled_from(["water_rate_free", "mq2", "contact"]),
    ts=times(0.05, 4.0),
    values=st.lists(st.floats(0.0, 0.79), min_size=120, max_size=120),
)
def test_a_stream_that_never_crosses_a_threshold_yields_no_events_beyond_startup(
    name: str, ts: list[float], values: list[float]
) -> None:
    cfg = gauge(hysteresis=0.05) if name == "water_rate_free" else SENSORS[name]
    if name == "contact":
        values = [0.0 for _ in values]
    events = starts_and_runs(cfg, list(zip(ts, values, strict=False)))
    assert [tr.state for tr in events][:1] == [State.STARTING]
    assert [tr.state for tr in events][1:] in ([], [State.NORMAL])


# ---------------------------------------------------------------- batch path


@EXAMPLES
@given(
    name=st.sampled_from(list(SENSORS)),
    ts=times(0.005, 3.0, 400),
    readings=st.lists(
        st.one_of(READINGS, st.floats(-3.0, 3.0), st.sampled_from([0.0, 1.0])),
        min_size=400,
        max_size=400,
    ),
)
def test_the_short_path_gives_exactly_what_the_full_path_gives(
    name: str, ts: list[float], readings: list[float | None]
) -> None:
    cfg = SENSORS[name]
    samples = list(zip(ts, readings, strict=False))
    if name in {"contact", "pulses"}:
        samples = [(t, None if v is None else float(v >= 0.5)) for t, v in samples]
    full = machine_for(cfg)
    full.fast_path = False
    expected = full.start(0.0) + [tr for t, v in samples for tr in full.sample(t, v)]
    one = machine_for(cfg)
    assert one.start(0.0) + [tr for t, v in samples for tr in one.sample(t, v)] == expected
    batch = machine_for(cfg)
    half = len(samples) // 2
    got = batch.start(0.0) + batch.sample_many(samples[:half]) + batch.sample_many(samples[half:])
    assert got == expected
    for machine in (one, batch):
        assert (machine.state, machine.stage, machine.deadline()) == (
            full.state,
            full.stage,
            full.deadline(),
        )


# ---------------------------------------------------------------- fault verification

BAD_VALUES = st.one_of(
    st.floats(min_value=-100.0, max_value=-0.001),
    st.floats(min_value=2.501, max_value=100.0),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
)


@st.composite
def noisy_gauge_stream(draw: st.DrawFn) -> tuple[float, float, list[tuple[float, float]]]:
    """A gauge sampled at ``hz`` for two minutes with bursts of bad samples, each burst
    shorter than ``verify_s`` and followed by a valid sample."""
    verify_s = draw(st.sampled_from([1.0, 3.0, 5.0]))
    hz = draw(st.sampled_from([1.0, 2.0, 5.0]))
    longest = max(1, int(verify_s * hz))  # a burst of n spans (n - 1) / hz < verify_s
    n = int(120 * hz)
    values = [draw(st.floats(min_value=0.0, max_value=2.5)) for _ in range(n)]
    i = draw(st.integers(0, 5))
    while i < n - 1:
        burst = draw(st.integers(1, longest))
        for k in range(i, min(i + burst, n - 1)):
            values[k] = draw(BAD_VALUES)
        i += burst + 1 + draw(st.integers(0, 20))
    return verify_s, hz, [(k / hz, v) for k, v in enumerate(values)]


@EXAMPLES
@given(noisy_gauge_stream())
def test_outliers_shorter_than_verify_s_never_make_a_fault(
    stream: tuple[float, float, list[tuple[float, float]]],
) -> None:
    verify_s, hz, samples = stream
    cfg = gauge(
        sample_hz=hz, fault={"no_data_s": 10.0, "min": 0.0, "max": 2.5, "verify_s": verify_s}
    )
    machine = machine_for(cfg)
    events = machine.start(0.0) + machine.sample_many(samples)
    assert State.FAULT not in [tr.state for tr in events]


@EXAMPLES
@given(
    verify_s=st.sampled_from([0.0, 1.0, 3.0, 5.0]),
    hz=st.sampled_from([1.0, 2.0, 5.0]),
    cut_at=st.floats(min_value=10.0, max_value=60.0),
    reads=st.sampled_from([None, -1.0, 9.0, float("nan")]),
)
def test_a_real_disconnection_is_a_fault_within_its_configured_time(
    verify_s: float, hz: float, cut_at: float, reads: float | None
) -> None:
    """From the cut on every read fails (None: no_data_s) or is out of range (verify_s),
    and the sensor is in fault by then plus one sample period."""
    cfg = gauge(
        sample_hz=hz, fault={"no_data_s": 10.0, "min": 0.0, "max": 2.5, "verify_s": verify_s}
    )
    samples = [(k / hz, 0.3 if k / hz < cut_at else reads) for k in range(int(120 * hz))]
    machine = machine_for(cfg)
    events = machine.start(0.0) + machine.sample_many(samples)
    faults = [tr.t for tr in events if tr.state is State.FAULT]
    limit = 10.0 if reads is None else verify_s
    assert faults, "the disconnection was never reported"
    assert cut_at <= faults[0] <= cut_at + limit + 1.0 / hz + 1e-9
