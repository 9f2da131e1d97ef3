"""Detection throughput through the whole daemon path, without MQTT.

Samples go into the in-process :class:`edge.daemon.Daemon`'s queue exactly as a sensor
adapter posts them, and the core thread takes them through the sensor machine to the
outbox (the broker URL points at a closed loopback port, so nothing is published). The
signals are quiet (events are rare) so what is timed is sample handling:

- STA/LTA: the example config's ``getar-fondasi`` (100 Hz, 1 Hz high-pass, 0.2/2.0 s) on
  Gaussian background noise of 1 mg;
- threshold: the example config's ``smoke-gudang`` (ppm, warning/alarm, hysteresis) on
  noise around 100 ppm.

Two ways in: ``pre-queued`` (every sample is in the queue before the clock starts: the
core thread's capacity) and ``live`` (a producer thread posts while the core consumes, as
a sampling thread would). Beside each, in the same run, the bare ``SensorMachine.sample``
loop on the same samples: the ratio is what the daemon path costs on top of detection.
``bench/bench_detect.py`` (run by run_all) has the per-detector numbers.

    PYTHONPATH=. python -m bench.bench_throughput [--samples 200000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from bench.common import EXAMPLE_CONFIG, quiet_logs, ratio, table, write_result
from edge.clock import SystemClock
from edge.config import SiagaConfig, load_config
from edge.daemon import Daemon
from edge.daemon.inbox import Call
from edge.detect.build import machine_for
from edge.localbroker import free_port
from edge.sensors import Sample
from edge.simulate.mcp3008 import MockMCP3008

TARGET = 200_000.0


def signal_for(sensor: str, n: int, t0: float, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    if sensor == "getar-fondasi":
        return [Sample(sensor, t0 + i * 0.01, rng.gauss(0.0, 0.001), 0.5) for i in range(n)]
    return [Sample(sensor, t0 + i * 0.2, 100.0 + rng.gauss(0.0, 5.0), 0.17) for i in range(n)]


def config(tmp: Path, sensor: str) -> SiagaConfig:
    cfg = load_config(EXAMPLE_CONFIG)
    return cfg.model_copy(
        update={
            "sensors": [s for s in cfg.sensors if s.id == sensor],
            "zones": [],  # one sensor alone: its zone (if any) would lack members
            "mqtt": cfg.mqtt.model_copy(update={"url": f"mqtt://127.0.0.1:{free_port()}"}),
            "storage": cfg.storage.model_copy(update={"path": tmp / f"{sensor}.sqlite3"}),
            "outputs": cfg.outputs.model_copy(update={"siren_pin": None, "status_led_pin": None}),
        }
    )


def through_daemon(cfg: SiagaConfig, sensor: str, n: int, live: bool, seed: int) -> dict[str, Any]:
    factory = MockFactory()
    Device.pin_factory = factory
    adc = MockMCP3008(0, pin_factory=factory)
    daemon = Daemon(cfg, SystemClock(), pin_factory=factory)
    thread = threading.Thread(target=daemon.run, name="daemon")
    thread.start()
    try:
        if not daemon.ready.wait(15):
            raise RuntimeError("daemon not ready")

        def detach() -> None:  # the machines stay; only the sampling threads go
            for s in list(daemon.sensors.adapters.values()):
                s.close()
            daemon.sensors.adapters.clear()

        gate, done = threading.Event(), threading.Event()
        daemon.post(Call(detach))

        def hold() -> None:  # the core thread waits here while the queue fills
            gate.wait(60)

        daemon.post(Call(hold))
        outbox = daemon.outbox
        assert outbox is not None
        samples = signal_for(sensor, n, time.monotonic() + 1.0, seed)
        if live:
            t0 = time.perf_counter()
            gate.set()
            for s in samples:
                daemon.post(s)
            daemon.post(Call(done.set))
        else:
            for s in samples:
                daemon.post(s)
            daemon.post(Call(done.set))
            t0 = time.perf_counter()
            gate.set()
        if not done.wait(300):
            raise TimeoutError("core thread did not finish")
        elapsed = time.perf_counter() - t0
        events = outbox.last_seq()
    finally:
        daemon.stop()
        thread.join(30)
        adc.close()
        Device.pin_factory = None
    return {"samples_per_s": n / elapsed, "events_in_outbox": events}


def machine_only(cfg: SiagaConfig, sensor: str, n: int, seed: int) -> float:
    machine = machine_for(cfg.sensors[0])
    samples = signal_for(sensor, n, 1.0, seed)
    machine.start(0.0)
    t0 = time.perf_counter()
    for s in samples:
        machine.sample(s.t, s.value)
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    quiet_logs("info")
    results: dict[str, dict[str, Any]] = {}
    with TemporaryDirectory(prefix="siaga-thr-") as tmpname:
        for sensor, label in (("getar-fondasi", "STA/LTA"), ("smoke-gudang", "threshold")):
            runs: dict[str, list[float]] = {"machine": [], "pre-queued": [], "live": []}
            events = 0
            for rep in range(args.repeats):
                # each repeat, all three paths back to back: the same noise hits each
                runs["machine"].append(
                    machine_only(config(Path(tmpname), sensor), sensor, args.samples, rep)
                )
                for mode in ("pre-queued", "live"):
                    sub = Path(tmpname) / f"{sensor}-{mode}-{rep}"
                    sub.mkdir()
                    r = through_daemon(
                        config(sub, sensor), sensor, args.samples, mode == "live", rep
                    )
                    runs[mode].append(r["samples_per_s"])
                    events = max(events, r["events_in_outbox"])
            med = {k: statistics.median(v) for k, v in runs.items()}
            results[label] = {
                "sensor": sensor,
                "runs": runs,
                "median_samples_per_s": med,
                "events_in_outbox": events,
                "daemon_over_machine": ratio(med["pre-queued"], med["machine"]),
            }
            print(label, json.dumps({k: round(v) for k, v in med.items()}), flush=True)
    rows = []
    for label, r in results.items():
        m = r["median_samples_per_s"]
        rows += [
            [label, "SensorMachine.sample only", m["machine"], 1.0, r["events_in_outbox"]],
            [
                label,
                "daemon queue -> machine -> outbox, pre-queued",
                m["pre-queued"],
                ratio(m["pre-queued"], m["machine"]),
                r["events_in_outbox"],
            ],
            [
                label,
                "daemon, live producer thread",
                m["live"],
                ratio(m["live"], m["machine"]),
                r["events_in_outbox"],
            ],
        ]
    tab = table(
        ["detector", "path", "samples/s (median)", "of machine-only", "events stored"], rows
    )
    print(tab)
    sta = results["STA/LTA"]["median_samples_per_s"]
    targets = {
        "daemon_path_sta_lta_ge_200k": sta["pre-queued"] >= TARGET,
        "daemon_path_sta_lta_ge_100hz_x_1000_sensors": sta["pre-queued"] >= 100_000,
    }
    print("targets:", json.dumps(targets))
    write_result(
        "bench_throughput",
        {"params": vars(args), "results": results, "targets": targets},
        {"throughput": tab},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
