"""Optional Home Assistant MQTT discovery (``homeassistant.enabled = true``).

One device-based discovery message (``{discovery_prefix}/device/{object_id}/config``,
Home Assistant 2024.11 and later) describes the whole device: for every sensor a binary
sensor whose device class follows the sensor's ``hazard`` (:data:`DEVICE_CLASS`: fire
``smoke``, gas ``gas``, flood ``moisture``, earthquake ``vibration``, intrusion ``safety``,
tamper ``tamper``) that is on while the sensor is in ``alarm``, and a diagnostic
``problem`` binary sensor that is on while it is in ``fault`` (or ``disabled``: nobody
is watching). Both read the retained ``state/{sensor}`` topic, so Home Assistant shows
the present after its own restart, and carry the event's ``state``, ``stage``,
``value``, ``message`` and ``ts`` as attributes.
Availability follows the device's retained ``status`` topic (``offline`` is its Last
Will). Drill and walk-test events never reach the state topics, so neither trips Home
Assistant.

The message is not retained: the daemon sends it on every connection to the broker and
again whenever Home Assistant announces itself (``{discovery_prefix}/status`` =
``online``), as Home Assistant recommends.
"""

from __future__ import annotations

import json
from typing import Any

from edge import __version__
from edge.config import SiagaConfig
from edge.payloads import Hazard
from edge.topics import Topics

# Home Assistant binary-sensor device classes. An intrusion (a fence climbed, a door
# forced) is "safety" (on = unsafe): "vibration" would say "earthquake" again, and
# "motion" is a PIR's everyday state, not an emergency.
DEVICE_CLASS = {
    Hazard.FIRE: "smoke",
    Hazard.GAS: "gas",
    Hazard.FLOOD: "moisture",
    Hazard.EARTHQUAKE: "vibration",
    Hazard.INTRUSION: "safety",
    Hazard.TAMPER: "tamper",
    Hazard.DEVICE: "problem",
}
BIRTH = b"online"

_ATTRIBUTES = (
    "{{ {'state': value_json.state, 'stage': value_json.stage, 'value': value_json.value, "
    "'unit': value_json.unit, 'message': value_json.message, 'ts': value_json.ts, "
    "'seq': value_json.seq} | tojson }}"
)


def status_topic(config: SiagaConfig) -> str:
    """Where Home Assistant announces itself (its birth and last will)."""
    return f"{config.homeassistant.discovery_prefix}/status"


def object_id(config: SiagaConfig) -> str:
    return f"siaga-{config.site.id}-{config.site.device}"


def discovery_topic(config: SiagaConfig) -> str:
    return f"{config.homeassistant.discovery_prefix}/device/{object_id(config)}/config"


def discovery_payload(config: SiagaConfig) -> dict[str, Any]:
    """The device-based discovery document for this device and its sensors."""
    topics = Topics(config.mqtt.topic_prefix, config.site.id, config.site.device)
    uid = object_id(config).replace("-", "_")
    components: dict[str, dict[str, Any]] = {}
    for sensor in config.sensors:
        place = ", ".join(p for p in (sensor.name, sensor.location) if p) or sensor.id
        common = {
            "p": "binary_sensor",
            "state_topic": topics.state(sensor.id),
            "json_attributes_topic": topics.state(sensor.id),
            "json_attributes_template": _ATTRIBUTES,
        }
        key = sensor.id.replace("-", "_")
        components[key] = {
            **common,
            "name": place,
            "unique_id": f"{uid}_{key}",
            "device_class": DEVICE_CLASS[sensor.hazard],
            "value_template": "{{ 'ON' if value_json.state == 'alarm' else 'OFF' }}",
        }
        components[f"{key}_problem"] = {
            **common,
            "name": f"{place} problem",
            "unique_id": f"{uid}_{key}_problem",
            "device_class": "problem",
            "entity_category": "diagnostic",
            "value_template": (
                "{{ 'ON' if value_json.state in ['fault', 'disabled'] else 'OFF' }}"
            ),
        }
    site = config.site
    return {
        "device": {
            "identifiers": [uid],
            "name": f"Siaga {site.name or site.id} {site.device}",
            "manufacturer": "Siaga Edge",
            "model": "siaga-edge",
            "sw_version": __version__,
        },
        "origin": {"name": "siaga-edge", "sw_version": __version__},
        "availability": [
            {
                "topic": topics.status,
                "value_template": "{{ value_json.state }}",
                "payload_available": "online",
                "payload_not_available": "offline",
            }
        ],
        "qos": 1,
        "components": components,
    }


def discovery_message(config: SiagaConfig) -> tuple[str, bytes]:
    """(topic, payload) to publish, QoS 1, not retained."""
    payload = json.dumps(discovery_payload(config), separators=(",", ":"), ensure_ascii=False)
    return discovery_topic(config), payload.encode()


def is_birth(payload: bytes) -> bool:
    return payload.strip() == BIRTH
