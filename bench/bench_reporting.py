"""Reporting time: how long until the station marks a frozen device offline or silent.

A real mosquitto, the station as a process (``siaga-edge station run`` on SQLite) and
``--devices`` daemons as processes (``siaga-edge run``, mock pins) at the recommended
settings: ``mqtt.keepalive_s`` and ``heartbeat.interval_s`` as shipped. Each device, in
turn ``--cycles`` times: once the station shows it online, wait a random 0-10 s (the
freeze falls anywhere in the keepalive and heartbeat phase), SIGSTOP it (a hung process,
a cut cable and a hung kernel look the same to the broker: nothing more comes), and poll
``GET /api/sites`` every 50 ms until its status is ``offline`` (the broker's keepalive
expired and it sent the Will) or ``silent`` (the station's heartbeat rule); SIGCONT, and
wait until it is online again. For the traffic per device and day, one heartbeat's size
is taken from the wire (the rest, MQTT and TCP/IP framing and PINGREQs, is counted per
packet: docs/benchmarks.md).

    PYTHONPATH=. python -m bench.bench_reporting [--devices 5] [--cycles 4]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import (
    ROOT,
    child_env,
    percentile,
    python,
    smoke_sensor,
    table,
    toml_text,
    write_result,
)
from edge.config import HeartbeatConfig, MqttConfig
from edge.localbroker import Mosquitto
from edge.station.sites import HEARTBEAT_MISSES, SLACK_S

GOAL_S = 20.0
PASSWORD = "kata-sandi-bench"


def start_station(tmp: Path, broker_url: str) -> tuple[subprocess.Popen[bytes], str]:
    from edge.station.accounts import Accounts, Role
    from edge.station.archive import Archive
    from edge.station.config import load_station_config

    db = f"sqlite:///{tmp}/station.sqlite3"
    cfg_path = tmp / "station.toml"
    cfg_path.write_text(
        toml_text(
            {
                "station": {"name": "Bench", "language": "en"},
                "mqtt": {"urls": [broker_url], "client_id": "station-bench", "keepalive_s": 10},
                "database": {"url": db},
                "http": {"listen": "127.0.0.1:0"},
                "logging": {"level": "info", "format": "json"},
            }
        )
    )
    archive = Archive(load_station_config(cfg_path).database.url).open()
    try:
        Accounts(archive).add("bench", Role.VIEWER, PASSWORD, time.time())
    finally:
        archive.close()
    log = tmp / "station.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "station", "run", "-c", str(cfg_path)],
            stdout=out,
            stderr=out,
            cwd=ROOT,
            env=child_env(),
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if data.get("event") == "station_ready":
                return proc, str(data["http"])
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"the station did not start: {log.read_text()[-2000:]}")


def start_device(tmp: Path, name: str, broker_url: str) -> subprocess.Popen[bytes]:
    data = {
        "site": {"id": "lapas", "device": name},
        "mqtt": {"url": broker_url},  # keepalive as shipped
        "storage": {"path": str(tmp / f"{name}.sqlite3"), "allow_volatile": True},
        "control": {"socket": str(tmp / f"{name}.sock")},
        "gpio": {"pin_factory": "mock"},
        "logging": {"format": "json"},
        "sensors": [smoke_sensor()],
    }
    path = tmp / f"{name}.toml"
    path.write_text(toml_text(data))
    return subprocess.Popen(
        [python(), "-m", "edge", "run", "-c", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / f"{name}.log").open("ab"),
        cwd=ROOT,
        env=child_env(),
    )


class Sites:
    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, auth=("bench", PASSWORD), timeout=5)
        self.lock = threading.Lock()

    def status(self, device: str) -> str | None:
        with self.lock:
            rows = self.client.get("/api/sites").json()["sites"]
        for row in rows:
            if row.get("device") == device:
                return str(row["status"])
        return None

    def wait(self, device: str, wanted: set[str], timeout: float, step: float = 0.05) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.status(device)
            if now in wanted:
                return now
            time.sleep(step)
        raise TimeoutError(f"{device} never became {wanted}")


def freeze_cycles(
    sites: Sites, proc: subprocess.Popen[bytes], name: str, cycles: int, rng: random.Random
) -> list[dict[str, Any]]:
    out = []
    for _ in range(cycles):
        sites.wait(name, {"online"}, timeout=90)
        time.sleep(rng.uniform(0.0, 10.0))
        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            how = sites.wait(name, {"offline", "silent"}, timeout=120)
            out.append({"device": name, "seconds": round(time.monotonic() - t0, 3), "as": how})
        finally:
            os.kill(proc.pid, signal.SIGCONT)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=5)
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    keepalive, interval = MqttConfig().keepalive_s, HeartbeatConfig().interval_s
    broker = Mosquitto(persistence=False).start()
    procs: list[subprocess.Popen[bytes]] = []
    results: list[dict[str, Any]] = []
    try:
        with TemporaryDirectory(prefix="bench-reporting-") as t:
            tmp = Path(t)
            station, url = start_station(tmp, broker.url)
            procs.append(station)
            sites = Sites(url)
            sizes: list[int] = []
            probe = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
            probe.on_message = lambda _c, _u, m: sizes.append(len(m.payload))
            probe.connect("127.0.0.1", broker.port)
            probe.subscribe("siaga/v1/lapas/pi-0/heartbeat", 0)
            probe.loop_start()
            names = [f"pi-{i}" for i in range(args.devices)]
            devices = {n: start_device(tmp, n, broker.url) for n in names}
            procs += devices.values()
            started = time.monotonic()
            threads = [
                threading.Thread(
                    target=lambda n=n, i=i: results.extend(
                        freeze_cycles(
                            sites, devices[n], n, args.cycles, random.Random(args.seed + i)
                        )
                    )
                )
                for i, n in enumerate(names)
            ]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            took = time.monotonic() - started
            probe.loop_stop()
            probe.disconnect()
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(5)
        broker.stop()
    secs = [r["seconds"] for r in results]
    silent_after = HEARTBEAT_MISSES * interval + SLACK_S
    beat = max(sizes) if sizes else 0
    # per packet: TCP/IP 52 B (IPv4 + TCP with timestamps) + MQTT fixed header and topic
    topic = len("siaga/v1/lapas/pi-0/heartbeat")
    per_beat = beat + 2 + 2 + topic + 1 + 52 + 52  # + the broker's TCP ACK
    pings = 86400 / keepalive if interval > keepalive else 0  # paho pings when idle
    traffic = {
        "heartbeat_payload_bytes": beat,
        "heartbeats_per_day": round(86400 / interval),
        "heartbeat_bytes_per_day": round(86400 / interval * per_beat),
        "pings_per_day": round(pings),
        "ping_bytes_per_day": round(pings * 2 * (2 + 52 + 52)),
    }
    traffic["total_mb_per_day"] = round(
        (traffic["heartbeat_bytes_per_day"] + traffic["ping_bytes_per_day"]) / 2**20, 2
    )
    summary = {
        "freezes": len(secs),
        "p50_s": round(percentile(secs, 50), 2),
        "p99_s": round(percentile(secs, 99), 2),
        "max_s": round(max(secs), 2),
        "goal_s": GOAL_S,
        "offline_by_will": sum(r["as"] == "offline" for r in results),
        "silent_by_heartbeat": sum(r["as"] == "silent" for r in results),
        "keepalive_s": keepalive,
        "heartbeat_interval_s": interval,
        "silent_rule_s": silent_after,
        "run_s": round(took, 1),
        "traffic": traffic,
    }
    shown = table(
        ["keepalive s", "heartbeat s", "freezes", "p50 s", "p99 s", "max s", "goal s", "by Will"],
        [
            [
                keepalive,
                interval,
                summary["freezes"],
                summary["p50_s"],
                summary["p99_s"],
                summary["max_s"],
                GOAL_S,
                summary["offline_by_will"],
            ]
        ],
    )
    print(shown)
    print(f"traffic per device and day (idle): {traffic}")
    path = write_result(
        "bench_reporting", {"summary": summary, "freezes": results}, {"reporting": shown}
    )
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
