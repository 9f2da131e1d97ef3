"""Scenario files and the pure timeline that run --simulate, demo and drill share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.config import PulseInput, SiagaConfig, load_config
from edge.detect.build import calibration_for, machine_for
from edge.detect.types import Reason, State
from edge.simulate import (
    DEMO_SCENARIO,
    PulseTrain,
    Scenario,
    ScenarioError,
    SimValue,
    Timeline,
    idle_value,
    load_scenario,
    sensed_value,
)

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "edge" / "data" / "config.example.toml"

CLI_MD_EXAMPLE = """
duration_s = 60.0

[[step]]
at_s = 5.0
sensor = "smoke-dapur"
value = 1.0

[[step]]
at_s = 10.0
sensor = "air-selokan"
value = 1.5
ramp_s = 30.0

[[trace]]
at_s = 20.0
sensor = "getar-fondasi"
file = "quake.csv"

[[step]]
at_s = 40.0
sensor = "air-selokan"
fail = "no_echo"
"""


@pytest.fixture(scope="module")
def config() -> SiagaConfig:
    return load_config(EXAMPLE_CONFIG)


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def scenario(*steps: dict[str, Any], traces: tuple[dict[str, Any], ...] = ()) -> Scenario:
    return Scenario.model_validate({"duration_s": 100.0, "step": steps, "trace": traces})


def timeline(s: Scenario, traces: dict[str, list[tuple[float, float]]] | None = None) -> Timeline:
    return Timeline(s, traces or {})


def read(t: Timeline, sensor: str, at: float) -> tuple[object, object]:
    sim = t.value_at(sensor, at)
    return sim.value, sim.fail


# ---------------------------------------------------------------- the file


def test_the_example_of_cli_md_loads(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, CLI_MD_EXAMPLE))
    assert s.duration_s == 60.0
    assert [(st.sensor, st.value, st.fail, st.ramp_s) for st in s.steps] == [
        ("smoke-dapur", 1.0, None, None),
        ("air-selokan", 1.5, None, 30.0),
        ("air-selokan", None, "no_echo", None),
    ]
    assert [(tr.at_s, tr.sensor, tr.file) for tr in s.traces] == [
        (20.0, "getar-fondasi", "quake.csv")
    ]
    assert s.source == tmp_path / "s.toml"


def test_an_unknown_key_is_refused_naming_file_and_step(tmp_path: Path) -> None:
    path = write(tmp_path, CLI_MD_EXAMPLE.replace("ramp_s = 30.0", "ramp = 30.0"))
    with pytest.raises(ScenarioError, match=r"s\.toml: step\[1\]\(air-selokan\)\.ramp: Extra"):
        load_scenario(path)


def test_a_step_with_both_value_and_fail_is_refused_naming_the_step(tmp_path: Path) -> None:
    path = write(tmp_path, CLI_MD_EXAMPLE.replace('fail = "no_echo"', 'fail = "stuck"\nvalue = 1'))
    with pytest.raises(ScenarioError, match=r"step\[2\]\(air-selokan\): a step sets either"):
        load_scenario(path)


def test_an_unknown_fail_kind_is_refused_naming_the_step(tmp_path: Path) -> None:
    path = write(tmp_path, CLI_MD_EXAMPLE.replace('"no_echo"', '"on_fire"'))
    with pytest.raises(ScenarioError, match=r"step\[2\]\(air-selokan\)\.fail: Input should be"):
        load_scenario(path)


def test_a_ramp_without_a_value_is_refused() -> None:
    with pytest.raises(ValueError, match="ramp_s needs a value"):
        scenario({"at_s": 1, "sensor": "a", "fail": "stuck", "ramp_s": 2})


def test_a_change_after_the_end_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, CLI_MD_EXAMPLE.replace("at_s = 40.0", "at_s = 61.0"))
    with pytest.raises(ScenarioError, match=r"step\[2\]: at_s 61 is after duration_s 60"):
        load_scenario(path)


def test_two_changes_to_one_sensor_at_one_instant_are_refused() -> None:
    with pytest.raises(ValueError, match=r"step\[0\] and trace\[0\] both change a at 5 s"):
        scenario(
            {"at_s": 5, "sensor": "a", "value": 1},
            traces=({"at_s": 5, "sensor": "a", "file": "x.csv"},),
        )


def test_a_file_that_is_not_toml_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"s\.toml: not valid TOML"):
        load_scenario(write(tmp_path, "duration_s = \n"))


def test_a_missing_scenario_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope\.toml: no such file"):
        load_scenario(tmp_path / "nope.toml")


def test_trace_files_load_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "q.csv").write_text("t_s,value\n0,0.1\n1,0.2\n")
    text = '[[trace]]\nat_s = 0\nsensor = "getar-fondasi"\nfile = "traces/q.csv"\n'
    s = load_scenario(write(tmp_path, "duration_s = 5\n" + text))
    assert s.load_traces() == {"traces/q.csv": [(0.0, 0.1), (1.0, 0.2)]}


def test_a_bad_trace_file_is_refused_naming_the_trace_and_its_line(tmp_path: Path) -> None:
    (tmp_path / "q.csv").write_text("t_s,value\n0,0.1\n0,0.2\n")
    text = 'duration_s = 5\n[[trace]]\nat_s = 0\nsensor = "getar-fondasi"\nfile = "q.csv"\n'
    s = load_scenario(write(tmp_path, text))
    with pytest.raises(ScenarioError, match=r"trace\[0\]\(getar-fondasi\)\.file: .*q\.csv, line 3"):
        s.load_traces()


# ---------------------------------------------------------------- against a config


def test_check_against_refuses_an_unknown_sensor(config: SiagaConfig) -> None:
    s = scenario({"at_s": 1, "sensor": "smoke-dpur", "value": 1})
    with pytest.raises(ScenarioError, match=r"step\[0\]\(smoke-dpur\): no sensor 'smoke-dpur'"):
        s.check_against(config)


def test_check_against_refuses_no_echo_on_a_sensor_without_echo(config: SiagaConfig) -> None:
    s = scenario({"at_s": 1, "sensor": "smoke-gudang", "fail": "no_echo"})
    with pytest.raises(ScenarioError, match=r"'no_echo' applies only to an hcsr04 input"):
        s.check_against(config)


def test_check_against_refuses_a_digital_value_other_than_0_or_1(config: SiagaConfig) -> None:
    s = scenario({"at_s": 1, "sensor": "smoke-dapur", "value": 0.5})
    with pytest.raises(ScenarioError, match="a digital input reads 1"):
        s.check_against(config)


def test_check_against_refuses_water_above_the_sensor(config: SiagaConfig) -> None:
    s = scenario({"at_s": 1, "sensor": "air-selokan", "value": 3.0})
    with pytest.raises(ScenarioError, match=r"mount_height_m 2\.5"):
        s.check_against(config)


def test_check_against_lists_every_problem_at_once(config: SiagaConfig) -> None:
    s = scenario(
        {"at_s": 1, "sensor": "nobody", "value": 1},
        {"at_s": 2, "sensor": "getar-pagar", "value": -1},
    )
    with pytest.raises(ScenarioError) as info:
        s.check_against(config)
    assert [where for where, _ in info.value.problems] == [
        "step[0](nobody)",
        "step[1](getar-pagar)",
    ]


# ---------------------------------------------------------------- the timeline


def test_before_any_step_a_sensor_reads_its_idle_value() -> None:
    t = timeline(scenario({"at_s": 10, "sensor": "a", "value": 5}))
    assert t.value_at("a", 9.999) == SimValue(0.0)


def test_idle_analog_sits_a_margin_inside_its_fault_range(config: SiagaConfig) -> None:
    water = config.sensor("air-selokan")  # mount_height_m = 2.5
    water = water.model_copy(update={"fault": water.fault.model_copy(update={"min": 0.0})})
    assert idle_value(water) == pytest.approx(0.02 * 2.5)


def test_idle_analog_is_zero_when_zero_is_well_inside_its_fault_range(
    config: SiagaConfig,
) -> None:
    assert idle_value(config.sensor("smoke-gudang")) == 0.0  # fault.min = -50 ppm
    assert idle_value(config.sensor("air-selokan")) == 0.0  # fault.min = -0.10 m
    assert idle_value(config.sensor("getar-fondasi")) == 0.0  # no fault limits


def test_idle_digital_and_pulse_inputs_are_inactive(config: SiagaConfig) -> None:
    assert idle_value(config.sensor("smoke-dapur")) == 0.0
    assert idle_value(config.sensor("getar-pagar")) == 0.0


def test_with_a_config_a_sensor_not_in_the_scenario_reads_its_idle_value(
    config: SiagaConfig,
) -> None:
    t = Timeline(scenario(), {}, config=config)
    assert t.value_at("getar-fondasi", 50.0) == SimValue(0.0)


def test_a_step_holds_its_value_until_the_next_step() -> None:
    t = timeline(
        scenario({"at_s": 2, "sensor": "a", "value": 1}, {"at_s": 7, "sensor": "a", "value": 0})
    )
    assert [t.value_at("a", x).value for x in (2.0, 6.999, 7.0, 99.0)] == [1.0, 1.0, 0.0, 0.0]


def test_a_ramp_moves_linearly_from_the_held_value_to_its_target() -> None:
    t = timeline(
        scenario(
            {"at_s": 0, "sensor": "a", "value": 0.2},
            {"at_s": 10, "sensor": "a", "value": 1.2, "ramp_s": 20},
        )
    )
    values = [t.value_at("a", x).value for x in (10.0, 15.0, 20.0, 30.0, 50.0)]
    assert values == pytest.approx([0.2, 0.45, 0.7, 1.2, 1.2])


def test_a_ramp_cut_short_starts_the_next_ramp_from_where_it_got() -> None:
    t = timeline(
        scenario(
            {"at_s": 0, "sensor": "a", "value": 1.0, "ramp_s": 10},
            {"at_s": 5, "sensor": "a", "value": 0.0, "ramp_s": 5},
        )
    )
    assert t.value_at("a", 5.0).value == pytest.approx(0.5)
    assert t.value_at("a", 7.5).value == pytest.approx(0.25)


def test_a_trace_plays_its_samples_from_at_s_holding_each() -> None:
    samples = [(0.0, 0.1), (0.5, 0.3), (1.0, -0.2)]
    t = timeline(
        scenario(traces=({"at_s": 4, "sensor": "v", "file": "q.csv"},)), {"q.csv": samples}
    )
    assert [t.value_at("v", x).value for x in (3.9, 4.0, 4.49, 4.5, 4.99, 5.0, 60.0)] == [
        0.0,
        0.1,
        0.1,
        0.3,
        0.3,
        -0.2,
        -0.2,
    ]


def test_a_later_step_overrides_a_playing_trace() -> None:
    samples = [(0.0, 0.1), (10.0, 0.3)]
    t = timeline(
        scenario(
            {"at_s": 5, "sensor": "v", "value": 2.0},
            traces=({"at_s": 0, "sensor": "v", "file": "q.csv"},),
        ),
        {"q.csv": samples},
    )
    assert [t.value_at("v", x).value for x in (4.0, 5.0, 20.0)] == [0.1, 2.0, 2.0]


def test_a_stuck_sensor_reads_its_value_at_the_moment_it_stuck() -> None:
    t = timeline(
        scenario(
            {"at_s": 0, "sensor": "a", "value": 1.0, "ramp_s": 10},
            {"at_s": 4, "sensor": "a", "fail": "stuck"},
        )
    )
    assert read(t, "a", 4.0) == (pytest.approx(0.4), "stuck")
    assert read(t, "a", 9.0) == (pytest.approx(0.4), "stuck")


@pytest.mark.parametrize("fail", ["no_echo", "disconnected"])
def test_a_sensor_that_cannot_read_has_no_value(fail: str) -> None:
    t = timeline(
        scenario({"at_s": 0, "sensor": "a", "value": 1.0}, {"at_s": 4, "sensor": "a", "fail": fail})
    )
    assert t.value_at("a", 3.99) == SimValue(1.0)
    assert read(t, "a", 4.0) == (None, fail)


def test_the_measured_value_goes_on_under_a_failure_and_a_later_step_ends_it() -> None:
    t = timeline(
        scenario(
            {"at_s": 0, "sensor": "a", "value": 1.0, "ramp_s": 10},
            {"at_s": 2, "sensor": "a", "fail": "no_echo"},
            {"at_s": 6, "sensor": "a", "value": 0.0, "ramp_s": 6},
        )
    )
    assert t.value_at("a", 5.0) == SimValue(None, "no_echo")
    assert read(t, "a", 6.0) == (pytest.approx(0.6), None)  # where the water got to
    assert read(t, "a", 9.0) == (pytest.approx(0.3), None)


def test_boundaries_are_the_changes_the_ramp_ends_and_the_end() -> None:
    t = timeline(
        scenario(
            {"at_s": 2, "sensor": "a", "value": 1.0, "ramp_s": 3},
            {"at_s": 90, "sensor": "b", "value": 1.0, "ramp_s": 30},
            traces=({"at_s": 1, "sensor": "c", "file": "q.csv"},),
        ),
        {"q.csv": [(0.0, 1.0)]},
    )
    assert t.boundaries() == [1.0, 2.0, 5.0, 90.0, 100.0]


# ---------------------------------------------------------------- what detection is fed


def test_a_disconnected_adc_channel_reads_its_calibration_of_code_zero(
    config: SiagaConfig,
) -> None:
    gas = config.sensor("smoke-gudang")
    assert sensed_value(gas, SimValue(None, "disconnected")) == calibration_for(gas)(0.0)


def test_an_adc_value_beyond_full_scale_saturates(config: SiagaConfig) -> None:
    gas = config.sensor("smoke-gudang")
    assert sensed_value(gas, SimValue(5000.0)) == pytest.approx(calibration_for(gas)(1.0))


def test_an_ultrasonic_sensor_without_echo_gives_no_sample(config: SiagaConfig) -> None:
    assert sensed_value(config.sensor("air-selokan"), SimValue(None, "no_echo")) is None


def test_a_disconnected_contact_rests_inactive(config: SiagaConfig) -> None:
    assert sensed_value(config.sensor("smoke-dapur"), SimValue(None, "disconnected")) == 0.0


def test_a_pulse_rate_becomes_whole_pulses_whatever_the_tick() -> None:
    train = PulseTrain()
    assert sum(train.advance(2.5, 0.01) for _ in range(200)) == 5


# ---------------------------------------------------------------- the built-in demo


def test_the_demo_scenario_fits_the_example_config(config: SiagaConfig) -> None:
    s = load_scenario(DEMO_SCENARIO)
    s.check_against(config)
    assert set(s.sensors) == {c.id for c in config.sensors}
    assert s.load_traces().keys() == {"quake.csv", "door-slam.csv"}


def test_the_demo_quake_itself_triggers_the_foundation_sta_lta(config: SiagaConfig) -> None:
    """Fed at 100 Hz from t = 0, the warning comes at the P-wave (~4.5 s into the record),
    not at the start of the recording, and the shaking then reaches the alarm level."""
    s = load_scenario(DEMO_SCENARIO)
    t = Timeline(s, s.load_traces(), config=config)
    sensor = config.sensor("getar-fondasi")
    assert not isinstance(sensor.input, PulseInput)
    machine = machine_for(sensor)
    out = machine.start(0.0)
    for i in range(int(20 * sensor.sample_hz)):
        at = i / sensor.sample_hz
        out += machine.sample(at, sensed_value(sensor, t.value_at(sensor.id, at)))
    changes = [(x.state, x.reason) for x in out if x.state in (State.WARNING, State.ALARM)]
    assert changes == [(State.WARNING, Reason.STA_LTA), (State.ALARM, Reason.LEVEL)]
    first = next(x.t for x in out if x.state is State.WARNING)
    assert 4.0 < first < 6.0
