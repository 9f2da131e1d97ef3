"""HC-SR04 looking down at water: a burst of pings per sample, never blocking.

gpiozero's DistanceSensor waits forever when no echo ever comes back (gpiozero issues
903 and 1071). Here every wait has a deadline: a missing echo is a missing ping, a
sample without enough pings is a missing sample, and supervision turns a run of those
into a ``no_data`` fault.
"""

from __future__ import annotations

import threading

from gpiozero import DigitalInputDevice, DigitalOutputDevice
from gpiozero.pins import Factory

from edge.clock import Clock
from edge.config import Hcsr04Input
from edge.detect.ultrasonic import distance_to_echo, level_from_pings
from edge.sensors.base import Sample, SampleSink, SamplingLoop

TRIGGER_PULSE_S = 10e-6
PING_GAP_S = 0.06  # the datasheet's measurement cycle: let the last echo die away
START_TIMEOUT_S = 0.005  # the module answers a trigger within ~0.5 ms


class UltrasonicSensor:
    def __init__(
        self,
        sensor_id: str,
        cfg: Hcsr04Input,
        sample_hz: float,
        factory: Factory | None,
        clock: Clock,
        sink: SampleSink,
    ) -> None:
        self.sensor_id = sensor_id
        self.cfg = cfg
        self._clock = clock
        self._sink = sink
        self._factory = factory
        self.trigger = DigitalOutputDevice(cfg.trigger, pin_factory=factory)
        self.echo = DigitalInputDevice(cfg.echo, pull_up=False, pin_factory=factory)
        self._rise: float | None = None
        self._fall: float | None = None
        self._done = threading.Event()
        self._started = threading.Event()
        self.echo.pin.when_changed = self._edge
        self._max_echo_s = distance_to_echo(cfg.max_distance_m, cfg.air_temp_c)
        self._loop = SamplingLoop(sensor_id, sample_hz, self.read, clock)

    def _edge(self, ticks: float, state: bool) -> None:
        if state:
            self._rise, self._fall = ticks, None
            self._started.set()
        elif self._rise is not None:
            self._fall = ticks
            self._done.set()

    def ping(self) -> float | None:
        """One echo time in seconds, or None when no (complete) echo came back in time."""
        self._rise = self._fall = None
        self._started.clear()
        self._done.clear()
        self.trigger.on()
        self._clock.sleep(TRIGGER_PULSE_S)
        self.trigger.off()
        if not self._started.wait(START_TIMEOUT_S + self._max_echo_s):
            return None
        if not self._done.wait(self._max_echo_s * 1.2 + 0.005):
            return None
        rise, fall = self._rise, self._fall
        if rise is None or fall is None:
            return None
        if self._factory is not None:
            return float(self._factory.ticks_diff(fall, rise))
        return fall - rise

    def read(self) -> None:
        t = self._clock.monotonic()
        echoes: list[float | None] = []
        for i in range(self.cfg.pings):
            if i:
                self._clock.sleep(PING_GAP_S)
            echoes.append(self.ping())
        level = level_from_pings(
            echoes,
            mount_height_m=self.cfg.mount_height_m,
            air_temp_c=self.cfg.air_temp_c,
            max_distance_m=self.cfg.max_distance_m,
        )
        raw = None if level is None else self.cfg.mount_height_m - level
        self._sink(Sample(self.sensor_id, t, level, raw))

    def start(self) -> None:
        self._loop.start()

    def close(self) -> None:
        self._loop.stop()
        self.echo.pin.when_changed = None
        self.trigger.close()
        self.echo.close()
