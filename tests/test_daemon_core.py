"""The daemon's core without a broker or threads: a fake clock, a recorded publisher, a
real store and real mock pins, driven by ``step``. Each deadline a collaborator names
wakes the loop at exactly that time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import smoke_config
from gpiozero.pins.mock import MockFactory
from harness import Core

from edge.clock import FakeClock
from edge.daemon.courier import FLUSH_MARKS_S
from edge.daemon.sensor_set import SENSOR_RETRY_S
from edge.platform.monitor import Probe

STATE = "siaga/v1/lapas/pi-a/state/smoke-1"
ACK = "siaga/v1/lapas/pi-a/ack"
ACKED = "siaga/v1/lapas/pi-a/acked"
DRILL = {
    "name": "api",
    "scenario": {"duration_s": 1.0, "step": [{"at_s": 0.0, "sensor": "smoke-1", "value": 1.0}]},
}


def config(tmp_path: Path, **overrides: Any) -> Any:
    immediate = {
        "id": "smoke-1",
        "kind": "smoke",
        "name": "Dapur",
        "location": "Blok A",
        "input": {"type": "digital", "pin": "GPIO17", "active_low": True},
        "delay_on_s": 0.0,
        "delay_off_s": 0.0,
    }
    settings: dict[str, Any] = {"sensors": [immediate], "heartbeat__interval_s": 30.0}
    return smoke_config("mqtt://127.0.0.1:1", tmp_path / "outbox.sqlite3", **settings | overrides)


@pytest.fixture
def core(tmp_path: Path, mock_factory: MockFactory) -> Iterator[Core]:
    c = Core(config(tmp_path), mock_factory)
    c.connect()
    c.puback_all()
    c.step(FLUSH_MARKS_S)
    yield c
    c.stop()


def alarm_then_clear(core: Core) -> None:
    pin = core.factory.pin("GPIO17")
    pin.drive_low()
    core.step()
    pin.drive_high()
    core.step()


def retained(core: Core) -> list[dict[str, Any]]:
    return [p.json() for p in core.link.on("/state/smoke-1")]


def test_startup_events_wait_in_the_store_until_the_link_is_up(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    c = Core(config(tmp_path), mock_factory)
    c.step(5.0)
    assert c.link.events() == []
    c.connect()
    assert [e["state"] for e in c.link.events()] == ["starting", "normal"]
    c.stop()


def test_a_first_delivery_is_marked_delivered_only_when_its_mark_is_due(core: Core) -> None:
    core.factory.pin("GPIO17").drive_low()
    core.step()
    alarm = core.link.on("/events")[-1]
    core.puback(alarm)
    assert core.daemon.outbox.depth() == 1  # the PUBACK is in, its mark is still pending
    core.step(FLUSH_MARKS_S)
    assert core.daemon.outbox.depth() == 0


def test_an_unacknowledged_alarm_repeats_at_repeat_s_and_stops_at_the_ack(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    clock = FakeClock()
    c = Core(config(tmp_path, alerts__repeat_s=60.0), mock_factory, clock)
    c.connect()
    c.factory.pin("GPIO17").drive_low()
    c.step()
    c.puback_all()
    alarm = c.link.events()[-1]
    c.step(59.0)
    assert [e["seq"] for e in c.link.events()].count(alarm["seq"]) == 1
    c.step(2.0)
    repeats = [p for p in c.link.on("/events") if p.json()["seq"] == alarm["seq"]]
    assert len(repeats) == 2 and repeats[1].user == {"sent": "repeat", "ack": "open"}
    c.inbound(ACK, json.dumps({"event_id": alarm["id"], "by": "Bripka Sari"}))
    c.puback_all()
    c.step(120.0)
    assert len([p for p in c.link.on("/events") if p.json()["seq"] == alarm["seq"]]) == 2
    c.stop()


def test_every_ack_gets_a_receipt_saying_whether_the_device_took_it(core: Core) -> None:
    core.factory.pin("GPIO17").drive_low()
    core.step()
    alarm = core.link.events()[-1]
    core.inbound(ACK, json.dumps({"event_id": alarm["id"], "by": "Sari"}))
    core.inbound(ACK, json.dumps({"event_id": alarm["id"], "by": "Budi"}))
    core.inbound(ACK, json.dumps({"event_id": "no-such-event", "by": "Sari"}))
    core.inbound(ACK, json.dumps({"event_id": alarm["id"], "by": "Sari", "extra": 1}))
    core.inbound(ACK, json.dumps({"event_id": alarm["id"], "by": "Sari"}), retained=True)
    receipts = [
        (r["by"], r["accepted"], r["reason"]) for r in map(json.loads, payloads(core, ACKED))
    ]
    assert receipts[0] == ("Sari", True, None)
    assert receipts[1] == ("Budi", True, "already acknowledged")
    assert receipts[2] == ("Sari", False, "unknown event")
    assert receipts[3][1] is False and "extra" in (receipts[3][2] or "")
    assert receipts[4][1] is False and "retained" in (receipts[4][2] or "")
    assert all(p.qos == 1 and not p.retain for p in core.link.on("/acked"))


def payloads(core: Core, topic: str) -> list[bytes]:
    return [p.payload for p in core.link.sent if p.topic == topic]


def test_a_sensor_whose_pins_cannot_be_opened_is_tried_again_at_its_retry_time(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    from gpiozero import DigitalInputDevice

    holder = DigitalInputDevice("GPIO17", pin_factory=mock_factory)
    c = Core(config(tmp_path), mock_factory)
    c.connect()
    assert c.link.events()[-1]["state"] == "fault"
    assert c.daemon.sleep_for(c.clock.monotonic()) <= SENSOR_RETRY_S
    holder.close()
    c.step(SENSOR_RETRY_S)
    assert "smoke-1" in c.daemon.sensors.adapters
    c.stop()


# ---------------------------------------------------------------------- drills never real


def test_a_drill_never_becomes_the_retained_state_after_a_lost_state_puback(core: Core) -> None:
    """Regression: a real clear whose retained-state PUBACK was lost, then a drill; the
    overdue re-publish must show the real clear, not the drill's alarm."""
    alarm_then_clear(core)
    states = core.link.on("/state/smoke-1")
    core.puback(*[p for p in core.link.on("/events") if p.mid not in core._answered])
    core._answered |= {p.mid for p in core.link.sent}
    assert states[-1].json()["state"] == "normal"  # its PUBACK never comes
    core.daemon.drill_start(DRILL, "test")
    core.step(1.5)
    assert any(e["drill"] and e["state"] == "alarm" for e in core.link.events())
    core.step(31.0)
    again = core.link.on("/state/smoke-1")[len(states) :]
    assert again, "the overdue retained state was not published again"
    assert all(p.json()["state"] == "normal" and not p.json()["drill"] for p in again)


def test_the_first_event_after_a_restart_names_the_real_previous_state_not_a_drills(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    c = Core(config(tmp_path), mock_factory)
    c.connect()
    c.puback_all()
    c.daemon.drill_start(DRILL, "test")
    c.step(1.5)
    assert any(e["drill"] and e["state"] == "alarm" for e in c.link.events())
    c.stop()
    mock_factory.reset()
    again = Core(config(tmp_path), mock_factory)
    again.connect()
    starting = next(e for e in again.link.events() if e["reason"] == "startup")
    assert starting["state"] == "starting" and starting["previous"] == "normal"
    assert all(not p.json()["drill"] for p in again.link.on("/state/smoke-1"))
    again.stop()


def test_a_walk_of_time_wakes_the_loop_for_the_heartbeat_and_nothing_else(core: Core) -> None:
    beats = len(core.link.on("/heartbeat"))
    now = core.clock.monotonic()
    assert core.daemon.sleep_for(now) <= 1.0  # never longer than the idle wake
    core.step(30.0)
    assert len(core.link.on("/heartbeat")) == beats + 1


# ---------------------------------------------------------------------- walk tests, zones


def test_a_walk_test_flags_its_events_never_sounds_never_repeats_and_ends_by_itself(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    c = Core(config(tmp_path, alerts__repeat_s=60.0), mock_factory)
    c.connect()
    c.puback_all()
    c.daemon.walk_test_start(["smoke-1"], 1.0, "teknisi")
    pin, siren = c.factory.pin("GPIO17"), c.factory.pin("GPIO27")
    pin.drive_low()
    c.step()
    c.puback_all()
    alarm = c.link.events()[-1]
    assert (alarm["state"], alarm["test"], alarm["requires_ack"]) == ("alarm", True, False)
    assert "UJI" in alarm["message"] and not siren.state
    assert all(not p.json()["test"] for p in c.link.on("/state/smoke-1"))  # never retained
    pin.drive_high()
    c.step(59.0)
    c.puback_all()
    assert [e["seq"] for e in c.link.events()].count(alarm["seq"]) == 1  # never repeated
    c.step(2.0)  # the minute is up: the test ends by itself
    markers = [e for e in c.link.events() if e["sensor"] == "_device" and e["reason"] == "test"]
    assert len(markers) == 2 and all(m["test"] for m in markers)
    assert not c.daemon.walk.in_test("smoke-1", c.clock.monotonic())
    names = [name for _, name, _ in c.daemon.outbox.audit_log()]
    assert names.count("walk_test_start") == 1 and names.count("walk_test_end") == 1
    pin.drive_low()  # back in real service: a real alarm, with the siren
    c.step()
    assert c.link.events()[-1]["test"] is False and c.link.events()[-1]["requires_ack"]
    assert siren.state
    c.stop()


def test_a_sensor_still_in_alarm_when_its_walk_test_ends_is_published_as_real(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    c = Core(config(tmp_path), mock_factory)
    c.connect()
    c.puback_all()
    c.daemon.walk_test_start(["smoke-1"], 1.0, "teknisi")
    c.factory.pin("GPIO17").drive_low()
    c.step(61.0)
    c.puback_all()
    real = max(
        (e for e in c.link.events() if e["sensor"] == "smoke-1" and not e["test"]),
        key=lambda e: e["seq"],
    )
    assert (real["state"], real["previous"], real["requires_ack"]) == ("alarm", "normal", True)
    assert max(s["seq"] for s in retained(c)) == real["seq"]
    c.stop()


def zone_config(tmp_path: Path) -> Any:
    def detector(i: int) -> dict[str, Any]:
        return {
            "id": f"smoke-{i}",
            "kind": "smoke",
            "name": f"Dapur {i}",
            "input": {"type": "digital", "pin": f"GPIO{16 + i}", "active_low": True},
        }

    zone = {
        "id": "dapur",
        "members": ["smoke-1", "smoke-2"],
        "rule": "two_detector",
        "confirm_s": 60.0,
        "latch": True,
    }
    return config(tmp_path, sensors=[detector(1), detector(2)], zones=[zone])


def test_a_two_detector_zone_pre_alarms_on_one_and_alarms_on_the_second(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    c = Core(zone_config(tmp_path), mock_factory)
    c.connect()
    siren = c.factory.pin("GPIO27")
    c.factory.pin("GPIO17").drive_low()
    c.step()
    zone = [e for e in c.link.events() if e["sensor"] == "dapur"]
    assert (zone[-1]["state"], zone[-1]["reason"]) == ("warning", "confirming")
    member = [e for e in c.link.events() if e["sensor"] == "smoke-1"][-1]
    assert member["zone"] == "dapur" and not member["requires_ack"] and not siren.state
    c.factory.pin("GPIO18").drive_low()
    c.step()
    zone = [e for e in c.link.events() if e["sensor"] == "dapur"]
    assert zone[-1]["state"] == "alarm" and zone[-1]["requires_ack"] and siren.state
    c.stop()


def test_a_latched_zone_stays_in_alarm_until_acknowledged_after_the_smoke_clears(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    c = Core(zone_config(tmp_path), mock_factory)
    c.connect()
    for pin in ("GPIO17", "GPIO18"):
        c.factory.pin(pin).drive_low()
    c.step()
    for pin in ("GPIO17", "GPIO18"):
        c.factory.pin(pin).drive_high()
    c.step(120.0)
    zone = [e for e in c.link.events() if e["sensor"] == "dapur"]
    assert zone[-1]["state"] == "alarm"  # the smoke is gone, the latch holds
    c.puback_all()
    c.inbound(ACK, json.dumps({"event_id": zone[-1]["id"], "by": "Sari"}))
    zone = [e for e in c.link.events() if e["sensor"] == "dapur"]
    assert zone[-1]["state"] == "normal"
    c.stop()


# ---------------------------------------------------------------------- the Pi under it


def pi_probe(tmp_path: Path, mount: str = "ext4") -> tuple[Probe, dict[str, str]]:
    """A fake sysfs (firmware flags, a watchdog) and a mountinfo with the store on ``mount``."""
    flags = tmp_path / "get_throttled"
    flags.write_text("0\n")
    dog = tmp_path / "watchdog" / "watchdog0"
    dog.mkdir(parents=True)
    (dog / "state").write_text("active\n")
    (dog / "timeout").write_text("15\n")
    info = f"27 1 0:1 / / rw - ext4 /dev/mmcblk0p2 rw\n30 27 0:2 / {tmp_path} rw - {mount} x rw\n"
    probe = Probe(mountinfo=lambda: info, clock_synced=lambda: True, judge_host=True)
    paths = {"throttled_path": str(flags), "watchdog_path": str(tmp_path / "watchdog")}
    return probe, paths


def test_a_store_on_tmpfs_is_a_device_fault_event_and_in_the_heartbeat(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    probe, paths = pi_probe(tmp_path, mount="tmpfs")
    store = str(tmp_path / "outbox.sqlite3")
    cfg = config(tmp_path, platform=paths, storage={"path": store})
    core = Core(cfg, mock_factory, probe=probe)
    core.connect()
    core.step()
    (fault,) = [e for e in core.link.events() if e["reason"] == "storage"]
    assert (fault["sensor"], fault["state"]) == ("_device", "fault")
    assert "not durable" in fault["message"]
    beat = core.link.on("/heartbeat")[-1].json()
    assert (beat["storage_durable"], beat["storage_fs"], beat["watchdog_armed"]) == (
        False,
        "tmpfs",
        True,
    )
    core.stop()


def test_under_voltage_is_a_device_fault_within_5_s_and_normal_after_it_ends(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    probe, paths = pi_probe(tmp_path)
    core = Core(config(tmp_path, platform=paths), mock_factory, probe=probe)
    core.connect()
    core.step()
    assert not [e for e in core.link.events() if e["reason"] == "power"]
    Path(paths["throttled_path"]).write_text("50005\n")
    core.step(5.0)
    (fault,) = [e for e in core.link.events() if e["reason"] == "power"]
    assert (fault["sensor"], fault["state"]) == ("_device", "fault")
    core.puback_all()
    Path(paths["throttled_path"]).write_text("50000\n")
    core.step(30.0)  # past the next heartbeat too
    states = [e["state"] for e in core.link.events() if e["reason"] == "power"]
    assert states == ["fault", "normal"]
    beat = core.link.on("/heartbeat")[-1].json()
    assert (beat["under_voltage"], beat["throttled_flags"]) == (False, "0x50000")
    core.stop()


def test_a_drill_votes_through_its_own_zones_as_a_real_event_would(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    c = Core(zone_config(tmp_path), mock_factory)
    c.connect()
    c.daemon.drill_start(
        {
            "name": "satu detektor",
            "scenario": {
                "duration_s": 2.0,
                "step": [{"at_s": 0.0, "sensor": "smoke-1", "value": 1.0}],
            },
        },
        "pelatih",
    )
    c.step(1.0)
    drill = [e for e in c.link.events() if e["drill"]]
    member = [e for e in drill if e["sensor"] == "smoke-1" and e["state"] == "alarm"]
    zone = [e for e in drill if e["sensor"] == "dapur"]
    assert member and not member[-1]["requires_ack"]  # one detector is a vote, drill or not
    assert zone and (zone[-1]["state"], zone[-1]["reason"]) == ("warning", "confirming")
    assert all(
        e["sensor"] != "dapur"
        for e in c.link.events()
        if not e["drill"] and e["state"] != "normal" and e["reason"] != "startup"
    )
    c.stop()


def latency_events(core: Core) -> list[tuple[str, str]]:
    return [(e["state"], e["message"]) for e in core.link.events() if e["reason"] == "latency"]


def test_a_backlog_of_late_alarms_is_one_latency_fault_and_one_normal_once_caught_up(
    core: Core,
) -> None:
    core.disconnect()
    for _ in range(3):
        alarm_then_clear(core)
    core.step(30.0)  # three alarms, each 30 s late by the time the link is back
    core.connect()
    first, *rest = [p for p in core.link.on("/events") if p.json()["state"] == "alarm"]
    core.puback(first)
    assert [s for s, _ in latency_events(core)] == ["fault"]  # two more alarms still wait
    core.puback(*rest)
    (fault, fault_text), (normal, normal_text) = latency_events(core)
    assert (fault, normal) == ("fault", "normal")
    assert "took 30.0 s (budget 10 s)" in fault_text
    assert "3 alarms were later than 10 s, the slowest 30.0 s" in normal_text


def test_an_alarm_delivered_within_its_budget_raises_no_latency_event(core: Core) -> None:
    alarm_then_clear(core)
    core.step(9.0)
    core.puback_all()
    core.step(60.0)
    assert latency_events(core) == []
