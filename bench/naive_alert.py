"""The script a user would write by hand: a gpiozero callback that publishes straight to MQTT.

No debounce, no durable store, no ordering or resend: the baseline Siaga Edge's alert
path is compared against in ``bench/bench_latency.py``. :func:`start` is the whole
script (the lines between the markers); the benchmark passes mock pins and its broker.

    PYTHONPATH=. python bench/naive_alert.py 127.0.0.1 1883    # on a Pi, for real
"""

from __future__ import annotations

import json
import signal
import sys
import time
from typing import Any

import paho.mqtt.client as mqtt
from gpiozero import DigitalInputDevice
from paho.mqtt.enums import CallbackAPIVersion

TOPIC = "bench/naive/smoke"


def start(host: str, port: int, pin: str = "GPIO18", pin_factory: Any = None) -> Any:
    # ---- the naive script: 14 lines -------------------------------------------------
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="naive-smoke")
    client.connect(host, port)
    client.loop_start()
    smoke = DigitalInputDevice(pin, pull_up=True, pin_factory=pin_factory)  # relay to GND

    def alarm() -> None:
        msg = {"sensor": "smoke-dapur", "state": "alarm", "ts": time.time()}
        client.publish(TOPIC, json.dumps(msg), qos=1)

    def clear() -> None:
        msg = {"sensor": "smoke-dapur", "state": "normal", "ts": time.time()}
        client.publish(TOPIC, json.dumps(msg), qos=1)

    smoke.when_activated = alarm
    smoke.when_deactivated = clear
    # ---- end of the naive script ----------------------------------------------------
    return client, smoke


def stop(handles: Any) -> None:
    client, smoke = handles
    smoke.close()
    client.loop_stop()
    client.disconnect()


if __name__ == "__main__":
    stop_on = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_on)
    handles = start(
        sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1",
        int(sys.argv[2]) if len(sys.argv) > 2 else 1883,
    )
    signal.sigwait(stop_on)
    stop(handles)
