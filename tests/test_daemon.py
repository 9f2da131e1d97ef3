"""The daemon end to end on a real mosquitto, with gpiozero mock pins as the sensors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from broker import Mosquitto
from factories import make_event, smoke_config, unique_by_id
from gpiozero.pins.mock import MockFactory
from harness import Listener, ThreadedDaemon
from structlog.testing import capture_logs

from edge.detect.types import State
from edge.outbox import Outbox
from edge.payloads import SEQ_MAX
from edge.schema import payload_schema


@pytest.fixture
def sub(listener: Listener) -> Listener:
    return listener


@pytest.fixture
def running(broker: Mosquitto, tmp_path: Path, sub: Listener) -> Iterator[ThreadedDaemon]:
    r = ThreadedDaemon(smoke_config(broker.url, tmp_path / "outbox.sqlite3"), MockFactory())
    yield r
    if r.thread.is_alive():
        r.stop()


def states(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["state"], e["reason"]) for e in events]


def test_startup_publishes_starting_then_the_first_real_state(
    running: ThreadedDaemon, sub: Listener
) -> None:
    assert sub.wait_for(lambda s: len(s.events()) >= 2)
    assert states(sub.events()) == [("starting", "startup"), ("normal", "startup")]


def test_a_verified_smoke_alarm_reaches_the_control_room(
    running: ThreadedDaemon, sub: Listener
) -> None:
    sub.wait_for(lambda s: len(s.events()) >= 2)
    running.smoke_pin.drive_low()  # active low: the detector's relay closes
    assert sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
    alarm = next(e for e in sub.events() if e["state"] == "alarm")
    assert alarm["reason"] == "contact"
    assert alarm["severity"] == "critical"
    assert alarm["requires_ack"] is True
    assert alarm["message"] == "KEBAKARAN: asap terdeteksi di Dapur, Blok A"


def test_a_contact_shorter_than_delay_on_raises_nothing(
    running: ThreadedDaemon, sub: Listener
) -> None:
    sub.wait_for(lambda s: len(s.events()) >= 2)
    running.smoke_pin.drive_low()
    time.sleep(0.05)
    running.smoke_pin.drive_high()
    time.sleep(0.6)
    assert states(sub.events()) == [("starting", "startup"), ("normal", "startup")]


def test_every_payload_validates_against_the_generated_schema(
    running: ThreadedDaemon, sub: Listener
) -> None:
    running.smoke_pin.drive_low()
    sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
    sub.wait_for(lambda s: len(s.payloads("/heartbeat")) >= 1)
    running.stop()
    schemas = {name: payload_schema(name) for name in ("event", "status", "heartbeat")}
    checked = 0
    for topic, payload, _ in sub.messages:
        kind = "event" if "/events" in topic or "/state/" in topic else topic.rsplit("/", 1)[1]
        jsonschema.validate(json.loads(payload), schemas[kind])
        checked += 1
    assert checked >= 5


def test_seq_runs_from_1_without_gaps(running: ThreadedDaemon, sub: Listener) -> None:
    for _ in range(3):
        running.smoke_pin.drive_low()
        time.sleep(0.35)
        running.smoke_pin.drive_high()
        time.sleep(0.65)
    sub.wait_for(lambda s: len(unique_by_id(s.events())) >= 8)
    seqs = [e["seq"] for e in unique_by_id(sub.events())]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) == 8  # starting, normal, then 3 x (alarm, normal)


def test_retained_state_and_status_are_there_for_a_late_subscriber(
    running: ThreadedDaemon, broker: Mosquitto
) -> None:
    running.smoke_pin.drive_low()
    time.sleep(0.6)
    late = Listener(broker.port, client_id="late")
    try:
        assert late.wait_for(
            lambda s: bool(s.payloads("/state/smoke-1")) and bool(s.payloads("/status"))
        )
        assert late.payloads("/state/smoke-1")[-1]["state"] == "alarm"
        assert late.payloads("/status")[-1]["state"] == "online"
        assert all(retained for t, _, retained in late.messages if "/state/" in t or "/status" in t)
    finally:
        late.close()


def test_a_clean_stop_publishes_offline_and_exits_0(running: ThreadedDaemon, sub: Listener) -> None:
    sub.wait_for(lambda s: bool(s.payloads("/status")))
    assert running.stop() == 0
    assert sub.wait_for(lambda s: s.payloads("/status")[-1]["state"] == "offline")


def test_an_ack_silences_the_siren_and_stops_the_repeats(
    running: ThreadedDaemon, sub: Listener
) -> None:
    running.smoke_pin.drive_low()
    assert sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
    siren = running.factory.pin("GPIO27")
    assert siren.state
    alarm = next(e for e in sub.events() if e["state"] == "alarm")
    sub.client.publish(
        "siaga/v1/lapas/pi-a/ack", json.dumps({"event_id": alarm["id"], "by": "Bripka Sari"}), qos=1
    )
    deadline = time.monotonic() + 5
    while siren.state and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not siren.state
    assert running.daemon.outbox is not None and running.daemon.outbox.is_acked(alarm["id"])


def test_malformed_inbound_messages_are_dropped_and_events_keep_flowing(
    running: ThreadedDaemon, sub: Listener
) -> None:
    assert sub.wait_for(lambda s: len(s.events()) >= 2)  # connected, so subscribed
    for bad in [b"", b"not json", b'{"event_id": 5}', b'{"from_seq": "x"}', b"\xff" * 10_000]:
        sub.client.publish("siaga/v1/lapas/pi-a/ack", bad, qos=1)
        sub.client.publish("siaga/v1/lapas/pi-a/resend", bad, qos=1)
    time.sleep(0.3)
    running.smoke_pin.drive_low()
    assert sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
    assert running.thread.is_alive()


def test_a_resend_at_the_top_of_the_seq_range_finds_nothing_and_events_keep_flowing(
    running: ThreadedDaemon, sub: Listener
) -> None:
    assert sub.wait_for(lambda s: len(s.events()) >= 2)  # connected, so subscribed
    for lo, hi in [(SEQ_MAX - 5, SEQ_MAX), (SEQ_MAX, SEQ_MAX), (SEQ_MAX + 1, SEQ_MAX + 9)]:
        sub.client.publish(
            "siaga/v1/lapas/pi-a/resend", json.dumps({"from_seq": lo, "to_seq": hi}), qos=1
        )
    time.sleep(0.3)
    running.smoke_pin.drive_low()
    assert sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
    assert running.thread.is_alive()


def test_a_message_whose_handling_fails_unexpectedly_is_dropped_and_alarms_keep_flowing(
    running: ThreadedDaemon, sub: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    called = threading.Event()

    def broken(outbox: object, ack: object) -> None:
        called.set()
        raise RuntimeError("a bug in ack handling")

    monkeypatch.setattr("edge.daemon.core.take_ack", broken)
    assert sub.wait_for(lambda s: len(s.events()) >= 2)  # connected, so subscribed
    with capture_logs() as logs:
        sub.client.publish(
            "siaga/v1/lapas/pi-a/ack", json.dumps({"event_id": "e-1", "by": "Sari"}), qos=1
        )
        assert called.wait(10)
        running.smoke_pin.drive_low()
        assert sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
    assert running.thread.is_alive()
    failed = [e for e in logs if e["event"] == "inbound_failed"]
    assert [(e["topic"], e["log_level"]) for e in failed] == [("siaga/v1/lapas/pi-a/ack", "error")]


def publish_retained_resend(sub: Listener) -> None:
    sub.client.publish(
        "siaga/v1/lapas/pi-a/resend",
        json.dumps({"from_seq": 1, "to_seq": 2}),
        qos=1,
        retain=True,
    ).wait_for_publish(5)


def wait_logged(logs: list[dict[str, Any]], *events: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(e["event"] in events for e in logs):
        time.sleep(0.05)


def test_a_retained_resend_is_dropped_not_replayed_at_every_connect(
    broker: Mosquitto, tmp_path: Path, sub: Listener
) -> None:
    publish_retained_resend(sub)
    with capture_logs() as logs:
        r = ThreadedDaemon(smoke_config(broker.url, tmp_path / "outbox.sqlite3"), MockFactory())
        try:
            assert sub.wait_for(lambda s: len(s.events()) >= 2)
            wait_logged(logs, "inbound_dropped")
            r.smoke_pin.drive_low()
            assert sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
        finally:
            r.stop()
    dropped = [e for e in logs if e["event"] == "inbound_dropped"]
    assert [e["reason"].split(":")[0] for e in dropped] == ["retained"]
    assert [e["seq"] for e in sub.events()] == sorted({e["seq"] for e in sub.events()})


def test_a_resend_published_retained_while_the_device_listens_is_dropped(
    running: ThreadedDaemon, sub: Listener
) -> None:
    assert sub.wait_for(lambda s: len(s.events()) >= 2)  # connected, so subscribed
    with capture_logs() as logs:
        publish_retained_resend(sub)
        wait_logged(logs, "inbound_dropped", "resend_requested")
    sub.client.publish("siaga/v1/lapas/pi-a/resend", b"", qos=1, retain=True)  # clear it
    handled = [e for e in logs if e["event"] in ("inbound_dropped", "resend_requested")]
    assert [(e["event"], e["reason"].split(":")[0]) for e in handled] == [
        ("inbound_dropped", "retained")
    ]


def resent(sub: Listener, seq: int) -> list[dict[str, str]]:
    with sub.lock:
        return [u for p, u in sub.user if json.loads(p)["seq"] == seq and u.get("sent")]


def test_a_resent_event_says_whether_it_still_waits_for_an_ack(
    running: ThreadedDaemon, sub: Listener
) -> None:
    assert sub.wait_for(lambda s: len(s.events()) >= 2)
    running.smoke_pin.drive_low()
    assert sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
    alarm = next(e for e in sub.events() if e["state"] == "alarm")
    topic = "siaga/v1/lapas/pi-a/resend"
    sub.client.publish(topic, json.dumps({"from_seq": 1, "to_seq": alarm["seq"]}), qos=1)
    assert sub.wait_for(lambda s: len(resent(s, alarm["seq"])) == 1)
    assert resent(sub, 1) == [{"sent": "resend", "ack": "closed"}]  # needs no ack
    assert resent(sub, alarm["seq"]) == [{"sent": "resend", "ack": "open"}]
    sub.client.publish(
        "siaga/v1/lapas/pi-a/ack", json.dumps({"event_id": alarm["id"], "by": "Sari"}), qos=1
    )
    outbox = running.daemon.outbox
    assert outbox is not None
    deadline = time.monotonic() + 5
    while not outbox.is_acked(alarm["id"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    sub.client.publish(topic, json.dumps({"from_seq": alarm["seq"], "to_seq": alarm["seq"]}), qos=1)
    assert sub.wait_for(lambda s: len(resent(s, alarm["seq"])) == 2)
    assert resent(sub, alarm["seq"])[-1] == {"sent": "resend", "ack": "closed"}


def test_a_repeat_says_it_is_a_repeat_and_still_waits_for_its_ack(
    broker: Mosquitto, tmp_path: Path, sub: Listener
) -> None:
    config = smoke_config(broker.url, tmp_path / "outbox.sqlite3", alerts__repeat_s=0.5)
    r = ThreadedDaemon(config, MockFactory())
    try:
        r.smoke_pin.drive_low()
        assert sub.wait_for(lambda s: sum(e["state"] == "alarm" for e in s.events()) >= 2)
        with sub.lock:
            heard = [u for p, u in sub.user if json.loads(p)["state"] == "alarm"]
        assert heard[0] == {}  # the first delivery carries no properties
        assert heard[1] == {"sent": "repeat", "ack": "open"}
    finally:
        r.stop()


def test_a_stored_event_damaged_on_disk_is_reported_and_the_rest_delivered(
    broker: Mosquitto, tmp_path: Path, sub: Listener
) -> None:
    store = tmp_path / "outbox.sqlite3"
    box = Outbox(store)
    for _ in range(4):
        box.append(lambda seq: make_event(seq, state=State.NORMAL))
    box.close()
    data = bytearray(store.read_bytes())
    at = data.index(make_event(2).ts.encode())  # one byte inside seq 2's payload
    data[at + 3] ^= 0x01
    store.write_bytes(bytes(data))
    r = ThreadedDaemon(smoke_config(broker.url, store), MockFactory())
    try:
        assert sub.wait_for(lambda s: any(e["reason"] == "storage" for e in s.events()))
        assert sub.wait_for(lambda s: {1, 3, 4} <= {e["seq"] for e in s.events()})
    finally:
        r.stop()
    seqs = {e["seq"] for e in sub.events()}
    assert 2 not in seqs
    fault = next(e for e in sub.events() if e["reason"] == "storage")
    assert (fault["sensor"], fault["state"]) == ("_device", "fault")
    assert "stored events seq 2 no longer match their checksum" in fault["message"]


def test_resend_publishes_the_asked_range_again_with_the_same_ids(
    running: ThreadedDaemon, sub: Listener
) -> None:
    sub.wait_for(lambda s: len(s.events()) >= 2)
    first = {e["seq"]: e["id"] for e in sub.events()}
    sub.client.publish(
        "siaga/v1/lapas/pi-a/resend", json.dumps({"from_seq": 1, "to_seq": 2}), qos=1
    )
    assert sub.wait_for(lambda s: len(s.events()) >= 4)
    again = sub.events()[2:4]
    assert [(e["seq"], e["id"]) for e in again] == [(1, first[1]), (2, first[2])]


def test_events_created_while_the_broker_is_down_arrive_in_order_when_it_returns(
    broker: Mosquitto, tmp_path: Path
) -> None:
    broker.stop()
    r = ThreadedDaemon(smoke_config(broker.url, tmp_path / "outbox.sqlite3"), MockFactory())
    try:
        r.smoke_pin.drive_low()
        time.sleep(0.5)
        r.smoke_pin.drive_high()
        time.sleep(0.7)
        broker.start()
        sub = Listener(broker.port, client_id="after")
        try:
            assert sub.wait_for(lambda s: len(unique_by_id(s.events())) >= 4, timeout=20)
            got = unique_by_id(sub.events())
            assert [e["seq"] for e in got] == [1, 2, 3, 4]
            assert states(got) == [
                ("starting", "startup"),
                ("normal", "startup"),
                ("alarm", "contact"),
                ("normal", "cleared"),
            ]
        finally:
            sub.close()
    finally:
        r.stop()


def test_english_messages_when_the_site_language_is_en(
    broker: Mosquitto, tmp_path: Path, sub: Listener
) -> None:
    cfg = smoke_config(
        broker.url, tmp_path / "o.sqlite3", site={"id": "lapas", "device": "pi-a", "language": "en"}
    )
    r = ThreadedDaemon(cfg, MockFactory())
    try:
        r.smoke_pin.drive_low()
        assert sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
        alarm = next(e for e in sub.events() if e["state"] == "alarm")
        assert alarm["message"] == "FIRE: smoke detected at Dapur, Blok A"
    finally:
        r.stop()


def test_an_alarm_slower_than_its_latency_budget_raises_a_device_fault(
    broker: Mosquitto, tmp_path: Path, sub: Listener
) -> None:
    cfg = smoke_config(broker.url, tmp_path / "o.sqlite3", alerts={"latency_budget_s": 1e-6})
    r = ThreadedDaemon(cfg, MockFactory())
    try:
        r.smoke_pin.drive_low()
        assert sub.wait_for(lambda s: any(e["reason"] == "latency" for e in s.events()))
        late = next(e for e in sub.events() if e["reason"] == "latency")
        assert (late["sensor"], late["kind"], late["state"]) == ("_device", "device", "fault")
        assert late["requires_ack"] is True
    finally:
        r.stop()


def test_the_heartbeat_reports_health(running: ThreadedDaemon, sub: Listener) -> None:
    running.smoke_pin.drive_low()
    assert sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
    assert sub.wait_for(
        lambda s: any(b["last_alarm_latency_s"] is not None for b in s.payloads("/heartbeat")),
        timeout=5,
    )
    beat = sub.payloads("/heartbeat")[-1]
    assert beat["sensors"]["smoke-1"]["state"] == "alarm"
    assert beat["broker_connected"] is True
    assert beat["last_seq"] == 3
    assert beat["outbox_depth"] == 0
    assert beat["unacknowledged_alarms"] == 1
    assert 0 < beat["last_alarm_latency_s"] < 1.0
    assert beat["storage_ok"] is True


def test_mqtt_3_1_1_can_be_selected(broker: Mosquitto, tmp_path: Path, sub: Listener) -> None:
    cfg = smoke_config(
        broker.url, tmp_path / "o.sqlite3", mqtt={"url": broker.url, "protocol": "3.1.1"}
    )
    r = ThreadedDaemon(cfg, MockFactory())
    try:
        r.smoke_pin.drive_low()
        assert sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
        assert sub.wait_for(lambda s: r.daemon.outbox is not None and r.daemon.outbox.depth() == 0)
    finally:
        r.stop()


def test_a_sensor_whose_pin_cannot_be_opened_is_a_fault_and_opens_once_the_pin_is_free(
    broker: Mosquitto, tmp_path: Path, sub: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gpiozero import DigitalInputDevice

    monkeypatch.setattr("edge.daemon.sensor_set.SENSOR_RETRY_S", 0.3)
    factory = MockFactory()
    holder = DigitalInputDevice("GPIO17", pin_factory=factory)  # another program has it
    r = ThreadedDaemon(smoke_config(broker.url, tmp_path / "outbox.sqlite3"), factory)
    try:
        assert sub.wait_for(lambda s: any(e["state"] == "fault" for e in s.events()))
        assert states(sub.events()) == [("starting", "startup"), ("fault", "no_data")]
        assert r.thread.is_alive()
        holder.close()  # the pin is free again: the daemon opens it by itself
        assert sub.wait_for(lambda s: len(s.events()) >= 3, timeout=10)
        assert states(sub.events())[2] == ("normal", "cleared")
        r.smoke_pin.drive_low()
        assert sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
    finally:
        r.stop()


def test_a_siren_that_cannot_be_opened_is_a_device_fault_and_alarms_still_flow(
    broker: Mosquitto, tmp_path: Path, sub: Listener
) -> None:
    from gpiozero import DigitalOutputDevice

    factory = MockFactory()
    holder = DigitalOutputDevice("GPIO27", pin_factory=factory)
    r = ThreadedDaemon(smoke_config(broker.url, tmp_path / "outbox.sqlite3"), factory)
    try:
        assert sub.wait_for(lambda s: any(e["sensor"] == "_device" for e in s.events()))
        device = next(e for e in sub.events() if e["sensor"] == "_device")
        assert (device["state"], device["reason"]) == ("fault", "outputs")
        assert "outputs.siren_pin" in device["message"]
        r.smoke_pin.drive_low()
        assert sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
    finally:
        r.stop()
        holder.close()
