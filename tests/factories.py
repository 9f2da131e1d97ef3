"""Small builders shared by tests: configs, events and MQTT subscribers on a real broker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.clock import iso_ms
from edge.config import SiagaConfig, validate_config
from edge.detect.types import Reason, State
from edge.payloads import SEVERITY, Event, EventKind, Hazard

EXAMPLE = Path(__file__).parents[1] / "edge" / "data" / "config.example.toml"


def smoke_config(broker_url: str, store: Path, **overrides: Any) -> SiagaConfig:
    """One digital smoke detector on GPIO17 (active low), a siren on GPIO27."""
    data: dict[str, Any] = {
        "site": {"id": "lapas", "device": "pi-a"},
        "mqtt": {"url": broker_url, "keepalive_s": 5},
        "storage": {"path": str(store)},
        "control": {"socket": str(store.parent / "control.sock")},
        "heartbeat": {"interval_s": 1},
        "outputs": {"siren_pin": "GPIO27", "status_led_pin": "GPIO22"},
        "sensors": [
            {
                "id": "smoke-1",
                "kind": "smoke",
                "name": "Dapur",
                "location": "Blok A",
                "input": {"type": "digital", "pin": "GPIO17", "active_low": True},
                "delay_on_s": 0.2,
                "delay_off_s": 0.5,
            }
        ],
    }
    for key, value in overrides.items():
        section, _, field = key.partition("__")
        if field:
            data.setdefault(section, {})[field] = value
        else:
            data[section] = value
    return validate_config(data, Path("test-config.toml"))


def make_event(seq: int, *, state: State = State.ALARM, sensor: str = "smoke-1") -> Event:
    return Event(
        id=f"00000000-0000-4000-8000-{seq:012d}",
        seq=seq,
        site="lapas",
        device="pi-a",
        sensor=sensor,
        kind=EventKind.SMOKE,
        hazard=Hazard.FIRE,
        state=state,
        previous=State.NORMAL,
        severity=SEVERITY[state],
        reason=Reason.CONTACT,
        ts=iso_ms(1_741_659_245.0 + seq),
        requires_ack=state in (State.ALARM, State.FAULT),
        message="KEBAKARAN: asap terdeteksi di Dapur, Blok A",
    )


class Subscriber:
    """A real paho v5 client with a persistent session that records what it receives."""

    def __init__(
        self, port: int, topic: str = "siaga/#", client_id: str = "test-sub", clean: bool = True
    ) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.user: list[tuple[bytes, dict[str, str]]] = []
        """(payload, MQTT v5 user properties) of each event, as heard."""
        self.lock = threading.Lock()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, keepalive=10, clean_start=clean, properties=props)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        pairs = getattr(msg.properties, "UserProperty", None) or []
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
            if msg.topic.endswith("/events"):
                self.user.append((bytes(msg.payload), dict(pairs)))

    def payloads(self, suffix: str) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(p) for t, p, _ in self.messages if t.endswith(suffix)]

    def events(self) -> list[dict[str, Any]]:
        return self.payloads("/events")

    def wait_for(self, predicate: Callable[[Subscriber], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.02)
        return predicate(self)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def unique_by_id(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for event in events:
        seen.setdefault(event["id"], event)
    return sorted(seen.values(), key=lambda e: e["seq"])


def example_config_text() -> str:
    return EXAMPLE.read_text()
