"""A contact input: a smoke detector's alarm relay, an MQ module's DO pin.

gpiozero's own ``bounce_time`` is off: it means different things on different pin
backends and MockPin ignores it. Bounce is filtered in the core, on timestamps.
"""

from __future__ import annotations

from gpiozero import DigitalInputDevice
from gpiozero.pins import Factory

from edge.clock import Clock
from edge.config import DigitalInput, PulseInput
from edge.sensors.base import Sample, SampleSink


class ContactSensor:
    """Emits 1.0 / 0.0 on each change, and the present level once at start.

    A normally-closed contact (``normally_closed``) is wired to ground with the pull-up
    on: closed (pin low) is normal, open (pin high: the detector, or a cut wire) is 1.0.
    """

    def __init__(
        self,
        sensor_id: str,
        cfg: DigitalInput | PulseInput,
        factory: Factory | None,
        clock: Clock,
        sink: SampleSink,
    ) -> None:
        self.sensor_id = sensor_id
        self._clock = clock
        self._sink = sink
        closed = isinstance(cfg, DigitalInput) and cfg.normally_closed
        pull_up = cfg.pull_up if isinstance(cfg, DigitalInput) else cfg.active_low
        self.device = DigitalInputDevice(
            cfg.pin, pull_up=pull_up, bounce_time=None, pin_factory=factory
        )
        # gpiozero calls a pulled-up pin "active" when low: for an NC contact that is rest.
        self._inverted = closed

    def start(self) -> None:
        on, off = (self._off, self._on) if self._inverted else (self._on, self._off)
        self.device.when_activated = on
        self.device.when_deactivated = off
        level = 1.0 if self.device.is_active != self._inverted else 0.0
        self._sink(Sample(self.sensor_id, self._clock.monotonic(), level, level))

    def _on(self) -> None:
        self._sink(Sample(self.sensor_id, self._clock.monotonic(), 1.0, 1.0))

    def _off(self) -> None:
        self._sink(Sample(self.sensor_id, self._clock.monotonic(), 0.0, 0.0))

    def close(self) -> None:
        self.device.close()


class PulseSensor(ContactSensor):
    """A vibration switch: each rising edge is one pulse (1.0); falling edges are not sent.

    At start it sends one 0.0 ("no pulse yet") so the sensor can leave ``starting``.
    """

    def start(self) -> None:
        self.device.when_activated = self._on
        self._sink(Sample(self.sensor_id, self._clock.monotonic(), 0.0, 0.0))
