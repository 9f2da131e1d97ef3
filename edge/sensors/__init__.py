"""gpiozero adapters: turn pins into timestamped samples for the detection core.

Callbacks only timestamp and enqueue (a slow gpiozero callback loses edges); sampled
inputs run one small thread each. Nothing here decides anything.
"""

from edge.sensors.base import Sample, SampleSink, Sensor
from edge.sensors.factory import open_hint, open_sensor, pin_factory

__all__ = ["Sample", "SampleSink", "Sensor", "open_hint", "open_sensor", "pin_factory"]
