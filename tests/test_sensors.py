"""The gpiozero adapters on gpiozero's own mock pins: what a pin does reaches the sink."""

from __future__ import annotations

import time
from statistics import median

import pytest
from gpiozero.pins.mock import MockFactory, MockPin, MockTriggerPin

from edge.clock import SystemClock
from edge.config import DigitalInput, EolInput, Hcsr04Input, Mcp3008Input, PulseInput
from edge.detect.calibration import linear
from edge.detect.eol import LoopState
from edge.detect.ultrasonic import distance_to_echo, echo_to_distance
from edge.sensors.adc import AdcSensor
from edge.sensors.base import Sample
from edge.sensors.digital import ContactSensor, PulseSensor
from edge.sensors.ultrasonic import UltrasonicSensor
from edge.simulate.mcp3008 import MockMCP3008

MOUNT_M = 2.5
AIR_C = 28.0


class Sink(list[Sample]):
    def __call__(self, sample: Sample) -> None:
        self.append(sample)

    @property
    def values(self) -> list[float | None]:
        return [s.value for s in self]


@pytest.mark.parametrize("active_low", [True, False])
def test_digital_level_changes_reach_the_sink_as_one_and_zero(
    mock_factory: MockFactory, active_low: bool
) -> None:
    sink = Sink()
    cfg = DigitalInput(type="digital", pin="GPIO17", active_low=active_low)
    sensor = ContactSensor("smoke", cfg, mock_factory, SystemClock(), sink)
    pin: MockPin = mock_factory.pin("GPIO17")
    sensor.start()
    if active_low:
        pin.drive_low()
        pin.drive_high()
    else:
        pin.drive_high()
        pin.drive_low()
    sensor.close()
    assert sink.values == [0.0, 1.0, 0.0]


def test_mcp3008_code_reaches_the_sink_as_the_calibrated_value(
    mock_factory: MockFactory,
) -> None:
    adc = MockMCP3008(select=0, pin_factory=mock_factory)
    calibrate = linear((0.10, 0.80), (0.0, 1000.0))
    sink = Sink()
    cfg = Mcp3008Input(type="mcp3008", channel=1)
    sensor = AdcSensor("gas", cfg, 5.0, calibrate, mock_factory, SystemClock(), sink)
    adc.set_code(1, 300)
    sensor.read()
    sensor.close()
    # A code stands for the middle of its 1/1024 slice of the reference voltage.
    one_code_ppm = 1000.0 / 0.7 / 1024
    assert sink[0].value == pytest.approx(calibrate(300.5 / 1024), abs=one_code_ppm / 2)
    assert adc.conversions == 1


def _ultrasonic(factory: MockFactory, sink: Sink, *, pings: int) -> UltrasonicSensor:
    cfg = Hcsr04Input(
        type="hcsr04", trigger="GPIO23", echo="GPIO24", mount_height_m=MOUNT_M, pings=pings
    )
    return UltrasonicSensor("air", cfg, 2.0, factory, SystemClock(), sink)


def test_hcsr04_echo_time_reaches_the_sink_as_the_water_level(mock_factory: MockFactory) -> None:
    level = 1.0
    echo: MockPin = mock_factory.pin("GPIO24")
    mock_factory.pin(
        "GPIO23",
        pin_class=MockTriggerPin,
        echo_pin=echo,
        echo_time=distance_to_echo(MOUNT_M - level, AIR_C),
    )
    sink = Sink()
    sensor = _ultrasonic(mock_factory, sink, pings=3)
    sensor.read()
    sensor.close()
    # The mock times its echo with time.sleep, which wakes late (by ~0.1 ms, by far more
    # on a busy machine); the pin's own record says how long each echo really lasted.
    highs = [s.timestamp for s in echo.states if not s.state][1:]
    assert len(highs) == 3
    assert sink[0].value == pytest.approx(
        MOUNT_M - echo_to_distance(median(highs), AIR_C), abs=1e-6
    )


def test_hcsr04_without_echo_gives_a_missing_sample_without_hanging(
    mock_factory: MockFactory,
) -> None:
    echo = mock_factory.pin("GPIO24")
    # The echo goes to a pin nobody listens to, as when the transducer sees nothing.
    nowhere = MockPin(mock_factory, echo.info)
    mock_factory.pin("GPIO23", pin_class=MockTriggerPin, echo_pin=nowhere, echo_time=0.001)
    sink = Sink()
    sensor = _ultrasonic(mock_factory, sink, pings=5)
    began = time.monotonic()
    sensor.read()
    took = time.monotonic() - began
    sensor.close()
    assert sink.values == [None]
    assert took < 2.0  # five pings that each give up after ~30 ms, and the gaps between


def test_pulse_train_reaches_the_sink_as_one_sample_per_rising_edge(
    mock_factory: MockFactory,
) -> None:
    sink = Sink()
    cfg = PulseInput(type="pulse", pin="GPIO5")
    sensor = PulseSensor("fence", cfg, mock_factory, SystemClock(), sink)
    pin: MockPin = mock_factory.pin("GPIO5")
    sensor.start()
    for _ in range(7):
        pin.drive_high()
        pin.drive_low()
    sensor.close()
    assert sink.values == [0.0] + [1.0] * 7


# ---------------------------------------------------------------- supervised loops

LOOP_INPUT = EolInput(type="eol", channel=2, eol_ohm=4700, alarm_ohm=680)


def gpiozero_fraction(code: int) -> float:
    """What gpiozero's MCP3008.value reads for a 10-bit code (its scaling, -1..1 folded)."""
    return (2 * code + 1) / 2047


def codes_around(edge_ohm: float, inclusive_below: bool) -> tuple[int, int]:
    """The last code on the low side of a band edge and the first on its high side."""
    loop = LOOP_INPUT.loop

    def below(code: int) -> bool:
        ohm = loop.ohm(gpiozero_fraction(code))
        return ohm <= edge_ohm if inclusive_below else ohm < edge_ohm

    last = max(c for c in range(1024) if below(c))
    return last, last + 1


def _edges() -> list[tuple[str, float, bool, LoopState, LoopState]]:
    _, alarm, _, normal, _ = LOOP_INPUT.loop.bands()
    return [
        ("short|alarm", alarm.low_ohm, False, LoopState.SHORT, LoopState.ALARM),
        ("alarm|between", alarm.high_ohm, True, LoopState.ALARM, LoopState.BETWEEN),
        ("between|normal", normal.low_ohm, False, LoopState.BETWEEN, LoopState.NORMAL),
        ("normal|open", normal.high_ohm, True, LoopState.NORMAL, LoopState.OPEN),
    ]


@pytest.mark.parametrize(
    ("edge", "ohm", "inclusive", "low", "high"),
    _edges(),
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_an_eol_loop_read_on_the_emulated_mcp3008_classifies_either_side_of_each_band_edge(
    mock_factory: MockFactory,
    edge: str,
    ohm: float,
    inclusive: bool,
    low: LoopState,
    high: LoopState,
) -> None:
    adc = MockMCP3008(select=0, pin_factory=mock_factory)
    sink = Sink()
    loop = LOOP_INPUT.loop
    sensor = AdcSensor("loop", LOOP_INPUT, 1.0, loop.ohm, mock_factory, SystemClock(), sink)
    below, above = codes_around(ohm, inclusive)
    states = []
    for code in (below, above):
        adc.set_code(2, code)
        sensor.read()
        value = sink[-1].value
        assert value is not None
        states.append(loop.classify(value))
    sensor.close()
    assert states == [low, high]


@pytest.mark.parametrize(("code", "state"), [(1023, LoopState.OPEN), (0, LoopState.SHORT)])
def test_an_eol_loop_at_full_scale_is_open_and_at_zero_is_short(
    mock_factory: MockFactory, code: int, state: LoopState
) -> None:
    adc = MockMCP3008(select=0, pin_factory=mock_factory)
    sink = Sink()
    loop = LOOP_INPUT.loop
    sensor = AdcSensor("loop", LOOP_INPUT, 1.0, loop.ohm, mock_factory, SystemClock(), sink)
    adc.set_code(2, code)
    sensor.read()
    sensor.close()
    assert sink[-1].value is not None and loop.classify(sink[-1].value) is state


@pytest.mark.parametrize(("normally_closed", "levels"), [(False, [0.0, 1.0]), (True, [1.0, 0.0])])
def test_a_normally_closed_contact_reads_alarm_when_its_pin_is_pulled_high(
    mock_factory: MockFactory, normally_closed: bool, levels: list[float]
) -> None:
    """NC to ground with the pull-up: closed (low) is rest, open (high, or a cut wire)
    is the alarm. The NO contact of the same pin reads the other way round."""
    sink = Sink()
    cfg = DigitalInput(
        type="digital",
        pin="GPIO17",
        active_low=not normally_closed,
        normally_closed=normally_closed,
    )
    pin: MockPin = mock_factory.pin("GPIO17")
    sensor = ContactSensor("smoke", cfg, mock_factory, SystemClock(), sink)
    sensor.start()
    pin.drive_low()  # closed to ground
    sensor.close()
    # At start the pin rests on its pull-up (high: an NC contact open, or its wire cut).
    assert sink.values == levels
