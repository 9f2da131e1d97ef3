"""Backlog drain: events stored while the broker is down, delivered when it comes back.

For each backlog size the outbox is pre-filled through ``Outbox.append`` (fsync skipped
while filling only), a console-like consumer (``bench/sub_counter.py``, its own process,
persistent MQTT v5 session) subscribes, the broker stops, the in-process daemon starts
against it, then the broker starts again. The rate is unique events / (last - first
arrival at the consumer); zero loss and seq order are checked there.

Beside it, on the same broker and consumer, the raw rate: bare paho QoS 1 publishing the
same number of messages of the same size with a window of 100 in flight. The raw burst
runs before and after the daemon runs and the better of the two is the reference; each
daemon setting on the sweep size runs twice and the better run is shown (loss and order
are summed over both).

    PYTHONPATH=. python -m bench.bench_drain [--sizes 10000 70000] [--sweep-size 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import paho.mqtt.client as paho
from gpiozero.pins.mock import MockFactory
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import (
    build_config,
    child_env,
    config_dict,
    prefill_outbox,
    python,
    quiet_logs,
    ratio,
    smoke_sensor,
    table,
    wait_until,
    write_result,
)
from edge.clock import SystemClock
from edge.config import MqttConfig
from edge.daemon import Daemon
from edge.localbroker import Mosquitto

DEFAULTS = (MqttConfig().inflight, MqttConfig().drain_per_s)  # as shipped
RAW_WINDOW = 100
EVENTS_TOPIC = "siaga/v1/lapas/pi-a/events"


class Consumer:
    """``bench/sub_counter.py`` in its own process."""

    def __init__(self, port: int, topic: str, expected: int, devices: int, timeout: float) -> None:
        self.proc = subprocess.Popen(
            [
                python(),
                "-m",
                "bench.sub_counter",
                str(port),
                topic,
                str(expected),
                str(devices),
                str(timeout),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "READY":
            self.proc.kill()
            raise RuntimeError(f"consumer did not start: {line!r}")

    def result(self, timeout: float) -> dict[str, Any]:
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        return json.loads(lines[-1]) if lines else {"error": "no report"}


def drain_once(tmp: Path, template: Path, size: int, inflight: int, per_s: float) -> dict[str, Any]:
    store = tmp / f"drain-{size}-{inflight}-{int(per_s)}.sqlite3"
    shutil.copy(template, store)
    broker = Mosquitto().start()
    daemon: Daemon | None = None
    thread: threading.Thread | None = None
    try:
        consumer = Consumer(broker.port, EVENTS_TOPIC, size, 1, timeout=120)
        broker.stop()  # the outage: the consumer's session and subscription persist
        cfg = build_config(
            config_dict(
                broker.url,
                store,
                [smoke_sensor()],
                mqtt={"inflight": inflight, "drain_per_s": per_s},
            )
        )
        daemon = Daemon(cfg, SystemClock(), pin_factory=MockFactory())
        thread = threading.Thread(target=daemon.run, name="daemon")
        thread.start()
        if not daemon.ready.wait(15):
            raise RuntimeError("daemon not ready")
        cpu0 = os.times()
        t_up = time.monotonic()
        broker.start()
        res = consumer.result(timeout=150)
        cpu1 = os.times()
    finally:
        if daemon is not None and thread is not None:
            daemon.stop()
            thread.join(30)
        broker.close()
    first, last = res.get("first_t"), res.get("last_t")
    span = (last - first) if first is not None and last is not None else float("nan")
    received = int(res.get("received_unique", 0))
    return {
        "size": size,
        "inflight": inflight,
        "drain_per_s": per_s,
        "events_per_s": round(received / span, 1) if span and span > 0 else float("nan"),
        "broker_up_to_first_s": round(first - t_up, 3) if first is not None else None,
        "broker_up_to_last_s": round(last - t_up, 3) if last is not None else None,
        "lost": res.get("lost"),
        "duplicates": res.get("duplicates"),
        "out_of_order": res.get("out_of_order"),
        "daemon_process_cpu_s": round((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system), 2),
        "consumer_cpu_s": res.get("cpu_s"),
    }


def raw_burst(size: int, payload_len: int) -> dict[str, Any]:
    """Bare paho, QoS 1, ``RAW_WINDOW`` in flight, same message size, same kind of consumer."""
    broker = Mosquitto().start()
    try:
        topic = "bench/raw/events"
        consumer = Consumer(broker.port, topic, size, 1, timeout=120)
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=paho.MQTTv5
        )
        client.max_inflight_messages_set(RAW_WINDOW)
        room = threading.Semaphore(RAW_WINDOW)
        client.on_publish = lambda *_: room.release()
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        wait_until(client.is_connected, 10)
        pad = "x" * max(0, payload_len - 40)
        cpu0 = os.times()
        deadline = time.monotonic() + 120
        for seq in range(1, size + 1):
            while not room.acquire(timeout=1.0):
                if time.monotonic() > deadline:
                    raise TimeoutError("raw burst stalled")
            client.publish(topic, json.dumps({"seq": seq, "pad": pad}), qos=1)
        res = consumer.result(timeout=150)
        cpu1 = os.times()
        client.loop_stop()
        client.disconnect()
    finally:
        broker.close()
    span = res["last_t"] - res["first_t"]
    return {
        "size": size,
        "events_per_s": round(res["received_unique"] / span, 1),
        "lost": res["lost"],
        "out_of_order": res["out_of_order"],
        "publisher_process_cpu_s": round((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system), 2),
        "consumer_cpu_s": res.get("cpu_s"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 70_000])
    ap.add_argument("--sweep-size", type=int, default=10_000)
    ap.add_argument(
        "--sweep",
        default="20:2000,20:5000,50:5000,20:1000000,100:1000000",
        help="inflight:drain_per_s pairs tried on --sweep-size",
    )
    ap.add_argument("--tuned", default="100:10000", help="inflight:drain_per_s run on --sizes")
    args = ap.parse_args(argv)
    quiet_logs("info")
    sweep = [(int(a), float(b)) for a, b in (p.split(":") for p in args.sweep.split(","))]
    tuned = tuple(float(x) for x in args.tuned.split(":"))
    tuned_pair = (int(tuned[0]), tuned[1])
    runs: list[dict[str, Any]] = []
    raws: dict[int, dict[str, Any]] = {}
    with TemporaryDirectory(prefix="siaga-drain-") as tmpname:
        tmp = Path(tmpname)
        sizes = sorted({*args.sizes, args.sweep_size})
        templates: dict[int, Path] = {}
        fill_s: dict[int, float] = {}
        for size in sizes:
            templates[size] = tmp / f"template-{size}.sqlite3"
            fill_s[size] = round(prefill_outbox(templates[size], size), 1)
        payload_len = len(_first_payload(templates[sizes[0]]))
        raw_runs: dict[int, list[dict[str, Any]]] = {size: [] for size in sizes}
        for size in sizes:  # the raw burst before and after the daemon runs: best of two
            raw_runs[size].append(raw_burst(size, payload_len))
        pairs: list[tuple[int, int, float]] = []
        for size in args.sizes:
            pairs += [(size, *DEFAULTS), (size, *tuned_pair)]
        pairs += [(args.sweep_size, i, r) for i, r in sweep]
        for size, inflight, per_s in dict.fromkeys(pairs):
            # best of two on the sweep size (a shared machine has noisy seconds), once on 70k
            tries = [
                drain_once(tmp, templates[size], size, inflight, per_s)
                for _ in range(2 if size == args.sweep_size else 1)
            ]
            run = max(tries, key=lambda r: float(r["events_per_s"]))
            run["all_events_per_s"] = [r["events_per_s"] for r in tries]
            run["lost"] = sum(int(r["lost"] or 0) for r in tries)
            run["out_of_order"] = sum(int(r["out_of_order"] or 0) for r in tries)
            runs.append(run)
            print(
                f"drain {size} inflight={inflight} drain_per_s={per_s:g}: "
                f"{run['events_per_s']:.0f}/s, lost {run['lost']}",
                flush=True,
            )
        for size in sizes:
            raw_runs[size].append(raw_burst(size, payload_len))
            raws[size] = max(raw_runs[size], key=lambda r: float(r["events_per_s"]))
            raws[size]["all_events_per_s"] = [r["events_per_s"] for r in raw_runs[size]]
            print(f"raw {size}: {raws[size]['all_events_per_s']} /s", flush=True)
    for run in runs:
        run["raw_events_per_s"] = raws[run["size"]]["events_per_s"]
        run["fraction_of_raw"] = ratio(run["events_per_s"], run["raw_events_per_s"])
    rows = [
        [
            r["size"],
            r["inflight"],
            "unlimited" if r["drain_per_s"] >= 1e6 else f"{r['drain_per_s']:g}",
            r["events_per_s"],
            r["raw_events_per_s"],
            f"{r['fraction_of_raw']:.2f}",
            r["lost"],
            r["out_of_order"],
            r["duplicates"],
            r["broker_up_to_last_s"],
        ]
        for r in runs
    ]
    tab = table(
        [
            "backlog",
            "inflight",
            "drain_per_s",
            "events/s",
            "raw paho/s",
            "of raw",
            "lost",
            "out of order",
            "dups",
            "broker up -> all in, s",
        ],
        rows,
    )
    print(tab)
    default_runs = [r for r in runs if (r["inflight"], r["drain_per_s"]) == DEFAULTS]
    tuned_runs = [r for r in runs if (r["inflight"], r["drain_per_s"]) == tuned_pair]
    targets = {
        "defaults_ge_50pct_raw": all(r["fraction_of_raw"] >= 0.5 for r in default_runs),
        "tuned_ge_50pct_raw": all(r["fraction_of_raw"] >= 0.5 for r in tuned_runs),
        "zero_loss": all(r["lost"] == 0 for r in runs),
        "in_order": all(r["out_of_order"] == 0 for r in runs),
    }
    print("targets:", json.dumps(targets))
    write_result(
        "bench_drain",
        {
            "params": vars(args),
            "prefill_s": fill_s,
            "payload_bytes": payload_len,
            "raw": raws,
            "runs": runs,
            "targets": targets,
        },
        {"drain": tab},
    )
    return 0


def _first_payload(store: Path) -> bytes:
    import sqlite3

    db = sqlite3.connect(store)
    try:
        (payload,) = db.execute("SELECT payload FROM events ORDER BY seq LIMIT 1").fetchone()
    finally:
        db.close()
    return bytes(payload)


if __name__ == "__main__":
    raise SystemExit(main())
