"""Small builders shared by tests: configs, events and MQTT subscribers on a real broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
        "storage": {"path": str(store), "allow_volatile": True},  # tmp_path may be tmpfs
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


def unique_by_id(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for event in events:
        seen.setdefault(event["id"], event)
    return sorted(seen.values(), key=lambda e: e["seq"])


def example_config_text() -> str:
    return EXAMPLE.read_text()
