"""A console-like consumer in its own process: counts events per device, checks order and loss.

Subscribes (MQTT v5, QoS 1, persistent session) to ``TOPIC`` and keeps reconnecting when the
broker goes away, so it can be subscribed *before* an outage and still get everything
queued for it. Each payload is JSON with a ``seq`` (a Siaga event or a bench message);
the device is the topic. Prints ``READY`` once subscribed, then one JSON line when every
device has ``1..expected`` or the timeout passes:

    python -m bench.sub_counter PORT TOPIC EXPECTED_PER_DEVICE DEVICES TIMEOUT_S [CLIENT_ID]

``first_t`` / ``last_t`` are ``time.monotonic()`` (CLOCK_MONOTONIC, the same clock in every
process), so the parent can time a drain from its own events.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


class Counter:
    def __init__(self, expected: int, devices: int) -> None:
        self.expected = expected
        self.devices = devices
        self.seen: dict[str, set[int]] = {}
        self.last_seq: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.out_of_order = 0
        self.duplicates = 0
        self.messages = 0
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.complete_t: dict[str, float] = {}
        self.per_second: dict[int, int] = {}
        self.done = threading.Event()
        self.subscribed = threading.Event()

    def on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        now = time.monotonic()
        seq = int(json.loads(msg.payload)["seq"])
        self.messages += 1
        if self.first_t is None:
            self.first_t = now
        bucket = int(now - self.first_t)
        self.per_second[bucket] = self.per_second.get(bucket, 0) + 1
        topic = msg.topic
        seen = self.seen.get(topic)
        if seen is None:
            seen = self.seen[topic] = set()
            self.counts[topic] = 0
        if seq in seen:
            self.duplicates += 1
            return
        last = self.last_seq.get(topic, 0)
        if seq < last:
            self.out_of_order += 1
        else:
            self.last_seq[topic] = seq
        seen.add(seq)
        if seq <= self.expected:
            self.last_t = now
            self.counts[topic] += 1
            if self.counts[topic] == self.expected:
                self.complete_t[topic] = now
                if len(self.complete_t) >= self.devices:
                    self.done.set()

    def report(self) -> dict[str, Any]:
        received = sum(self.counts.values())
        cpu = os.times()
        return {
            "devices_seen": len(self.seen),
            "devices_complete": len(self.complete_t),
            "received_unique": received,
            "expected": self.expected * self.devices,
            "lost": self.expected * self.devices - received,
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "messages": self.messages,
            "first_t": self.first_t,
            "last_t": self.last_t,
            "complete_t": sorted(self.complete_t.values()),
            "cpu_s": cpu.user + cpu.system,
            "peak_per_s": max(self.per_second.values(), default=0),
            "per_second": [
                self.per_second.get(i, 0) for i in range(max(self.per_second, default=-1) + 1)
            ],
        }


def main(argv: list[str]) -> int:
    port, topic = int(argv[1]), argv[2]
    expected, devices, timeout = int(argv[3]), int(argv[4]), float(argv[5])
    client_id = argv[6] if len(argv) > 6 else f"bench-console-{os.getpid()}"
    counter = Counter(expected, devices)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.reconnect_delay_set(1, 1)

    def on_connect(c: paho.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if not flags.session_present:
            c.subscribe(topic, qos=1)
        else:
            counter.subscribed.set()

    client.on_connect = on_connect
    client.on_subscribe = lambda *_: counter.subscribed.set()
    client.on_message = counter.on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect(
        "127.0.0.1",
        port,
        keepalive=10,
        # Not paho's default MQTT_CLEAN_START_FIRST_ONLY: mosquitto 2.0.11 does not keep a
        # session begun with clean start across its own restart, and the outage test needs it.
        clean_start=False,
        properties=props,
    )
    client.loop_start()
    if not counter.subscribed.wait(10):
        print(json.dumps({"error": "could not subscribe"}), flush=True)
        return 1
    print("READY", flush=True)
    counter.done.wait(timeout)
    client.loop_stop()
    client.disconnect()
    print(json.dumps(counter.report()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
