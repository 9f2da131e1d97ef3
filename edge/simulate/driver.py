"""Plays a scenario onto the mock pins in real time, beside the unchanged daemon.

Order of use: ``prepare()`` (mock hardware in place), open and start the sensor adapters,
then ``start()`` at once: a sensor that starts on the flat idle signal and only later sees
a trace's background noise can take the noise's onset for an event (STA/LTA does).
``finished`` is set once ``duration_s`` has passed; the hardware then keeps showing the
final values (pulse inputs fall quiet) until the process ends. Scenario timing goes
through the injected :class:`edge.clock.Clock`: with a ``FakeClock`` a whole scenario
plays out instantly.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from edge.clock import Clock
from edge.config import PulseInput, SensorConfig, SiagaConfig
from edge.simulate.pins import SimPins, prepare_pins
from edge.simulate.scenario import PulseTrain, Scenario, Timeline

TICK_S = 0.01
FORGET_EVERY_S = 1.0
# Clock arithmetic is float: within this of a boundary is at the boundary.
EPSILON_S = 1e-9


class Simulator:
    def __init__(
        self,
        scenario: Scenario,
        config: SiagaConfig,
        factory: MockFactory,
        clock: Clock,
        traces: Mapping[str, Sequence[tuple[float, float]]],
    ) -> None:
        scenario.check_against(config)
        self.scenario = scenario
        self.config = config
        self.factory = factory
        self.clock = clock
        self.timeline = Timeline(scenario, traces, config=config)
        self.finished = threading.Event()
        self.pins: SimPins | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rates: dict[str, float | None] = {}
        self._trains = {
            s.id: PulseTrain() for s in config.sensors if isinstance(s.input, PulseInput)
        }

    def prepare(self) -> SimPins:
        """Put the mock hardware in place; call before any sensor adapter opens its pins."""
        if Device.pin_factory is None:
            # gpiozero's software SPI bus asks for a default factory even when given one;
            # without this it would go looking for real GPIO chips.
            Device.pin_factory = self.factory
        self.pins = prepare_pins(self.config, self.factory)
        return self.pins

    def start(self) -> None:
        """Start playing from the scenario's t = 0, now."""
        if self.pins is None:
            raise RuntimeError("prepare() the pins, then open the sensors, then start()")
        if self._thread is not None:
            raise RuntimeError("a simulator plays its scenario once")
        t0 = self.clock.monotonic()
        self._thread = threading.Thread(target=self._run, args=(t0,), name="simulate", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop playing; the mock hardware stays as it is, for adapters still reading it."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def _run(self, t0: float) -> None:
        boundaries = self.timeline.boundaries()
        duration = self.timeline.duration_s
        last = forgotten = 0.0
        while not self._stop.is_set():
            t = _snap(min(self.clock.monotonic() - t0, duration), boundaries)
            self._apply(t, t - last)
            last = t
            if t - forgotten >= FORGET_EVERY_S:
                assert self.pins is not None
                self.pins.forget_history()
                forgotten = t
            if t >= duration:
                self.finished.set()
                break
            upcoming = next((b for b in boundaries if b > t), duration)
            self.clock.sleep(min(TICK_S, upcoming - t))
        # The adapters go on reading the mock pins after the end, and every read adds to
        # their history: keep trimming it, on real time since that is what memory grows on.
        while not self._stop.wait(FORGET_EVERY_S):
            assert self.pins is not None
            self.pins.forget_history()

    def _apply(self, t: float, dt: float) -> None:
        assert self.pins is not None
        for sensor in self.config.sensors:
            sim = self.timeline.value_at(sensor.id, t)
            self.pins.apply(sensor, sim)
            if sensor.id in self._trains:
                # The pulses of the tick just ended come at the rate that held during it.
                self._pulses(sensor, self._rates.get(sensor.id), dt)
                self._rates[sensor.id] = sim.value if sim.fail is None else None

    def _pulses(self, sensor: SensorConfig, rate: float | None, dt: float) -> None:
        assert self.pins is not None
        train = self._trains[sensor.id]
        if rate is None:
            train.reset()
            return
        count = train.advance(rate, dt)
        if count:
            self.pins.pulse(sensor, count)


def _snap(t: float, boundaries: Sequence[float]) -> float:
    """``t``, or the boundary it is within EPSILON_S of, so a step is never missed by a hair."""
    for b in boundaries:
        if abs(b - t) <= EPSILON_S:
            return b
    return t
