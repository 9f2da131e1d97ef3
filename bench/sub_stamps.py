"""A subscriber in its own process that stamps each arrival, for ``bench_latency``.

The control room is another machine: a subscriber in the benchmark's own process would
share the GIL with the device under test and charge the device for the subscriber's
wake-ups. Here it has its own interpreter. Each message is printed as one line
``<time.monotonic_ns()> <topic> <payload>`` (CLOCK_MONOTONIC is the same clock in every
process, so the parent can subtract its own edge time). ``READY`` once subscribed.

    python -m bench.sub_stamps PORT TOPIC [TOPIC ...]
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


def main(argv: list[str]) -> int:
    port, topics = int(argv[0]), argv[1:]
    out = sys.stdout.buffer
    lock = threading.Lock()
    subscribed = threading.Event()

    def on_message(_c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        stamp = time.monotonic_ns()
        line = b"%d %s %s\n" % (stamp, msg.topic.encode(), bytes(msg.payload).replace(b"\n", b" "))
        with lock:
            out.write(line)
            out.flush()

    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-stamps", protocol=paho.MQTTv5
    )
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe([(t, 1) for t in topics])
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    if not subscribed.wait(10):
        return 1
    with lock:
        out.write(b"READY\n")
        out.flush()
    sys.stdin.read()  # until the parent closes our stdin
    client.loop_stop()
    client.disconnect()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
