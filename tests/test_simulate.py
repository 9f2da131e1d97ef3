"""The simulator drives gpiozero's mock pins so the production adapters read the scenario."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gpiozero import MCP3008, DigitalOutputDevice
from gpiozero.pins.mock import MockFactory, MockTriggerPin

from edge.clock import Clock, FakeClock, SystemClock
from edge.config import Mcp3008Input, SiagaConfig
from edge.detect.build import calibration_for, machine_for
from edge.detect.ultrasonic import distance_to_echo
from edge.sensors import Sample, Sensor, open_sensor
from edge.sensors.adc import AdcSensor
from edge.sensors.ultrasonic import UltrasonicSensor
from edge.simulate import Scenario, ScenarioError
from edge.simulate.driver import Simulator
from edge.simulate.mcp3008 import MockMCP3008
from edge.simulate.pins import HISTORY_KEEP

SENSORS: list[dict[str, Any]] = [
    {
        "id": "smoke",
        "kind": "smoke",
        "input": {"type": "digital", "pin": "GPIO17", "active_low": True},
    },
    {
        "id": "gas",
        "kind": "smoke",
        "input": {"type": "mcp3008", "channel": 1},
        "calibration": {"raw": [0.1, 0.8], "value": [0.0, 1000.0]},
        "warning": 300.0,
        "alarm": 600.0,
    },
    {
        "id": "water",
        "kind": "water_level",
        "input": {
            "type": "hcsr04",
            "trigger": "GPIO23",
            "echo": "GPIO24",
            "mount_height_m": 2.5,
            "pings": 3,
        },
        "warning": 0.8,
        "alarm": 1.2,
    },
    {
        "id": "fence",
        "kind": "vibration",
        "input": {"type": "pulse", "pin": "GPIO5"},
        "pulses": {"window_s": 2.0, "alarm": 20},
    },
    {
        "id": "loop",
        "kind": "smoke",
        "input": {"type": "eol", "channel": 2, "eol_ohm": 4700, "alarm_ohm": 680},
        "delay_on_s": 2.0,
        "delay_off_s": 30.0,
    },
    {
        "id": "door",
        "kind": "smoke",
        "hazard": "intrusion",
        "input": {"type": "digital", "pin": "GPIO6", "normally_closed": True},
    },
]

AIR_C = 28.0  # the hcsr04 input's default air_temp_c


@pytest.fixture(scope="module")
def config() -> SiagaConfig:
    return SiagaConfig(site={"id": "lapas-test", "device": "pi-1"}, sensors=SENSORS)


class Sink(list[Sample]):
    def __call__(self, sample: Sample) -> None:
        self.append(sample)

    @property
    def values(self) -> list[float | None]:
        return [s.value for s in self]


class Rig:
    """A simulator with the adapters opened on its pins, as the daemon opens them."""

    def __init__(
        self, config: SiagaConfig, factory: MockFactory, clock: Clock, scenario: Scenario
    ) -> None:
        self.config = config
        self.sim = Simulator(scenario, config, factory, clock, {})
        self.pins = self.sim.prepare()
        self.sinks = {s.id: Sink() for s in config.sensors}
        self.sensors: dict[str, Sensor] = {
            s.id: open_sensor(s, factory, clock, self.sinks[s.id]) for s in config.sensors
        }

    def play(self, timeout: float = 5.0) -> None:
        self.sim.start()
        assert self.sim.finished.wait(timeout)

    def read_adc(self, sensor_id: str) -> float | None:
        """One sample taken now by the ADC adapter, as its sampling loop would."""
        sensor = self.sensors[sensor_id]
        assert isinstance(sensor, AdcSensor)
        sensor.read()
        return self.sinks[sensor_id][-1].value

    def read_ultrasonic(self, sensor_id: str) -> float | None:
        sensor = self.sensors[sensor_id]
        assert isinstance(sensor, UltrasonicSensor)
        sensor.read()
        return self.sinks[sensor_id][-1].value

    def close(self) -> None:
        self.sim.stop()
        for sensor in self.sensors.values():
            sensor.close()


MakeRig = Callable[..., Rig]


@pytest.fixture
def rig(mock_factory: MockFactory, config: SiagaConfig) -> Iterator[MakeRig]:
    rigs: list[Rig] = []

    def make(clock: Clock, *steps: dict[str, Any], duration_s: float = 0.2) -> Rig:
        scenario = Scenario.model_validate({"duration_s": duration_s, "step": steps})
        rigs.append(Rig(config, mock_factory, clock, scenario))
        return rigs[-1]

    yield make
    for r in rigs:
        r.close()


def test_a_contact_adapter_sees_the_scenario_smoke_steps(rig: MakeRig) -> None:
    r = rig(
        SystemClock(),
        {"at_s": 0.05, "sensor": "smoke", "value": 1},
        {"at_s": 0.15, "sensor": "smoke", "value": 0},
    )
    r.sensors["smoke"].start()
    r.play()
    assert r.sinks["smoke"].values == [0.0, 1.0, 0.0]


def test_an_active_low_contact_is_driven_low_while_active(rig: MakeRig) -> None:
    r = rig(SystemClock(), {"at_s": 0.0, "sensor": "smoke", "value": 1})
    r.play()
    assert r.pins.contacts["smoke"].state is False


def test_an_adc_adapter_reads_the_scenario_value_through_its_calibration(
    rig: MakeRig, config: SiagaConfig
) -> None:
    r = rig(SystemClock(), {"at_s": 0.0, "sensor": "gas", "value": 450.0})
    r.play()
    value = r.read_adc("gas")
    calibrate = calibration_for(config.sensor("gas"))
    one_code_ppm = calibrate(1 / 1024) - calibrate(0.0)
    assert value == pytest.approx(450.0, abs=one_code_ppm)


def test_an_ultrasonic_adapter_reads_the_scenario_water_level(
    rig: MakeRig, mock_factory: MockFactory
) -> None:
    r = rig(SystemClock(), {"at_s": 0.0, "sensor": "water", "value": 1.2})
    r.play()
    trigger: MockTriggerPin = mock_factory.pin("GPIO23")
    assert trigger.echo_time == pytest.approx(distance_to_echo(2.5 - 1.2, AIR_C))
    # The echo's edges carry exact ticks: the level is the scenario's, however late the
    # echo thread woke (on a busy machine a sleep-timed echo read tens of cm off). So
    # late that the adapter gave up is a missing sample, as on a Pi: read again then.
    levels = (r.read_ultrasonic("water") for _ in range(10))
    assert next(v for v in levels if v is not None) == pytest.approx(1.2, abs=1e-9)


def test_no_echo_makes_the_ultrasonic_adapter_report_missing_samples(rig: MakeRig) -> None:
    r = rig(SystemClock(), {"at_s": 0.0, "sensor": "water", "fail": "no_echo"})
    r.play()
    assert r.read_ultrasonic("water") is None


def test_a_pulse_rate_becomes_that_many_pulses_at_the_adapter(rig: MakeRig) -> None:
    r = rig(
        FakeClock(),
        {"at_s": 0.0, "sensor": "fence", "value": 20.0},
        {"at_s": 1.0, "sensor": "fence", "value": 0.0},
        duration_s=2.0,
    )
    r.sensors["fence"].start()
    r.play()
    assert r.sinks["fence"].values == [0.0] + [1.0] * 20


def test_finished_is_set_once_the_duration_has_passed_on_the_clock(rig: MakeRig) -> None:
    clock = FakeClock()
    r = rig(clock, duration_s=3.0)
    began = clock.monotonic()
    r.play()
    assert clock.monotonic() - began == pytest.approx(3.0)


def test_a_stuck_adc_channel_keeps_the_code_it_had_when_it_stuck(
    rig: MakeRig, config: SiagaConfig
) -> None:
    r = rig(
        FakeClock(),
        {"at_s": 0.0, "sensor": "gas", "value": 1000.0, "ramp_s": 10.0},
        {"at_s": 5.0, "sensor": "gas", "fail": "stuck"},
        duration_s=10.0,
    )
    r.play()
    gas = config.sensor("gas")
    assert isinstance(gas.input, Mcp3008Input)
    code = r.pins.adcs[0].code(gas.input.channel)
    assert calibration_for(gas)((code + 0.5) / 1024) == pytest.approx(500.0, abs=2.0)


def test_a_disconnected_adc_channel_reads_code_zero(rig: MakeRig) -> None:
    r = rig(
        FakeClock(),
        {"at_s": 0.0, "sensor": "gas", "value": 800.0},
        {"at_s": 0.1, "sensor": "gas", "fail": "disconnected"},
    )
    r.play()
    assert r.pins.adcs[0].code(1) == 0


def test_stop_ends_a_long_scenario_promptly(rig: MakeRig) -> None:
    r = rig(SystemClock(), duration_s=60.0)
    r.sim.start()
    began = time.monotonic()
    r.sim.stop()
    assert time.monotonic() - began < 0.5
    assert not r.sim.finished.is_set()


EARLY_DEVICES: dict[str, Callable[[MockFactory], Any]] = {
    "hcsr04 trigger": lambda f: DigitalOutputDevice("GPIO23", pin_factory=f),
    "mcp3008": lambda f: MCP3008(channel=1, pin_factory=f),
}


@pytest.mark.parametrize("opener", EARLY_DEVICES.values(), ids=EARLY_DEVICES.keys())
def test_pins_opened_before_the_simulation_is_prepared_are_refused(
    mock_factory: MockFactory, config: SiagaConfig, opener: Callable[[MockFactory], Any]
) -> None:
    early = opener(mock_factory)
    sim = Simulator(Scenario(duration_s=1.0), config, mock_factory, SystemClock(), {})
    with pytest.raises(RuntimeError, match="prepare the pins before opening the sensors"):
        sim.prepare()
    early.close()


def test_a_simulator_refuses_to_start_unprepared(
    mock_factory: MockFactory, config: SiagaConfig
) -> None:
    sim = Simulator(Scenario(duration_s=1.0), config, mock_factory, SystemClock(), {})
    with pytest.raises(RuntimeError, match=r"prepare\(\) the pins"):
        sim.start()


def test_a_long_simulation_does_not_hoard_pin_history(rig: MakeRig) -> None:
    r = rig(FakeClock(), {"at_s": 0.0, "sensor": "fence", "value": 50.0}, duration_s=100.0)
    r.play()
    # 50 pulses/s for 100 s is 10 000 changes; mock pins would keep every one.
    assert len(r.pins.contacts["fence"].states) <= 2 * HISTORY_KEEP + 100


def test_a_scenario_for_sensors_this_site_lacks_is_refused(
    mock_factory: MockFactory, config: SiagaConfig
) -> None:
    scenario = Scenario.model_validate(
        {"duration_s": 1.0, "step": [{"at_s": 0, "sensor": "smoke-dapur", "value": 1}]}
    )
    with pytest.raises(ScenarioError, match="no sensor 'smoke-dapur'"):
        Simulator(scenario, config, mock_factory, SystemClock(), {})


def test_the_emulated_mcp3008_answers_gpiozero_in_differential_mode(
    mock_factory: MockFactory,
) -> None:
    chip = MockMCP3008(select=0, pin_factory=mock_factory)
    chip.set_code(2, 100)
    chip.set_code(3, 700)
    plus3 = MCP3008(channel=3, differential=True, pin_factory=mock_factory)
    plus2 = MCP3008(channel=2, differential=True, pin_factory=mock_factory)
    try:
        # Channel 3 differential is CH3 - CH2; channel 2 is CH2 - CH3, floored at 0.
        assert (plus3.raw_value, plus2.raw_value) == (600, 0)
    finally:
        plus3.close()
        plus2.close()


def test_chips_on_ce0_and_ce1_answer_only_when_selected(mock_factory: MockFactory) -> None:
    ce0 = MockMCP3008(select=0, pin_factory=mock_factory)
    ce1 = MockMCP3008(select=1, pin_factory=mock_factory)
    ce0.set_code(5, 1023)
    ce1.set_code(5, 17)
    on_ce1 = MCP3008(channel=5, device=1, pin_factory=mock_factory)
    try:
        assert on_ce1.raw_value == 17
        assert (ce0.conversions, ce1.conversions) == (0, 1)
    finally:
        on_ce1.close()


def _loop_events(r: Rig, config: SiagaConfig, until_s: int) -> list[tuple[float, str, str]]:
    """The loop read once a second through the mock MCP3008 and gpiozero, as the
    scenario has it at that second, into the loop's own detection."""
    cfg = config.sensor("loop")
    machine = machine_for(cfg)
    events = machine.start(0.0)
    for t in range(until_s):
        r.pins.apply(cfg, r.sim.timeline.value_at("loop", float(t)))
        events += machine.sample(float(t), r.read_adc("loop"))
    return [(tr.t, tr.state.value, tr.reason.value) for tr in events]


@pytest.mark.parametrize(("fail", "reason"), [("cut", "open_circuit"), ("short", "short_circuit")])
def test_a_cut_or_shorted_eol_loop_is_a_fault_within_10_s_on_the_emulated_mcp3008(
    rig: MakeRig, config: SiagaConfig, fail: str, reason: str
) -> None:
    r = rig(FakeClock(), {"at_s": 10.0, "sensor": "loop", "fail": fail}, duration_s=30.0)
    events = _loop_events(r, config, 30)
    assert events[:2] == [(0.0, "starting", "startup"), (0.0, "normal", "startup")]
    assert events[2][1:] == ("fault", reason)
    assert 10.0 <= events[2][0] <= 20.0
    assert "normal" not in [state for _, state, _ in events[2:]]


def test_an_eol_loop_in_alarm_reads_its_alarm_band(rig: MakeRig, config: SiagaConfig) -> None:
    r = rig(FakeClock(), {"at_s": 5.0, "sensor": "loop", "value": 1.0}, duration_s=30.0)
    assert _loop_events(r, config, 10) == [
        (0.0, "starting", "startup"),
        (0.0, "normal", "startup"),
        (7.0, "alarm", "contact"),
    ]


def test_a_cut_eol_loop_in_a_scenario_is_full_scale_on_the_adc(rig: MakeRig) -> None:
    r = rig(FakeClock(), {"at_s": 0.0, "sensor": "loop", "fail": "cut"})
    r.play()
    assert r.pins.adcs[0].code(2) == 1023


def test_cut_and_short_apply_only_to_an_eol_loop(
    mock_factory: MockFactory, config: SiagaConfig
) -> None:
    scenario = Scenario.model_validate(
        {"duration_s": 1.0, "step": [{"at_s": 0, "sensor": "gas", "fail": "cut"}]}
    )
    with pytest.raises(ScenarioError, match="fail 'cut' applies only to an eol input"):
        Simulator(scenario, config, mock_factory, SystemClock(), {})


def test_a_disconnected_normally_closed_contact_reads_as_an_alarm(rig: MakeRig) -> None:
    r = rig(SystemClock(), {"at_s": 0.05, "sensor": "door", "fail": "disconnected"})
    r.sensors["door"].start()
    r.play()
    assert r.sinks["door"].values == [0.0, 1.0]  # at rest (closed), then the cut: alarm
