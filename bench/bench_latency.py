"""Alert latency: pin edge -> event received by a subscriber, minus the configured delay_on_s.

Three paths on one mosquitto, measured in interleaved rounds in one process so a noisy
machine hits all of them alike, each timed from the pin edge (or publish) here to the
arrival at one subscriber in its own process, as the control room is on its own machine:

- floor: a bare paho QoS 1 publish -> subscribe round trip;
- naive: ``bench/naive_alert.py``, a gpiozero callback that publishes directly;
- siaga: the in-process :class:`edge.daemon.Daemon` on gpiozero mock pins (sample queued,
  core thread, detection, outbox commit with fsync, MQTT), structlog rendering JSON lines
  to /dev/null as under journald; and once more with logging filtered out.

Then the daemon with a realistic delay_on_s (the core thread must wake at the deadline),
and an analog smoke sensor on an emulated MCP3008 (the wait for the next sample is part
of what a user sees, so it is included).

    PYTHONPATH=. python -m bench.bench_latency [--cycles 1000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import subprocess
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import paho.mqtt.client as paho
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from paho.mqtt.enums import CallbackAPIVersion

from bench import naive_alert
from bench.common import (
    build_config,
    child_env,
    config_dict,
    python,
    quiet_logs,
    ratio,
    smoke_sensor,
    summary_ms,
    table,
    wait_until,
    write_result,
)
from edge.clock import SystemClock
from edge.daemon import Daemon
from edge.localbroker import Mosquitto

FLOOR_TOPIC = "bench/floor"
RECV_TIMEOUT_S = 10.0
GAP_S = 0.005  # idle between alarms, so each one starts from a quiet system


class Recorder:
    """The subscriber, in its own process (``bench/sub_stamps.py``): each topic's arrivals
    as (monotonic time at the subscriber, payload) on a queue."""

    def __init__(self, port: int, topics: list[str]) -> None:
        self.queues: dict[str, queue.SimpleQueue[tuple[float, bytes]]] = {
            t: queue.SimpleQueue() for t in topics
        }
        self.proc = subprocess.Popen(
            [python(), "-m", "bench.sub_stamps", str(port), *topics],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(),
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != b"READY":
            raise RuntimeError("recorder could not subscribe")
        self._reader = threading.Thread(target=self._read, name="recorder", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            stamp, topic, payload = line.rstrip(b"\n").split(b" ", 2)
            q = self.queues.get(topic.decode())
            if q is not None:
                q.put((int(stamp) / 1e9, payload))

    def next(self, topic: str, timeout: float = RECV_TIMEOUT_S) -> tuple[float, bytes]:
        return self.queues[topic].get(timeout=timeout)

    def drain(self, topic: str) -> None:
        q = self.queues[topic]
        while not q.empty():
            q.get_nowait()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


class Floor:
    """Bare paho: publish QoS 1, time until the recorder has it."""

    def __init__(self, port: int, rec: Recorder, client_id: str = "bench-floor") -> None:
        self.rec = rec
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_until(self.client.is_connected, 10)

    def cycle(self) -> float:
        payload = json.dumps({"sensor": "smoke-dapur", "state": "alarm", "ts": time.time()})
        t0 = time.monotonic()
        self.client.publish(FLOOR_TOPIC, payload, qos=1)
        t1, _ = self.rec.next(FLOOR_TOPIC)
        return t1 - t0

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class DurableFloor(Floor):
    """The floor plus the one thing a durable alert cannot skip: an fdatasync before the
    publish (a 4 KB write, one WAL page, on the store's file system)."""

    def __init__(self, port: int, rec: Recorder, path: Path) -> None:
        super().__init__(port, rec, client_id="bench-durable-floor")
        self.file = path.open("wb")

    def cycle(self) -> float:
        payload = json.dumps({"sensor": "smoke-dapur", "state": "alarm", "ts": time.time()})
        t0 = time.monotonic()
        self.file.write(b"\0" * 4096)
        self.file.flush()
        os.fdatasync(self.file.fileno())
        self.client.publish(FLOOR_TOPIC, payload, qos=1)
        t1, _ = self.rec.next(FLOOR_TOPIC)
        return t1 - t0

    def close(self) -> None:
        super().close()
        self.file.close()


class Naive:
    def __init__(self, port: int, rec: Recorder) -> None:
        self.rec = rec
        self.factory = MockFactory()
        self.handles = naive_alert.start("127.0.0.1", port, "GPIO18", self.factory)
        wait_until(self.handles[0].is_connected, 10)
        self.pin = self.factory.pin("GPIO18")

    def cycle(self) -> float:
        t0 = time.monotonic()
        self.pin.drive_low()  # the relay closes: when_activated
        t1, _ = self.rec.next(naive_alert.TOPIC)
        self.pin.drive_high()
        self.rec.next(naive_alert.TOPIC)
        return t1 - t0

    def close(self) -> None:
        naive_alert.stop(self.handles)


class Siaga:
    """The daemon in a thread, on mock pins: a digital (or analog) smoke sensor."""

    def __init__(
        self,
        broker: Mosquitto,
        rec: Recorder,
        store: Path,
        device: str,
        *,
        delay_on_s: float = 0.0,
        analog: bool = False,
    ) -> None:
        self.rec = rec
        self.device = device
        self.delay_on_s = delay_on_s
        self.topic = f"siaga/v1/lapas/{device}/events"
        self.factory = MockFactory()
        self.adc: Any = None
        if analog:
            from edge.simulate.mcp3008 import MockMCP3008

            Device.pin_factory = self.factory  # gpiozero's software SPI asks the default
            self.adc = MockMCP3008(0, pin_factory=self.factory)
            self.adc.set_fraction(1, 0.2)
            sensor: dict[str, Any] = {
                "id": "smoke-1",
                "kind": "smoke",
                "input": {"type": "mcp3008", "channel": 1},
                "sample_hz": 100,
                "calibration": {"raw": [0.10, 0.80], "value": [0.0, 1000.0]},
                "unit": "ppm",
                "warning": 300.0,
                "alarm": 600.0,
                "hysteresis": 50.0,
                "delay_on_s": delay_on_s,
            }
        else:
            sensor = smoke_sensor(delay_on_s=delay_on_s)
        cfg = build_config(config_dict(broker.url, store, [sensor], device=device))
        self.daemon = Daemon(cfg, SystemClock(), pin_factory=self.factory)
        self.thread = threading.Thread(target=self.daemon.run, name=f"daemon-{device}")
        self.thread.start()
        if not self.daemon.ready.wait(10):
            raise RuntimeError("daemon did not start")
        # starting, then normal: the sensor is established and the link is up.
        for _ in range(2):
            self.rec.next(self.topic, timeout=15)
        self.pin = None if analog else self.factory.pin("GPIO17")

    def _wait_state(self, state: str) -> float:
        deadline = time.monotonic() + RECV_TIMEOUT_S
        while time.monotonic() < deadline:
            t, payload = self.rec.next(self.topic)
            if json.loads(payload)["state"] == state:
                return t
        raise TimeoutError(f"no {state} event")

    def _set(self, alarm: bool) -> None:
        if self.adc is not None:
            self.adc.set_fraction(1, 0.9 if alarm else 0.2)
        elif self.pin is not None:
            if alarm:
                self.pin.drive_low()
            else:
                self.pin.drive_high()

    def cycle(self) -> float:
        if self.adc is not None:
            # Start anywhere in the 10 ms sampling grid: the previous event came right
            # after a sample, and a fixed gap would phase-lock the change to the grid.
            time.sleep(random.uniform(0.0, 0.01))
        t0 = time.monotonic()
        self._set(True)
        t1 = self._wait_state("alarm")
        self._set(False)
        self._wait_state("normal")
        return t1 - t0 - self.delay_on_s

    def close(self) -> None:
        self.daemon.stop()
        self.thread.join(15)
        if self.adc is not None:
            self.adc.close()
            Device.pin_factory = None


class Filtered:
    """The same daemon with structlog dropping everything below error: nothing rendered."""

    def __init__(self, siaga: Siaga) -> None:
        self.siaga = siaga

    def cycle(self) -> float:
        quiet_logs("error")
        try:
            return self.siaga.cycle()
        finally:
            quiet_logs("info")


def run_rounds(
    paths: dict[str, Any], rounds: int, per_round: dict[str, int]
) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, path in paths.items():
            for _ in range(per_round[name]):
                results[name].append(path.cycle())
                time.sleep(GAP_S)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=1000, help="alarms per main path")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--delay-cycles", type=int, default=40)
    ap.add_argument("--delay-on", type=float, default=0.5)
    ap.add_argument("--analog-cycles", type=int, default=200)
    args = ap.parse_args(argv)
    quiet_logs("info")
    per = max(1, args.cycles // args.rounds)
    out: dict[str, Any] = {"params": vars(args)}
    with TemporaryDirectory(prefix="siaga-bench-") as tmp:
        broker = Mosquitto().start()
        try:
            topics = [FLOOR_TOPIC, naive_alert.TOPIC] + [
                f"siaga/v1/lapas/{d}/events" for d in ("pi-a", "pi-delay", "pi-adc")
            ]
            rec = Recorder(broker.port, topics)
            floor = Floor(broker.port, rec)
            durable = DurableFloor(broker.port, rec, Path(tmp) / "fsync.bin")
            naive = Naive(broker.port, rec)
            siaga = Siaga(broker, rec, Path(tmp) / "a.sqlite3", "pi-a")

            # warm-up: first publishes, first SQLite pages, first pydantic serialisation
            for p in (floor, durable, naive, siaga):
                for _ in range(20):
                    p.cycle()
            lat = run_rounds(
                {
                    "floor": floor,
                    "durable_floor": durable,
                    "naive": naive,
                    "siaga": siaga,
                    "siaga_nolog": Filtered(siaga),
                },
                args.rounds,
                {
                    "floor": per,
                    "durable_floor": per,
                    "naive": per,
                    "siaga": per,
                    "siaga_nolog": max(1, per // 2),
                },
            )
            floor.close()
            durable.close()
            naive.close()
            siaga.close()

            delayed = Siaga(
                broker, rec, Path(tmp) / "d.sqlite3", "pi-delay", delay_on_s=args.delay_on
            )
            lat["siaga_delay_on"] = [delayed.cycle() for _ in range(args.delay_cycles)]
            delayed.close()

            analog = Siaga(broker, rec, Path(tmp) / "adc.sqlite3", "pi-adc", analog=True)
            lat["siaga_analog_100hz"] = [analog.cycle() for _ in range(args.analog_cycles)]
            analog.close()
            rec.close()
        finally:
            broker.close()

    stats = {name: summary_ms(v) for name, v in lat.items()}
    f, n, s = stats["floor"], stats["naive"], stats["siaga"]
    ratios = {
        "siaga_over_naive_p50": ratio(s["p50_ms"], n["p50_ms"]),
        "siaga_over_naive_p99": ratio(s["p99_ms"], n["p99_ms"]),
        "siaga_over_floor_p50": ratio(s["p50_ms"], f["p50_ms"]),
        "naive_over_floor_p50": ratio(n["p50_ms"], f["p50_ms"]),
        "durable_floor_over_naive_p50": ratio(stats["durable_floor"]["p50_ms"], n["p50_ms"]),
        "siaga_over_durable_floor_p50": ratio(s["p50_ms"], stats["durable_floor"]["p50_ms"]),
        "siaga_overhead_vs_naive_p50_ms": round(s["p50_ms"] - n["p50_ms"], 3),
    }
    targets = {
        "siaga_p50_le_1.5x_naive": ratios["siaga_over_naive_p50"] <= 1.5,
        "siaga_p99_lt_20ms": s["p99_ms"] < 20.0,
        "siaga_delay_on_p99_lt_20ms": stats["siaga_delay_on"]["p99_ms"] < 20.0,
    }
    labels = {
        "floor": "floor: bare paho QoS 1 pub -> sub",
        "durable_floor": "durable floor: fdatasync, then bare paho",
        "naive": "naive: gpiozero callback -> paho publish",
        "siaga": "siaga daemon, delay_on 0, logs JSON -> /dev/null",
        "siaga_nolog": "siaga daemon, delay_on 0, logs filtered",
        "siaga_delay_on": f"siaga daemon, delay_on {args.delay_on:g} s (minus delay)",
        "siaga_analog_100hz": "siaga daemon, MCP3008 at 100 Hz, delay_on 0",
    }
    rows = [
        [
            labels[k],
            v["n"],
            v["p50_ms"],
            v["p90_ms"],
            v["p99_ms"],
            v["max_ms"],
            ratio(v["p50_ms"], n["p50_ms"]),
        ]
        for k, v in stats.items()
    ]
    tab = table(
        ["path (alarm edge -> subscriber)", "n", "p50 ms", "p90", "p99", "max", "p50 / naive"], rows
    )
    print(tab)
    print(json.dumps(ratios))
    print("targets:", json.dumps(targets))
    out.update(
        latency=stats,
        ratios=ratios,
        targets=targets,
        raw_ms={k: [round(x * 1000, 3) for x in v] for k, v in lat.items()},
    )
    write_result("bench_latency", out, {"latency": tab})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
