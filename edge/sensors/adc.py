"""An analog channel through an MCP3008 ADC on SPI0, sampled at ``sample_hz``.

A supervised (end-of-line) loop is read the same way; its calibration turns the ADC
fraction into the loop's resistance."""

from __future__ import annotations

from collections.abc import Callable

from gpiozero import MCP3008
from gpiozero.pins import Factory

from edge.clock import Clock
from edge.config import AdcChannel
from edge.sensors.base import Sample, SampleSink, SamplingLoop


class AdcSensor:
    def __init__(
        self,
        sensor_id: str,
        cfg: AdcChannel,
        sample_hz: float,
        calibrate: Callable[[float], float],
        factory: Factory | None,
        clock: Clock,
        sink: SampleSink,
    ) -> None:
        self.sensor_id = sensor_id
        self._calibrate = calibrate
        self._clock = clock
        self._sink = sink
        self.device = MCP3008(channel=cfg.channel, device=cfg.select, pin_factory=factory)
        self._loop = SamplingLoop(sensor_id, sample_hz, self.read, clock)

    def read(self) -> None:
        t = self._clock.monotonic()
        try:
            raw = float(self.device.value)
        except Exception:  # an SPI error is a missing sample; supervision makes it a fault
            self._sink(Sample(self.sensor_id, t, None, None))
            return
        self._sink(Sample(self.sensor_id, t, self._calibrate(raw), raw))

    def start(self) -> None:
        self._loop.start()

    def close(self) -> None:
        self._loop.stop()
        self.device.close()
