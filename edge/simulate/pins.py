"""Simulated hardware behind the configured pins, on gpiozero's MockFactory.

The sensor adapters stay exactly as in production; only the far side of their pins is
simulated: an echo that comes back after the right time on an ``EchoTriggerPin``, an
emulated MCP3008 on the SPI pins, a contact level on a plain ``MockPin``. gpiozero keeps
the class of a mock pin from its first creation, so :func:`prepare_pins` must run before
any adapter opens a pin.

The mock echo's edges are stamped with the factory's ticks (:class:`EchoTriggerPin`), so
the width the adapter measures is the simulated distance's to the tick, however late a
busy machine wakes the echo thread: a ``time.sleep``-timed echo overran by milliseconds
under load, i.e. tens of centimetres of water that was not there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gpiozero.pins.mock import (
    MockFactory,
    MockPin,
    MockSPIClockPin,
    MockSPISelectPin,
    MockTriggerPin,
)

from edge.config import (
    AdcChannel,
    DigitalInput,
    EolInput,
    Hcsr04Input,
    Mcp3008Input,
    PulseInput,
    SensorConfig,
    SiagaConfig,
)
from edge.detect.ultrasonic import distance_to_echo
from edge.simulate.mcp3008 import SPI0_CLOCK, SPI0_SELECT, MockMCP3008
from edge.simulate.scenario import SimValue, adc_fraction, idle_value, loop_fraction

# An HC-SR04 cannot see closer than about 2 cm: water at the transducer reads as that.
MIN_DISTANCE_M = 0.02
HISTORY_KEEP = 1000


class ContactPin(MockPin):  # type: ignore[misc]  # gpiozero is untyped
    """A pin wired to a normally-closed contact to ground: while the contact is closed it
    holds the pin low whatever pull the adapter sets; open, the pull-up wins."""

    def __init__(self, factory: MockFactory, info: Any) -> None:
        super().__init__(factory, info)
        self.closed = True
        self.drive_low()

    def _set_pull(self, value: str) -> None:
        super()._set_pull(value)
        if self.closed:
            self.drive_low()

    def set_closed(self, closed: bool) -> None:
        self.closed = closed
        if closed:
            self.drive_low()
        elif self._pull == "up":
            self.drive_high()


class EchoTriggerPin(MockTriggerPin):  # type: ignore[misc]  # gpiozero is untyped
    """gpiozero's MockTriggerPin, but the echo pin's edges carry exact ticks: the rise is
    stamped when it happens, the fall at rise + ``echo_time``, whenever the thread wakes.
    A real HC-SR04's echo is as wide as the sound's flight, not as a scheduler allows."""

    def _echo(self) -> None:
        time.sleep(0.001)  # as MockTriggerPin: the module answers after its own burst
        pin, width = self.echo_pin, self.echo_time
        rise = self._factory.ticks()
        _stamp(pin, True, rise)
        time.sleep(width)
        _stamp(pin, False, rise + width)


def _stamp(pin: MockPin, state: bool, ticks: float) -> None:
    """Drive a mock input pin to ``state`` and report the edge as having come at ``ticks``
    (MockPin's own drive_high/drive_low stamp the moment of the call)."""
    if not pin._change_state(state):
        return
    pin._last_change = ticks  # what MockPin reports an edge at (and times its history by)
    if pin._edges in ("both", "rising" if state else "falling") and pin._when_changed:
        pin._call_when_changed()


@dataclass
class _Echo:
    """One HC-SR04: its trigger pin, the real echo pin and a pin nobody listens to."""

    trigger: EchoTriggerPin
    echo: MockPin
    nowhere: MockPin


@dataclass
class SimPins:
    """The mock hardware of every configured sensor; ``apply`` sets what it shows."""

    factory: MockFactory
    adcs: dict[int, MockMCP3008] = field(default_factory=dict)
    """Emulated MCP3008s by chip select."""
    contacts: dict[str, MockPin] = field(default_factory=dict)
    """Input pins of digital and pulse sensors, by sensor id."""
    _echoes: dict[str, _Echo] = field(default_factory=dict)

    def apply(self, sensor: SensorConfig, sim: SimValue) -> None:
        """Make the hardware of ``sensor`` show ``sim``.

        ``stuck`` leaves everything as it is: the sensor keeps showing its last value.
        For a pulse input this only handles failures (a disconnected switch rests
        inactive); the pulses themselves come from :meth:`pulse`.
        """
        if sim.fail == "stuck":
            return
        inp = sensor.input
        if isinstance(inp, DigitalInput | PulseInput):
            if isinstance(inp, PulseInput) and sim.fail is None:
                return
            active = sim.fail is None and sim.value is not None and sim.value >= 0.5
            pin = self.contacts[sensor.id]
            if isinstance(pin, ContactPin):
                # Closed to ground at rest; open on alarm or when cut: the pull-up wins.
                pin.set_closed(not active and sim.fail is None)
            else:
                self._drive(self.contacts[sensor.id], high=active != inp.active_low)
        elif isinstance(inp, Hcsr04Input):
            self._apply_echo(sensor.id, inp, sim)
        elif isinstance(inp, EolInput):
            self.adcs[inp.select].set_fraction(inp.channel, loop_fraction(inp, sim))
        else:
            assert isinstance(inp, Mcp3008Input)
            adc = self.adcs[inp.select]
            if sim.fail is not None or sim.value is None:
                adc.set_code(inp.channel, 0)  # a broken wire: the input sits at ground
            else:
                adc.set_fraction(inp.channel, adc_fraction(sensor, sim.value))

    def pulse(self, sensor: SensorConfig, count: int = 1) -> None:
        """``count`` complete pulses (active, then inactive) on a pulse sensor's pin."""
        inp = sensor.input
        if not isinstance(inp, PulseInput):
            raise ValueError(f"{sensor.id} is not a pulse input")
        pin = self.contacts[sensor.id]
        for _ in range(count):
            self._drive(pin, high=not inp.active_low)
            self._drive(pin, high=inp.active_low)

    def forget_history(self, keep: int = HISTORY_KEEP) -> None:
        """Drop all but the last ``keep`` recorded changes of every mock pin.

        A MockPin appends every change to ``states``, forever: the SPI clock of an ADC read
        at 100 Hz alone adds ~5000 entries a second, which a simulation left running for
        days must not hoard. Trimming in place keeps the newest for anyone looking.
        """
        for pin in list(self.factory.pins.values()):
            states = getattr(pin, "states", None)
            if isinstance(states, list) and len(states) > 2 * keep:
                del states[:-keep]

    def close(self) -> None:
        """Detach the emulated ADCs from the SPI pins."""
        for adc in self.adcs.values():
            adc.close()
        self.adcs.clear()

    def _apply_echo(self, sensor_id: str, inp: Hcsr04Input, sim: SimValue) -> None:
        echo = self._echoes[sensor_id]
        if sim.fail is not None or sim.value is None:
            # The echo goes to a pin nobody listens to: the real echo pin never rises.
            echo.trigger.echo_pin = echo.nowhere
            return
        echo.trigger.echo_time = _echo_time(inp, sim.value)
        echo.trigger.echo_pin = echo.echo

    @staticmethod
    def _drive(pin: MockPin, *, high: bool) -> None:
        if high:
            pin.drive_high()
        else:
            pin.drive_low()


def _echo_time(inp: Hcsr04Input, level_m: float) -> float:
    distance = max(MIN_DISTANCE_M, inp.mount_height_m - max(0.0, level_m))
    return distance_to_echo(distance, inp.air_temp_c)


def prepare_pins(config: SiagaConfig, factory: MockFactory) -> SimPins:
    """Create the mock hardware of every configured sensor, each showing its idle value.

    Run it before the adapters open their pins. Each HC-SR04 gets an ``EchoTriggerPin``
    whose echo lasts only as long as the simulated distance, never longer: the trigger
    pin joins the previous echo thread on every ping. "No echo" points the echo at a
    detached pin instead of stretching it.
    """
    pins = SimPins(factory)
    for sensor in config.sensors:
        inp = sensor.input
        if isinstance(inp, DigitalInput) and inp.normally_closed:
            pins.contacts[sensor.id] = _wired(factory, inp.pin, ContactPin, sensor.id)
        elif isinstance(inp, DigitalInput | PulseInput):
            pins.contacts[sensor.id] = factory.pin(inp.pin)
        elif isinstance(inp, Hcsr04Input):
            echo = factory.pin(inp.echo)
            trigger = _wired(
                factory,
                inp.trigger,
                EchoTriggerPin,
                sensor.id,
                echo_pin=echo,
                echo_time=_echo_time(inp, idle_value(sensor)),
            )
            # Same pin info, but not registered with the factory: no device can open it.
            pins._echoes[sensor.id] = _Echo(trigger, echo, MockPin(factory, echo.info))
        elif isinstance(inp, AdcChannel) and inp.select not in pins.adcs:
            _wired(factory, SPI0_CLOCK, MockSPIClockPin, sensor.id)
            _wired(factory, SPI0_SELECT[inp.select], MockSPISelectPin, sensor.id)
            pins.adcs[inp.select] = MockMCP3008(inp.select, pin_factory=factory)
    for sensor in config.sensors:
        pins.apply(sensor, SimValue(idle_value(sensor)))
    return pins


def _wired(factory: MockFactory, name: str, cls: type, sensor_id: str, **kwargs: object) -> Any:
    """The mock pin ``name`` of class ``cls``, refusing one something opened first."""
    pin = factory.pin(name, pin_class=cls, **kwargs)
    if not isinstance(pin, cls):
        raise RuntimeError(
            f"{sensor_id}: pin {name} was opened before the simulation could wire it; "
            "prepare the pins before opening the sensors"
        )
    return pin
