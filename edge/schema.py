"""JSON Schemas and the AsyncAPI 3 document, generated from the pydantic models.

Nothing here is written by hand: change a model and regenerate (``siaga-edge schema
--write docs/``); a test fails when the committed files drift from the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from edge import __version__
from edge.config import SiagaConfig
from edge.payloads import Ack, Acked, Event, Heartbeat, Reading, Resend, Status

PAYLOAD_MODELS: dict[str, type[BaseModel]] = {
    "event": Event,
    "status": Status,
    "heartbeat": Heartbeat,
    "reading": Reading,
    "ack": Ack,
    "acked": Acked,
    "resend": Resend,
}

# (channel name, address, payload, direction from the device's view, qos, retained, summary)
CHANNELS: list[tuple[str, str, str, str, int, bool, str]] = [
    (
        "events",
        "{prefix}/{site}/{device}/events",
        "event",
        "send",
        1,
        False,
        "One event per state change of every sensor, in seq order.",
    ),
    (
        "state",
        "{prefix}/{site}/{device}/state/{sensor}",
        "event",
        "send",
        1,
        True,
        "The sensor's (or zone's) current state: its last event, retained for late listeners.",
    ),
    (
        "status",
        "{prefix}/{site}/{device}/status",
        "status",
        "send",
        1,
        True,
        "online / offline; offline is the Last Will and is sent on clean shutdown.",
    ),
    (
        "heartbeat",
        "{prefix}/{site}/{device}/heartbeat",
        "heartbeat",
        "send",
        0,
        False,
        "Health every heartbeat.interval_s.",
    ),
    (
        "reading",
        "{prefix}/{site}/{device}/reading/{sensor}",
        "reading",
        "send",
        0,
        False,
        "Optional telemetry every telemetry.interval_s.",
    ),
    (
        "ack",
        "{prefix}/{site}/{device}/ack",
        "ack",
        "receive",
        1,
        False,
        "The control room acknowledges an event; the device stops repeating it.",
    ),
    (
        "acked",
        "{prefix}/{site}/{device}/acked",
        "acked",
        "send",
        1,
        False,
        "The device's receipt for every ack it took or refused, with the reason.",
    ),
    (
        "resend",
        "{prefix}/{site}/{device}/resend",
        "resend",
        "receive",
        1,
        False,
        "The control room asks for stored events again.",
    ),
]


def config_schema() -> dict[str, Any]:
    return SiagaConfig.model_json_schema()


INBOUND = {"ack", "resend"}


def payload_schema(name: str) -> dict[str, Any]:
    """What a payload is. Outbound ones as sent (every field present, defaults too) and
    open to additions, since a device may add fields; inbound ones as the device takes
    them, closed (it refuses fields it does not know)."""
    model = PAYLOAD_MODELS[name]
    if name in INBOUND:
        schema = model.model_json_schema(by_alias=True)
    else:
        schema = _open(model.model_json_schema(by_alias=True, mode="serialization"))
    schema["$id"] = f"https://siaga-edge.invalid/schemas/{name}.json"
    return schema


def _open(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _open(v) for k, v in node.items() if (k, v) != ("additionalProperties", False)}
    if isinstance(node, list):
        return [_open(v) for v in node]
    return node


def asyncapi() -> dict[str, Any]:
    params = {
        "prefix": {"description": "mqtt.topic_prefix, default siaga/v1"},
        "site": {"description": "site.id, [a-z0-9-]+"},
        "device": {"description": "site.device, [a-z0-9-]+"},
        "sensor": {"description": "sensors[].id or zones[].id, [a-z0-9-]+"},
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, address, payload, action, qos, retain, summary in CHANNELS:
        used = [p for p in params if "{" + p + "}" in address]
        channels[name] = {
            "address": address,
            "description": summary,
            "parameters": {p: params[p] for p in used},
            "messages": {payload: {"$ref": f"#/components/messages/{payload}"}},
        }
        operations[f"{action}-{name}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": summary,
            "bindings": {"mqtt": {"qos": qos, "retain": retain}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Siaga Edge MQTT API",
            "version": __version__,
            "description": "Contract between a Siaga Edge device and the control room "
            "(see docs/mqtt-api.md). Generated from the pydantic models.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {
                name: {"name": name, "payload": payload_schema(name)} for name in PAYLOAD_MODELS
            }
        },
    }


def station_config_schema() -> dict[str, Any]:
    """The station's ``station.toml`` (docs/station.md)."""
    from edge.station.config import StationConfig

    return StationConfig.model_json_schema()


def documents() -> dict[str, dict[str, Any]]:
    """File name -> document, as committed under docs/schema/."""
    docs = {
        "config.schema.json": config_schema(),
        "station.schema.json": station_config_schema(),
        "asyncapi.json": asyncapi(),
    }
    for name in PAYLOAD_MODELS:
        docs[f"{name}.schema.json"] = payload_schema(name)
    return docs


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_all(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in documents().items():
        path = folder / name
        path.write_text(render(doc), encoding="utf-8")
        written.append(path)
    return written
