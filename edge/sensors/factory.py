"""Choosing a pin factory and opening the right adapter for each configured sensor."""

from __future__ import annotations

from gpiozero.pins import Factory

from edge.clock import Clock
from edge.config import (
    AdcChannel,
    DigitalInput,
    Hcsr04Input,
    PinFactoryName,
    PulseInput,
    SensorConfig,
)
from edge.detect.build import calibration_for
from edge.sensors.adc import AdcSensor
from edge.sensors.base import SampleSink, Sensor
from edge.sensors.digital import ContactSensor, PulseSensor
from edge.sensors.ultrasonic import UltrasonicSensor


def pin_factory(name: PinFactoryName) -> Factory | None:
    """The configured gpiozero pin factory; None lets gpiozero pick (lgpio on a Pi)."""
    if name is PinFactoryName.DEFAULT:
        return None
    if name is PinFactoryName.MOCK:
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    if name is PinFactoryName.LGPIO:
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    if name is PinFactoryName.RPIGPIO:
        from gpiozero.pins.rpigpio import RPiGPIOFactory

        return RPiGPIOFactory()
    if name is PinFactoryName.PIGPIO:
        from gpiozero.pins.pigpio import PiGPIOFactory

        return PiGPIOFactory()
    from gpiozero.pins.native import NativeFactory

    return NativeFactory()


def open_hint(error: BaseException) -> str:
    """What a technician should look at when a sensor's pins or bus cannot be opened."""
    name = type(error).__name__
    text = str(error).lower()
    if name == "BadPinFactory" or "pin factory" in text:
        return (
            "gpiozero found no GPIO library: on a Pi install python3-lgpio (deploy/install.sh "
            "makes the venv see it), or set gpio.pin_factory"
        )
    if "spidev" in text or "spi" in name.lower():
        return "enable SPI for the MCP3008: dtparam=spi=on in /boot/firmware/config.txt, reboot"
    if isinstance(error, PermissionError):
        return "the service user needs the gpio and spi groups (deploy/install.sh adds them)"
    if "in use" in text or "busy" in text or name == "GPIOPinInUse":
        return "another program (or another sensor in this config) holds this pin"
    return "check the wiring table in docs/operations.md and the pin names in the config"


def open_sensor(
    cfg: SensorConfig, factory: Factory | None, clock: Clock, sink: SampleSink
) -> Sensor:
    inp = cfg.input
    if isinstance(inp, PulseInput):
        return PulseSensor(cfg.id, inp, factory, clock, sink)
    if isinstance(inp, DigitalInput):
        return ContactSensor(cfg.id, inp, factory, clock, sink)
    if isinstance(inp, AdcChannel):
        return AdcSensor(cfg.id, inp, cfg.sample_hz, calibration_for(cfg), factory, clock, sink)
    assert isinstance(inp, Hcsr04Input)
    return UltrasonicSensor(cfg.id, inp, cfg.sample_hz, factory, clock, sink)
