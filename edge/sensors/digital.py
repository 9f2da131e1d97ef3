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
    """Emits 1.0 / 0.0 on each change, and the present level once at start."""

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
        self.device = DigitalInputDevice(
            cfg.pin, pull_up=cfg.active_low, bounce_time=None, pin_factory=factory
        )

    def start(self) -> None:
        self.device.when_activated = self._on
        self.device.when_deactivated = self._off
        level = 1.0 if self.device.is_active else 0.0
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
