"""Local annunciation that works with no network at all: a siren and a status LED.

LED: steady on = all normal; slow blink = something needs a look (warning, fault,
starting); fast blink = an alarm. Siren: on while any alarm is unacknowledged.

Polarity: ``outputs.siren_active_low`` / ``status_led_active_low`` for relay boards that
switch on a LOW input (most cheap ones): the pins are set to "off" the moment they are
opened, so an active-low siren does not sound at start.

A siren test (``siaga-edge test --siren SECONDS``) sounds the siren and blinks the LED
fast for a bounded time, so a technician can check the wiring; it is driven by the times
the daemon passes in (:meth:`Annunciator.siren_test`, :meth:`Annunciator.tick`), never
by a clock of its own, and afterwards the outputs show the real state again.
"""

from __future__ import annotations

from dataclasses import dataclass
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
MAX_SIREN_TEST_S = 60.0
"""A siren test never lasts longer: a forgotten test must not sound all night."""


@dataclass(frozen=True, slots=True)
class SirenTest:
    """A siren test from ``start`` to ``end`` (monotonic seconds)."""

    start: float
    end: float

    @classmethod
    def begin(cls, now: float, seconds: float) -> SirenTest:
        if not 0 < seconds <= MAX_SIREN_TEST_S:
            raise ValueError(f"a siren test lasts more than 0 and at most {MAX_SIREN_TEST_S:g} s")
        return cls(now, now + seconds)

    def running(self, now: float) -> bool:
        """Until its end (a ``now`` read before it began still finds it running)."""
        return now < self.end


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
                self.siren = DigitalOutputDevice(
                    cfg.siren_pin,
                    active_high=not cfg.siren_active_low,
                    initial_value=False,
                    pin_factory=factory,
                )
            except Exception as exc:
                self.failed.append(("outputs.siren_pin", exc))
        if cfg.status_led_pin:
            try:
                self.led = LED(
                    cfg.status_led_pin,
                    active_high=not cfg.status_led_active_low,
                    initial_value=False,
                    pin_factory=factory,
                )
            except Exception as exc:
                self.failed.append(("outputs.status_led_pin", exc))
        self.pattern: Pattern | None = None
        self.siren_on = False
        self.test: SirenTest | None = None
        self._states: list[State] = []
        self._unacked = 0

    def alarm_raised(self) -> None:
        """A real alarm just happened: the siren now, before anything else is done with it."""
        if self.siren is not None and not self.siren_on:
            self.siren.on()
        self.siren_on = True

    def update(self, states: list[State], unacked_alarms: int) -> None:
        """Drive the outputs; gpiozero is touched only when something changes. During a
        siren test the real state is kept and shown again when the test ends."""
        self._states, self._unacked = list(states), unacked_alarms
        if self.test is not None:
            return
        self._drive(unacked_alarms > 0, led_pattern(states))

    def siren_test(self, now: float, seconds: float) -> float:
        """Sound the siren and blink the LED fast from ``now`` for ``seconds`` (at most
        MAX_SIREN_TEST_S; ValueError otherwise). Returns when it ends: call :meth:`tick`
        then (or earlier, :meth:`deadline`)."""
        self.test = SirenTest.begin(now, seconds)
        self._drive(True, Pattern.FAST)
        return self.test.end

    def deadline(self) -> float | None:
        """When :meth:`tick` must be called next: the end of a running siren test."""
        return None if self.test is None else self.test.end

    def tick(self, now: float) -> bool:
        """Let time pass; a siren test that is over gives the outputs back to the real
        state. True while a test is still running."""
        if self.test is None:
            return False
        if self.test.running(now):
            return True
        self.stop_test()
        return False

    def stop_test(self) -> None:
        """End a siren test now (``siaga-edge test --siren`` interrupted, a real alarm)."""
        self.test = None
        self._drive(self._unacked > 0, led_pattern(self._states))

    def _drive(self, siren: bool, pattern: Pattern) -> None:
        if self.siren is not None and siren != self.siren_on:
            self.siren.value = siren
        self.siren_on = siren
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
