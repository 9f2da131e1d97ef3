"""The station: archive ingest rate against a raw subscriber, alarm visibility latency, RSS.

1. **Ingest**: one backlog of ``--events`` events (two devices) queued by mosquitto for
   three persistent sessions at once; then each consumer drains it alone: a raw paho
   subscriber that only counts, the station on SQLite, the station on PostgreSQL (a
   private cluster). Rate = events / (last committed - first connected); the ratio to the
   raw subscriber is the figure of merit (goal ≥ 0.5).
2. **Latency**: an alarm event published → its alarm listed by ``GET /api/alarms``
   (polled as fast as the API answers, HTTP Basic), p50/p99 over ``--alarms`` samples.
3. **RSS**: ``station run`` as its own process with ``--devices`` simulated devices
   heartbeating every second (and a status each), VmRSS after ``--seconds``.

    PYTHONPATH=. python -m bench.bench_station [--events N] [--alarms N] [--devices N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench.common import ROOT, quiet_logs, ratio, summary_ms, table, write_result
from edge.clock import iso_ms
from edge.localbroker import Mosquitto

sys.path.insert(0, str(ROOT / "tests"))
from pg import Postgres

PREFIX = "siaga/v1"
PASSWORD = "bench-password"


def event(seq: int, device: str, sensor: str = "smoke-1", state: str = "normal") -> bytes:
    return json.dumps(
        {
            "schema": "siaga.event/1",
            "id": str(uuid.uuid4()),
            "seq": seq,
            "site": "lapas",
            "device": device,
            "sensor": sensor,
            "kind": "smoke",
            "hazard": "fire",
            "state": state,
            "previous": "normal",
            "stage": None,
            "severity": "critical" if state == "alarm" else "info",
            "reason": "contact",
            "value": 1.0,
            "unit": "",
            "threshold": None,
            "ts": iso_ms(time.time()),
            "drill": False,
            "test": False,
            "requires_ack": state == "alarm",
            "message": "KEBAKARAN: asap terdeteksi di Dapur, Blok A",
        }
    ).encode()


def client(port: int, client_id: str, *, session: bool = True, inflight: int = 20) -> paho.Client:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    c.max_inflight_messages_set(inflight)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600 if session else 0
    c.connect("127.0.0.1", port, keepalive=30, clean_start=not session, properties=props)
    return c


def subscribe_session(port: int, client_id: str) -> None:
    """Create a persistent session subscribed to the prefix, then leave it to the broker."""
    done = threading.Event()
    c = client(port, client_id)
    c.on_subscribe = lambda *_a: done.set()
    c.loop_start()
    c.subscribe(f"{PREFIX}/#", qos=1)
    done.wait(10)
    c.disconnect()
    c.loop_stop()


def publish_backlog(port: int, n: int) -> None:
    pub = client(port, "bench-pub", session=False, inflight=1000)
    pub.loop_start()
    infos = []
    for i in range(n):
        device = f"pi-{i % 2}"
        topic = f"{PREFIX}/lapas/{device}/events"
        infos.append(pub.publish(topic, event(i // 2 + 1, device), qos=1))
    for info in infos:
        info.wait_for_publish(30)
    pub.disconnect()
    pub.loop_stop()


def raw_rate(port: int, n: int) -> float:
    count = [0]
    done = threading.Event()
    t: dict[str, float] = {}

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        count[0] += 1
        if count[0] >= n:
            t["end"] = time.monotonic()
            done.set()

    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="raw", protocol=paho.MQTTv5)
    c.on_message = on_message
    c.on_connect = lambda *_a: t.setdefault("start", time.monotonic())
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    c.connect("127.0.0.1", port, keepalive=30, clean_start=False, properties=props)
    c.loop_start()
    done.wait(300)
    c.disconnect()
    c.loop_stop()
    return n / (t["end"] - t["start"])


def station_config(port: int, url: str, client_id: str, **mqtt: Any) -> Any:
    from edge.station.config import StationConfig

    return StationConfig(
        mqtt={"urls": [f"mqtt://127.0.0.1:{port}"], "client_id": client_id, **mqtt},
        database={"url": url},
        http={"listen": "127.0.0.1:0"},
    )


def station_rate(port: int, url: str, client_id: str, n: int) -> float:
    from edge.station.service import StationService

    service = StationService(station_config(port, url, client_id))
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    while service.health.listening_since is None:
        time.sleep(0.005)
    start = service.health.listening_since
    while service.reader.count_events() < n:
        time.sleep(0.05)
    end = time.time()
    service.stop()
    thread.join(30)
    return n / (end - start)


def ingest(port: int, pg: Postgres, tmp: Path, n: int) -> dict[str, Any]:
    sqlite_url = f"sqlite:///{tmp}/ingest.sqlite3"
    pg_url = pg.new_database()
    for cid in ("raw", "st-sqlite", "st-pg"):
        subscribe_session(port, cid)
    publish_backlog(port, n)
    raw = raw_rate(port, n)
    sqlite = station_rate(port, sqlite_url, "st-sqlite", n)
    postgres = station_rate(port, pg_url, "st-pg", n)
    return {
        "events": n,
        "raw_per_s": round(raw),
        "sqlite_per_s": round(sqlite),
        "postgresql_per_s": round(postgres),
        "sqlite_of_raw": ratio(sqlite, raw),
        "postgresql_of_raw": ratio(postgres, raw),
    }


def add_account(url: str) -> None:
    from edge.station.accounts import Accounts, Role
    from edge.station.archive import Archive

    archive = Archive(url).open()
    Accounts(archive).add("bench", Role.VIEWER, PASSWORD, time.time())
    archive.close()


def latency(port: int, tmp: Path, samples: int) -> dict[str, Any]:
    from edge.station.service import StationService

    url = f"sqlite:///{tmp}/latency.sqlite3"
    config = station_config(port, url, "st-latency")
    add_account(url)
    service = StationService(config)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    service.ready.wait(30)
    pub = client(port, "bench-dev", session=False)
    pub.loop_start()
    http = httpx.Client(base_url=service.url or "", auth=("bench", PASSWORD), timeout=10)
    seen: list[float] = []
    for i in range(1, samples + 1):
        payload = event(i, "pi-a", sensor=f"smoke-{i}", state="alarm")
        alarm_id = json.loads(payload)["id"]
        t0 = time.perf_counter()
        pub.publish(f"{PREFIX}/lapas/pi-a/events", payload, qos=1)
        while True:
            body = http.get("/api/alarms", params={"open": "true"}).json()
            if any(a["alarm_id"] == alarm_id for a in body["alarms"]):
                seen.append(time.perf_counter() - t0)
                break
    http.close()
    pub.disconnect()
    pub.loop_stop()
    service.stop()
    thread.join(30)
    return summary_ms(seen)


def rss(port: int, tmp: Path, devices: int, seconds: float) -> dict[str, Any]:
    import tomlkit

    url = f"sqlite:///{tmp}/rss.sqlite3"
    file = tmp / "rss.toml"
    file.write_text(
        tomlkit.dumps(
            {
                "mqtt": {"urls": [f"mqtt://127.0.0.1:{port}"], "client_id": "st-rss"},
                "database": {"url": url},
                "http": {"listen": "127.0.0.1:0"},
                "logging": {"format": "json", "level": "warning"},
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge", "station", "run", "-c", str(file)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pub = client(port, "bench-fleet", session=False)
    pub.loop_start()
    start = time.monotonic()
    seq = 0
    peak = 0
    while time.monotonic() - start < seconds:
        seq += 1
        for d in range(devices):
            base = f"{PREFIX}/site-{d // 10}/pi-{d}"
            if seq == 1:
                status = {"state": "online", "ts": iso_ms(time.time()), "version": "b"}
                pub.publish(f"{base}/status", json.dumps(status), qos=1, retain=True)
            beat = {
                "ts": iso_ms(time.time()),
                "interval_s": 1.0,
                "sensors": {"smoke-1": {"state": "normal"}, "air-1": {"state": "normal"}},
                "outbox_depth": 0,
                "last_seq": 0,
            }
            pub.publish(f"{base}/heartbeat", json.dumps(beat), qos=0)
        time.sleep(1.0)
        peak = max(peak, _rss_kb(proc.pid))
    final = _rss_kb(proc.pid)
    proc.terminate()
    proc.wait(30)
    pub.disconnect()
    pub.loop_stop()
    return {
        "devices": devices,
        "seconds": seconds,
        "rss_mb": round(final / 1024, 1),
        "peak_rss_mb": round(peak / 1024, 1),
    }


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--alarms", type=int, default=200)
    ap.add_argument("--devices", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args(argv)
    quiet_logs("warning")
    with tempfile.TemporaryDirectory(prefix="siaga-bench-station-") as name:
        tmp = Path(name)
        broker = Mosquitto().start()
        pg = Postgres().init().start()
        try:
            ing = ingest(broker.port, pg, tmp, args.events)
            print("ingest", json.dumps(ing), flush=True)
            lat = latency(broker.port, tmp, args.alarms)
            print("latency", json.dumps(lat), flush=True)
            mem = rss(broker.port, tmp, args.devices, args.seconds)
            print("rss", json.dumps(mem), flush=True)
        finally:
            pg.close()
            broker.close()
    tables = {
        "ingest": table(
            ["consumer", "events/s", "of raw"],
            [
                ["raw paho subscriber (counts only)", ing["raw_per_s"], 1.0],
                [
                    "station, SQLite (commit, then PUBACK)",
                    ing["sqlite_per_s"],
                    ing["sqlite_of_raw"],
                ],
                ["station, PostgreSQL", ing["postgresql_per_s"], ing["postgresql_of_raw"]],
            ],
        ),
        "latency": table(
            ["event published → in /api/alarms", "n", "p50 ms", "p99 ms", "max ms"],
            [["SQLite", lat["n"], lat["p50_ms"], lat["p99_ms"], lat["max_ms"]]],
        ),
        "rss": table(
            ["devices heartbeating (1 s)", "after s", "RSS MB", "peak MB"],
            [[mem["devices"], mem["seconds"], mem["rss_mb"], mem["peak_rss_mb"]]],
        ),
    }
    for tab in tables.values():
        print(tab)
    targets = {
        "sqlite_ingest_ge_half_raw": ing["sqlite_of_raw"] >= 0.5,
        "postgresql_ingest_ge_half_raw": ing["postgresql_of_raw"] >= 0.5,
    }
    print("targets:", json.dumps(targets))
    write_result(
        "bench_station",
        {"params": vars(args), "ingest": ing, "latency": lat, "rss": mem, "targets": targets},
        tables,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
