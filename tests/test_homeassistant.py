"""Optional Home Assistant MQTT discovery: one device, binary sensors, availability."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker import Mosquitto
from gpiozero.pins.mock import MockFactory
from harness import Listener
from tools_support import tool_daemon, write_config

from edge.config import load_config
from edge.homeassistant import discovery_message, discovery_payload

HA = "\n[homeassistant]\nenabled = true\n"
TOPIC = "homeassistant/device/siaga-lapas-pi-a/config"


def test_every_sensor_is_a_binary_sensor_of_its_hazards_device_class(tmp_path: Path) -> None:
    components = discovery_payload(load_config(write_config(tmp_path, extra=HA)))["components"]
    assert {k: c["device_class"] for k, c in components.items() if "problem" not in k} == {
        "smoke_1": "smoke",
        "gas_1": "smoke",
    }
    assert components["smoke_1"]["state_topic"] == "siaga/v1/lapas/pi-a/state/smoke-1"
    assert components["smoke_1"]["value_template"] == (
        "{{ 'ON' if value_json.state == 'alarm' else 'OFF' }}"
    )


def test_every_sensor_has_a_diagnostic_problem_sensor_for_its_faults(tmp_path: Path) -> None:
    components = discovery_payload(load_config(write_config(tmp_path, extra=HA)))["components"]
    problem = components["gas_1_problem"]
    assert (problem["device_class"], problem["entity_category"]) == ("problem", "diagnostic")
    assert "'fault'" in problem["value_template"]


def test_water_level_is_moisture_and_vibration_is_vibration(tmp_path: Path) -> None:
    path = write_config(tmp_path, extra=HA)
    path.write_text(
        path.read_text()
        + '\n[[sensors]]\nid = "air"\nkind = "water_level"\n'
        + 'input = { type = "hcsr04", trigger = "GPIO23", echo = "GPIO24", mount_height_m = 2 }\n'
        + "alarm = 1.0\n"
        + '\n[[sensors]]\nid = "pagar"\nkind = "vibration"\n'
        + 'input = { type = "pulse", pin = "GPIO5" }\npulses = { window_s = 2, alarm = 5 }\n'
    )
    components = discovery_payload(load_config(path))["components"]
    assert (components["air"]["device_class"], components["pagar"]["device_class"]) == (
        "moisture",
        "vibration",
    )


@pytest.mark.parametrize(
    ("hazard", "device_class"),
    [
        ("fire", "smoke"),
        ("gas", "gas"),
        ("flood", "moisture"),
        ("earthquake", "vibration"),
        ("intrusion", "safety"),
        ("tamper", "tamper"),
    ],
)
def test_the_device_class_follows_the_hazard_not_the_kind(
    tmp_path: Path, hazard: str, device_class: str
) -> None:
    path = write_config(tmp_path, extra=HA)
    path.write_text(
        path.read_text()
        + f'\n[[sensors]]\nid = "pagar"\nkind = "vibration"\nhazard = "{hazard}"\n'
        + 'input = { type = "pulse", pin = "GPIO5" }\npulses = { window_s = 2, alarm = 5 }\n'
    )
    components = discovery_payload(load_config(path))["components"]
    assert components["pagar"]["device_class"] == device_class


def test_availability_follows_the_devices_status_topic(tmp_path: Path) -> None:
    payload = discovery_payload(load_config(write_config(tmp_path, extra=HA)))
    assert payload["availability"] == [
        {
            "topic": "siaga/v1/lapas/pi-a/status",
            "value_template": "{{ value_json.state }}",
            "payload_available": "online",
            "payload_not_available": "offline",
        }
    ]


def test_the_discovery_topic_is_device_based(tmp_path: Path) -> None:
    topic, _ = discovery_message(load_config(write_config(tmp_path, extra=HA)))
    assert topic == TOPIC


@pytest.fixture
def watcher(broker: Mosquitto) -> Iterator[Listener]:
    sub = Listener(broker.port, topic="homeassistant/#", client_id="ha")
    time.sleep(0.2)
    yield sub
    sub.client.disconnect()
    sub.client.loop_stop()


def test_the_daemon_announces_itself_on_connect_and_again_when_home_assistant_starts(
    broker: Mosquitto, tmp_path: Path, mock_factory: MockFactory, watcher: Listener
) -> None:
    running = tool_daemon(write_config(tmp_path, broker.url, extra=HA), mock_factory)
    try:
        assert watcher.wait_for(lambda s: len(s.payloads("/config")) == 1)
        watcher.client.publish("homeassistant/status", b"online", qos=1)
        assert watcher.wait_for(lambda s: len(s.payloads("/config")) == 2)
    finally:
        running.stop()
    topics = {t for t, _, _ in watcher.messages if t != "homeassistant/status"}
    assert topics == {TOPIC}
    assert not any(retained for t, _, retained in watcher.messages if t == TOPIC)


def test_a_daemon_with_home_assistant_disabled_publishes_no_discovery(
    broker: Mosquitto, tmp_path: Path, mock_factory: MockFactory, watcher: Listener
) -> None:
    events = Listener(broker.port, "siaga/v1/lapas/pi-a/events", client_id="events")
    running = tool_daemon(write_config(tmp_path, broker.url), mock_factory)
    try:
        assert events.wait_for(lambda s: len(s.events()) >= 2)  # connected, so subscribed
        watcher.client.publish("homeassistant/status", b"online", qos=1)
        # The device takes its inbound messages in order: once it has answered a resend
        # sent after the birth message, it has had its chance to answer the birth too.
        events.publish("siaga/v1/lapas/pi-a/resend", '{"from_seq": 1, "to_seq": 1}')
        assert events.wait_for(lambda s: any(u.get("sent") == "resend" for _, u in s.user))
    finally:
        events.close()
        running.stop()
    assert [t for t, _, _ in watcher.messages if t != "homeassistant/status"] == []


def test_the_discovery_document_is_json_under_the_brokers_packet_limit(tmp_path: Path) -> None:
    _, payload = discovery_message(load_config(write_config(tmp_path, extra=HA)))
    assert json.loads(payload)["device"]["identifiers"] == ["siaga_lapas_pi_a"]
    assert len(payload) < 65536  # deploy/mosquitto/siaga.conf max_packet_size
