"""Local annunciation that works with no network at all: a siren and a status LED.

LED: steady on = all normal; slow blink = something needs a look (warning, fault,
starting); fast blink = an alarm. Siren: on while any alarm is unacknowledged.
"""

from __future__ import annotations

from enum import Enum

from gpiozero import LED, DigitalOutputDevice
from gpiozero.pins import Factory

from edge.config import OutputsConfig
from edge.detect.types import State


class Pattern(Enum):
    STEADY = "steady"
    SLOW = "slow"
    FAST = "fast"


SLOW_S = 0.5
FAST_S = 0.1


def led_pattern(states: list[State]) -> Pattern:
    if State.ALARM in states:
        return Pattern.FAST
    if any(s in (State.WARNING, State.FAULT, State.STARTING) for s in states):
        return Pattern.SLOW
    return Pattern.STEADY


class Annunciator:
    """The siren and the LED. One that cannot be opened is left out, and named in
    ``failed`` (field, error) for the daemon to report: the rest still works."""

    def __init__(self, cfg: OutputsConfig, factory: Factory | None) -> None:
        self.failed: list[tuple[str, BaseException]] = []
        self.siren: DigitalOutputDevice | None = None
        self.led: LED | None = None
        if cfg.siren_pin:
            try:
                self.siren = DigitalOutputDevice(cfg.siren_pin, pin_factory=factory)
            except Exception as exc:
                self.failed.append(("outputs.siren_pin", exc))
        if cfg.status_led_pin:
            try:
                self.led = LED(cfg.status_led_pin, pin_factory=factory)
            except Exception as exc:
                self.failed.append(("outputs.status_led_pin", exc))
        self.pattern: Pattern | None = None
        self.siren_on = False

    def alarm_raised(self) -> None:
        """A real alarm just happened: the siren now, before anything else is done with it."""
        if self.siren is not None and not self.siren_on:
            self.siren.on()
        self.siren_on = True

    def update(self, states: list[State], unacked_alarms: int) -> None:
        """Drive the outputs; gpiozero is touched only when something changes."""
        siren = unacked_alarms > 0
        if self.siren is not None and siren != self.siren_on:
            self.siren.value = siren
        self.siren_on = siren
        pattern = led_pattern(states)
        if self.led is not None and pattern is not self.pattern:
            if pattern is Pattern.STEADY:
                self.led.on()
            else:
                period = SLOW_S if pattern is Pattern.SLOW else FAST_S
                self.led.blink(on_time=period, off_time=period)
        self.pattern = pattern

    def close(self) -> None:
        for device in (self.siren, self.led):
            if device is not None:
                device.close()
