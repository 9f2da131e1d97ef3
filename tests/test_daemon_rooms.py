"""Each room of the daemon on its own: a store in ``tmp_path``, a recorded publisher, time
passed in by the test. No broker, no threads, no sleep."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from factories import make_event, smoke_config
from gpiozero import DigitalInputDevice
from gpiozero.pins.mock import MockFactory
from harness import FakePublisher

from edge.clock import FakeClock
from edge.config import validate_config
from edge.daemon.courier import FLUSH_MARKS_S, REPEAT_CHECK_S, Courier
from edge.daemon.drills import DRILL_CLOSED_BY, DrillRunner
from edge.daemon.health import Health, StoreFigures
from edge.daemon.inbound import Dropped, HaBirth, Ignored, parse_inbound
from edge.daemon.recorder import STORE_RETRY_S, Recorder
from edge.daemon.reload import plan_reload
from edge.daemon.sensor_set import SENSOR_RETRY_S, SensorSet
from edge.detect.types import Reason, State
from edge.outbox import Outbox, StorageError
from edge.payloads import Ack, Resend
from edge.topics import Topics

TOPICS = Topics("siaga/v1", "lapas", "pi-a")
T0 = 1000.0


def cfg(tmp_path: Path, **overrides: Any) -> Any:
    return smoke_config("mqtt://127.0.0.1:1", tmp_path / "outbox.sqlite3", **overrides)


def store(tmp_path: Path, clock: FakeClock | None = None) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite3", wall=(clock or FakeClock()).wall)


def connected() -> FakePublisher:
    link = FakePublisher()
    link.connected.set()
    return link


def courier(box: Outbox, link: FakePublisher, **mqtt: Any) -> Courier:
    config = smoke_config("mqtt://127.0.0.1:1", box.path, mqtt={"url": "mqtt://x:1", **mqtt})
    return Courier(box, link, TOPICS, config.mqtt, repeat_s=60.0, now=T0)


# ---------------------------------------------------------------------- courier


def test_the_courier_hands_over_first_deliveries_in_seq_order_within_its_window(
    tmp_path: Path,
) -> None:
    box = store(tmp_path)
    for _ in range(12):
        box.append(make_event)
    c = courier(box, connected(), inflight=5)
    assert c.pump(T0) == 5
    assert [json.loads(p.payload)["seq"] for p in c.publisher.sent] == [1, 2, 3, 4, 5]  # type: ignore[attr-defined]
    assert c.pump(T0) == 0  # the window is full until PUBACKs come


def test_a_pending_mark_is_committed_when_its_flush_time_comes_not_before(tmp_path: Path) -> None:
    box = store(tmp_path)
    box.append(make_event)
    link = connected()
    c = courier(box, link)
    c.pump(T0)
    assert c.on_puback(link.sent[0].mid, True, "", T0) == 1
    c.run_due(T0 + FLUSH_MARKS_S / 2)
    assert box.depth() == 1
    assert c.wake_at(T0) == pytest.approx(T0 + FLUSH_MARKS_S)
    c.run_due(T0 + FLUSH_MARKS_S)
    assert box.depth() == 0


def test_a_paced_drain_wakes_at_the_refill_time_of_its_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("edge.daemon.courier.REPEAT_CHECK_S", 60.0)  # only the pace wakes it
    box = store(tmp_path)
    for _ in range(30):
        box.append(make_event)
    link = connected()
    c = courier(box, link, inflight=10, drain_per_s=5.0)
    assert c.pump(T0) == 10
    for p in list(link.sent):
        c.on_puback(p.mid, True, "", T0)
    assert c.pump(T0) == 0  # the window is free, the tokens are spent
    c.flush_marks(T0)
    assert c.wake_at(T0) == pytest.approx(T0 + 10 / 5.0)
    assert c.pump(T0 + 2.0) == 10


def test_an_unacknowledged_alarm_repeats_at_repeat_s(tmp_path: Path) -> None:
    clock = FakeClock(start_mono=T0)
    box = store(tmp_path, clock)
    box.append(make_event)
    link = connected()
    c = courier(box, link)
    c.pump(T0)
    c.on_puback(link.sent[0].mid, True, "", T0)
    c.flush_marks(T0)
    clock.advance(59.0)
    c.run_due(T0 + 59.0)
    assert c.pump(T0 + 59.0) == 0 and len(link.sent) == 1
    clock.advance(1.0 + REPEAT_CHECK_S)
    c.run_due(T0 + 60.0 + REPEAT_CHECK_S)
    c.pump(T0 + 60.0 + REPEAT_CHECK_S)
    assert len(link.sent) == 2 and link.sent[1].user == {"sent": "repeat", "ack": "open"}


def test_a_resend_is_answered_from_the_store_marked_as_a_resend(tmp_path: Path) -> None:
    box = store(tmp_path)
    for _ in range(3):
        box.append(make_event)
    link = connected()
    c = courier(box, link)
    c.pump(T0)
    for p in list(link.sent):
        c.on_puback(p.mid, True, "", T0)
    c.resend(Resend(from_seq=2, to_seq=3))
    c.pump(T0)
    again = link.sent[3:]
    assert [json.loads(p.payload)["seq"] for p in again] == [2, 3]
    assert all(p.user == {"sent": "resend", "ack": "open"} for p in again)


def test_a_drill_or_walk_test_never_becomes_the_retained_state_on_any_path(tmp_path: Path) -> None:
    box = store(tmp_path)
    link = connected()
    c = courier(box, link)
    real = box.append(lambda s: make_event(s, state=State.NORMAL))
    c.retain(real, T0)
    lost = link.on("/state/smoke-1")[-1]  # its PUBACK never comes
    drill = box.append(lambda s: make_event(s).model_copy(update={"drill": True}))
    test = box.append(lambda s: make_event(s).model_copy(update={"test": True}))
    c.retain(drill, T0)
    c.retain(test, T0)
    c.run_due(T0 + 61.0)  # the overdue path sends the retained state again
    c.on_connected(T0 + 62.0, b"{}", sensors=1)  # and so does a reconnect
    states = [json.loads(p.payload) for p in link.on("/state/smoke-1")]
    assert len(states) >= 2 and all(s["state"] == "normal" for s in states)
    assert lost.json()["seq"] == real.seq
    assert c.real_state("smoke-1") is State.NORMAL


def test_a_mark_batch_too_big_for_a_full_disk_is_split(tmp_path: Path) -> None:
    box = store(tmp_path)
    for _ in range(40):
        box.append(make_event)
    link = connected()
    c = courier(box, link, inflight=40, drain_per_s=1000.0)
    c.pump(T0)
    for p in list(link.sent):
        c.on_puback(p.mid, True, "", T0)
    calls: list[int] = []
    original = box.mark_delivered

    def fits_eight(seqs: list[int]) -> None:  # the disk takes small batches only
        calls.append(len(seqs))
        if len(seqs) > 8:
            raise StorageError("database or disk is full")
        original(seqs)

    box.mark_delivered = fits_eight  # type: ignore[method-assign]
    c.flush_marks(T0)
    assert box.depth() == 0 and max(n for n in calls if n <= 8) <= 8


# ---------------------------------------------------------------------- recorder


def test_a_full_disk_holds_events_in_order_and_commits_them_when_it_takes_them(
    tmp_path: Path,
) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_page_count=60)
    box.db.execute("PRAGMA synchronous=OFF")
    with pytest.raises(StorageError):
        while True:
            box.append(lambda s: make_event(s, state=State.NORMAL))
    full_at = box.last_seq()
    rec = Recorder(box, T0)
    assert rec.store(make_event, T0, alarm_at=T0) is None
    assert rec.store(lambda s: make_event(s, state=State.NORMAL), T0) is None
    assert rec.held_alarms == 1 and rec.wake_at() == T0 + STORE_RETRY_S
    assert rec.retry(T0 + STORE_RETRY_S / 2) == []  # not at every sample
    box.mark_delivered(list(range(1, full_at + 1)))  # delivered: evictable, room returns
    done = rec.retry(T0 + STORE_RETRY_S)
    assert [d.event.seq for d in done] == [full_at + 1, full_at + 2]
    assert done[0].alarm_at == T0 and rec.held == []


# ---------------------------------------------------------------------- sensor set


def test_a_sensor_set_reports_a_pin_it_cannot_open_and_tries_again_at_its_retry_time(
    mock_factory: MockFactory,
) -> None:
    config = smoke_config("mqtt://127.0.0.1:1", Path("/nonexistent/o.sqlite3"))
    holder = DigitalInputDevice("GPIO17", pin_factory=mock_factory)
    posted: list[Any] = []
    sensors = SensorSet(mock_factory, FakeClock(), posted.append)
    out = sensors.start(config, T0)
    assert [tr.state for tr in out][-1] is State.FAULT
    assert sensors.wake_at() == T0 + SENSOR_RETRY_S
    holder.close()
    assert sensors.tick(T0 + SENSOR_RETRY_S - 1) == []
    sensors.tick(T0 + SENSOR_RETRY_S)
    assert "smoke-1" in sensors.adapters and sensors.open_errors == {}
    sensors.close()


def test_a_muted_sensor_keeps_out_of_its_zones_vote(mock_factory: MockFactory) -> None:
    base = smoke_config("mqtt://127.0.0.1:1", Path("/x/o.sqlite3")).model_dump(mode="json")
    two = [
        dict(
            base["sensors"][0],
            id=f"smoke-{i}",
            input={**base["sensors"][0]["input"], "pin": f"GPIO{16 + i}"},
        )
        for i in (1, 2)
    ]
    base["sensors"] = two
    base["zones"] = [{"id": "dapur", "members": ["smoke-1", "smoke-2"], "rule": "any"}]
    config = validate_config(base, Path("z.toml"))
    sensors = SensorSet(
        mock_factory, FakeClock(), lambda s: None, muted=lambda s, t: s == "smoke-1"
    )
    sensors.start(config, T0)
    from edge.sensors import Sample

    out = sensors.sample(Sample("smoke-1", T0 + 1, 1.0, 1.0))
    out += sensors.tick(T0 + 5)
    assert all(tr.sensor != "dapur" for tr in out)  # the zone heard nothing of the test
    sensors.close()


# ---------------------------------------------------------------------- drills, health, reload


def test_a_drill_runs_to_its_end_and_closes_its_open_alarms(tmp_path: Path) -> None:
    box = store(tmp_path)
    config = cfg(tmp_path)
    runner = DrillRunner(box)
    scenario = {"duration_s": 2.0, "step": [{"at_s": 0.0, "sensor": "smoke-1", "value": 1.0}]}
    started = runner.start({"name": "api", "scenario": scenario}, "tester", config, T0)
    assert started.answer["sensors"] == ["smoke-1"] and runner.wake_at() == T0
    box.append(lambda s: make_event(s).model_copy(update={"drill": True}))
    out, finished = runner.step(T0 + 1.0)
    assert any(tr.state is State.ALARM for tr in out) and not finished
    _, finished = runner.step(T0 + 2.0)
    assert finished
    assert runner.end("ended", "", "id") is not None
    assert box.unacked_alarms() == 0
    assert any(
        by == DRILL_CLOSED_BY for by in box.db.execute("SELECT acked_by FROM events").fetchone()
    )


def test_health_wants_a_heartbeat_each_interval_and_a_watchdog_at_half_its_interval(
    tmp_path: Path,
) -> None:
    health = Health(cfg(tmp_path, heartbeat__interval_s=30), T0, watchdog_interval_s=20.0)
    assert health.heartbeat_due(T0) and not health.heartbeat_due(T0 + 29.9)
    assert health.heartbeat_due(T0 + 30.0)
    assert health.watchdog_due(T0) and not health.watchdog_due(T0 + 9.9)
    assert health.watchdog_due(T0 + 10.0)


def test_health_says_once_when_alarms_miss_their_latency_budget_and_when_caught_up(
    tmp_path: Path,
) -> None:
    health = Health(cfg(tmp_path, alerts__latency_budget_s=2.0), T0, None)
    health.alarm_committed(7, T0)
    assert health.delivered(7, T0 + 1.0) == []
    health.alarm_committed(8, T0)
    health.alarm_committed(9, T0)
    (late,) = health.delivered(8, T0 + 3.0)
    assert (late.state, late.reason) == (State.FAULT, Reason.LATENCY) and "seq 8" in late.detail
    (caught_up,) = health.delivered(9, T0 + 4.0)  # late too, and the last one waiting
    assert (caught_up.state, caught_up.reason) == (State.NORMAL, Reason.LATENCY)
    assert "2 alarms were later than 2 s, the slowest 4.0 s" in caught_up.detail
    assert health.delivered(10, T0 + 5.0) == []  # not an alarm
    assert health.last_alarm_latency == 4.0


def test_the_heartbeat_counts_what_a_full_disk_holds_as_undelivered(tmp_path: Path) -> None:
    box = store(tmp_path)
    box.append(make_event)
    figures = StoreFigures.of(box, held=2)
    assert figures.depth == 3 and figures.ok is False


def test_a_reload_plan_keeps_the_fixed_sections_and_sorts_the_sensors(tmp_path: Path) -> None:
    old = cfg(tmp_path)
    data = old.model_dump(mode="json")
    data["mqtt"]["keepalive_s"] = 60
    renamed = dict(data["sensors"][0], name="Dapur baru")
    added = dict(data["sensors"][0], id="smoke-2", input={**renamed["input"], "pin": "GPIO18"})
    data["sensors"] = [renamed, added]
    plan = plan_reload(old, validate_config(data, Path("new.toml")))
    assert plan.needs_restart == ["mqtt"] and plan.config.mqtt == old.mqtt
    assert (plan.renamed, plan.added, plan.changed, plan.removed) == (
        ["smoke-1"],
        ["smoke-2"],
        [],
        [],
    )


# ---------------------------------------------------------------------- inbound


@pytest.mark.parametrize(
    ("topic", "payload", "retained", "expected"),
    [
        (TOPICS.ack, b'{"event_id": "e", "by": "Sari"}', False, Ack),
        (TOPICS.resend, b'{"from_seq": 1, "to_seq": 2}', False, Resend),
        (TOPICS.ack, b'{"event_id": "e", "by": "Sari"}', True, Dropped),
        (TOPICS.ack, b'{"event_id": 1, "by": "Sari"}', False, Dropped),
        (TOPICS.ack, b"x" * 5000, False, Dropped),
        ("homeassistant/status", b"online", False, HaBirth),
        ("homeassistant/status", b"offline", False, Ignored),
        ("siaga/v1/lapas/pi-a/other", b"{}", False, Dropped),
    ],
)
def test_inbound_bytes_become_a_command_or_a_reason(
    topic: str, payload: bytes, retained: bool, expected: type
) -> None:
    got = parse_inbound(
        topic, payload, retained=retained, topics=TOPICS, ha_status="homeassistant/status"
    )
    assert isinstance(got, expected)


def test_a_refused_ack_still_names_its_event_for_the_receipt() -> None:
    got = parse_inbound(
        TOPICS.ack, b'{"event_id": "e-1", "by": "Sari", "x": 1}', retained=False, topics=TOPICS
    )
    assert isinstance(got, Dropped) and (got.event_id, got.by) == ("e-1", "Sari")
