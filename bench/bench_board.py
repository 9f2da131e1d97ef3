"""The operators' board in a real headless Chromium: how fast a device's event is on screen.

1. **Event → row**: a device (a paho client) publishes an alarm event; the time from just
   before the publish (``time.time()``) to the page's stamp when the row was first on
   screen (``performance.timeOrigin + performance.now()`` after the frame that rendered
   it), both on this machine's one wall clock. ≥ 200 alarms, one every 50 ms, each its own
   sensor (so the board grows to that many rows), p50/p99. Goal: p99 ≤ 250 ms.
2. **A busy board**: 100 sites, 200 open alarms loaded first; a fresh browser logs in and
   opens the board: time from navigation to every row on screen; then 100 updates (a new
   event of an open alarm, 20/s): publish → the row showing that event.

    PYTHONPATH=. .venv/bin/python bench/bench_board.py [--alarms 240]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import paho.mqtt.client as paho  # noqa: E402
from browserkit import Chromium, board_config  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from stationkit import event, running  # noqa: E402

from edge.localbroker import Mosquitto  # noqa: E402

PREFIX = "siaga/v1"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Publisher:
    def __init__(self, port: int) -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-board", protocol=paho.MQTTv5
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, ev: dict[str, Any]) -> float:
        topic = f"{PREFIX}/{ev['site']}/{ev['device']}/events"
        payload = json.dumps(ev).encode()
        t = time.time()
        self.client.publish(topic, payload, qos=1)
        return t

    def heartbeat(self, site: str, device: str) -> None:
        body = {
            "ts": "2026-01-01T00:00:00.000Z",
            "version": "b",
            "uptime_s": 1.0,
            "interval_s": 600.0,
            "sensors": {},
            "outbox_depth": 0,
            "oldest_undelivered_age_s": None,
            "last_seq": 0,
            "broker_connected": True,
        }
        self.client.publish(f"{PREFIX}/{site}/{device}/heartbeat", json.dumps(body), qos=0)


def latency(url: str, pub: Publisher, n: int) -> dict[str, Any]:
    browser = Chromium()
    try:
        browser.login(url)
        sent = {}
        for i in range(1, n + 1):
            ev = event(i, sensor=f"smoke-{i}", device="pi-lat")
            sent[ev["id"]] = pub.send(ev)
            time.sleep(0.05)
        browser.until(lambda: len(browser.js("return window.__rendered")) >= n, 30, what="all rows")
        shown = browser.js("return window.__rendered")
        ms = [(shown[i] - t * 1000) for i, t in sent.items()]
        return {
            "alarms": n,
            "p50_ms": round(pct(ms, 0.5), 1),
            "p99_ms": round(pct(ms, 0.99), 1),
            "max_ms": round(max(ms), 1),
            "mean_ms": round(statistics.mean(ms), 1),
        }
    finally:
        browser.quit()


def busy(url: str, pub: Publisher, station: Any) -> dict[str, Any]:
    alarms: list[dict[str, Any]] = []
    for s in range(100):
        site = f"site-{s:03d}"
        pub.heartbeat(site, "pi-1")
        for k in (1, 2):
            alarms.append(event(k, sensor=f"smoke-{k}", site=site, device="pi-1"))
            pub.send(alarms[-1])
    deadline = time.monotonic() + 60
    while (
        len([a for a in station.board.alarms(time.time(), open_only=True) if a["device"] == "pi-1"])
        < 200
    ):
        if time.monotonic() > deadline:
            raise SystemExit("the station did not get the 200 alarms")
        time.sleep(0.1)
    browser = Chromium()
    try:
        browser.login(url)  # lands on the board: time it again from a clean navigation
        browser.driver.get(url + "/history")
        browser.driver.get(url + "/")
        browser.until(
            lambda: len(browser.js("return window.__rendered")) >= 200, 30, what="200 rows"
        )
        first = browser.js(
            "return Math.max(...Object.values(window.__rendered)) - performance.timeOrigin"
        )
        sent = {}
        for i in range(100):
            a = alarms[(i * 2) % 200]
            ev = event(10 + i, sensor=a["sensor"], site=a["site"], device="pi-1")
            sent[ev["id"]] = pub.send(ev)
            time.sleep(0.05)
        browser.until(
            lambda: all(i in browser.js("return window.__shown") for i in sent), 30, what="updates"
        )
        shown = browser.js("return window.__shown")
        ms = [(shown[i] - t * 1000) for i, t in sent.items()]
        rows = browser.js("return document.querySelectorAll('#real-rows tr').length")
        return {
            "sites": 100,
            "open_alarms": rows,
            "first_render_ms": round(first, 1),
            "update_p50_ms": round(pct(ms, 0.5), 1),
            "update_p99_ms": round(pct(ms, 0.99), 1),
        }
    finally:
        browser.quit()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alarms", type=int, default=240)
    args = parser.parse_args()
    broker = Mosquitto().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-board-"))
    try:
        config = board_config(tmp, broker.url)
        with running(config) as station:
            url = station.url or ""
            pub = Publisher(broker.port)
            one = latency(url, pub, args.alarms)
            print(json.dumps({"event_to_row": one}))
        config2 = board_config(tmp / "busy", broker.url) if (tmp / "busy").mkdir() is None else None
        assert config2 is not None
        with running(
            config2.model_copy(
                update={"mqtt": config2.mqtt.model_copy(update={"client_id": "bench-2"})}
            )
        ) as station:
            two = busy(station.url or "", pub, station)
            print(json.dumps({"busy_board": two}))
        pub.client.loop_stop()
    finally:
        broker.close()
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    raise SystemExit(main())
