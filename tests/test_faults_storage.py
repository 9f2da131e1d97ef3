"""The store fails: corrupt at startup, a WAL cut short by power loss, a full disk.

What must hold: the daemon never crash-loops on its own store; whatever was committed is
delivered; a failure is logged and shows in the heartbeat; it recovers by itself when the
disk has room again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from broker import Mosquitto
from faultkit import (
    ACK,
    BASE,
    DaemonProcess,
    assert_every_event_arrived,
    config_text,
    prefill,
    read_store,
    storm_config,
    storm_scenario,
)
from gpiozero.pins.mock import MockFactory
from harness import Listener, ThreadedDaemon, running_daemon

from edge.outbox import Outbox


def first_event(listener: Listener, seq: int = 1) -> dict[str, object]:
    assert listener.wait_for(lambda s: seq in s.seqs(), timeout=15)
    return next(e for e in listener.events() if e["seq"] == seq)


# ---------------------------------------------------------------------- corrupt store


def test_a_corrupt_store_is_moved_aside_and_the_first_event_is_a_storage_fault(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    store.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    with running_daemon(storm_config(broker.url, store), MockFactory()) as device:
        device.storm(2)
        assert_every_event_arrived(listener, store, timeout=20)
    first = first_event(listener)
    assert (first["sensor"], first["state"], first["reason"]) == ("_device", "fault", "storage")
    assert first["requires_ack"] is True
    aside = [p.name for p in tmp_path.iterdir() if p.name.startswith("outbox.sqlite3.corrupt-")]
    assert len(aside) == 1


def garble_pages(store: Path) -> None:
    """Overwrite the middle of a real store, as a failing SD card does: the header survives."""
    data = bytearray(store.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8192] = os.urandom(8192)
    store.write_bytes(bytes(data))


@pytest.mark.faults
@pytest.mark.timeout(120)
def test_a_store_with_garbled_pages_is_moved_aside_and_what_it_still_owes_is_delivered(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    prefill(store, 2000)  # an outage's worth of undelivered events
    garble_pages(store)
    config = tmp_path / "config.toml"
    config.write_text(config_text(broker.url, store))
    device = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        moved = device.wait_logged("store_corrupt_moved_aside", timeout=20)
        assert moved["level"] == "critical"
        assert Path(moved["moved_to"]).exists()
        device.wait_logged("daemon_ready")
        held = read_store(store).ids  # what the fresh store took over, plus its own events
        assert listener.wait_for(lambda s: set(held) <= s.seqs(), timeout=30)
        time.sleep(2)
        assert device.proc.poll() is None  # running, not crash-looping
        assert device.terminate() == 0
    finally:
        device.kill()
    got = {e["seq"]: e["id"] for e in listener.events()}
    assert all(got[seq] == event_id for seq, event_id in held.items())
    lost = set(range(1, 2001)) - set(held)
    assert len(lost) < 200  # only what sat on the garbled pages
    first = first_event(listener, seq=2001)  # numbering goes on from the damaged store
    assert (first["sensor"], first["reason"]) == ("_device", "storage")
    message = str(first["message"])
    assert str(moved["moved_to"]) in message
    assert f"{2000 - len(lost)} events still owed were recovered" in message
    assert "seq continues after 2000" in message


# ---------------------------------------------------------------------- truncated WAL


def snapshot_with_wal(tmp_path: Path, events: int) -> Path:
    """The store's files as a power cut leaves them: the WAL never checkpointed."""
    live = tmp_path / "live" / "outbox.sqlite3"
    live.parent.mkdir()
    box = Outbox(live)
    box.db.execute("PRAGMA wal_autocheckpoint=0")
    prefill_open(box, events)
    cut = tmp_path / "cut"
    cut.mkdir()
    for suffix in ("", "-wal"):
        shutil.copyfile(f"{live}{suffix}", cut / f"outbox.sqlite3{suffix}")
    box.db.close()
    return cut / "outbox.sqlite3"


def prefill_open(box: Outbox, count: int) -> None:
    from factories import make_event

    for _ in range(count):
        box.append(make_event)


@pytest.mark.faults
@pytest.mark.timeout(120)
def test_a_wal_cut_short_keeps_every_intact_commit_and_the_daemon_delivers_them(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    store = snapshot_with_wal(tmp_path, 200)
    wal = Path(f"{store}-wal")
    with wal.open("r+b") as f:  # cut mid-frame, as a write that never finished
        f.truncate(wal.stat().st_size // 2 + 100)
    with running_daemon(storm_config(broker.url, store), MockFactory()) as device:
        device.storm(5)
        verdict = assert_every_event_arrived(listener, store, timeout=30)
    # The commits whose frames survived are all there, and nothing after them is invented.
    kept = verdict.created - 12
    assert 50 < kept < 200
    print(f"WAL cut in half: {kept} of 200 commits kept, all {verdict.created} delivered")


# ---------------------------------------------------------------------- full disk


def storage_state(device: ThreadedDaemon) -> tuple[bool, str | None, int]:
    beat = device.daemon.call(device.daemon.heartbeat_payload)
    return beat.storage_ok, beat.storage_error, beat.outbox_depth


def ack_alarms(listener: Listener) -> int:
    alarms = {e["id"] for e in listener.events() if e["requires_ack"]}
    for event_id in alarms:
        listener.publish(ACK, json.dumps({"event_id": event_id, "by": "Bripka Sari"}))
    return len(alarms)


def test_a_full_store_holds_new_events_reports_it_and_recovers_when_room_returns(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    cfg = storm_config(
        broker.url,
        store,
        storage={"path": str(store), "max_page_count": 160, "allow_volatile": True},
    )
    broker.stop()  # nothing gets delivered, so nothing can be evicted: the store fills
    with running_daemon(cfg, MockFactory()) as device:
        device.storm(150)
        ok, error, depth = storage_state(device)
        assert not ok and error is not None and "full" in error
        committed = read_store(store)
        assert committed.undelivered == list(range(1, committed.last_seq + 1))
        assert depth > committed.last_seq  # the ones held in memory count as undelivered
        broker.start()
        assert_every_event_arrived(listener, store, timeout=30)  # all that was committed
        # Delivered and acknowledged events may go; unacknowledged alarms never do. The
        # operator acknowledges, the store makes room, the held events are written.
        assert ack_alarms(listener) > 0
        assert listener.wait_for(lambda _: storage_state(device)[0], timeout=30)
        verdict = assert_every_event_arrived(listener, store, timeout=30)
    sensor_events = {e["seq"] for e in listener.events() if e["sensor"] == "smoke-1"}
    assert len(sensor_events) == 302  # every event the sensor made, none dropped
    assert verdict.created == 302


def fill_store(store: Path, pages: int) -> None:
    from factories import make_event

    from edge.detect.types import State
    from edge.outbox import StorageError

    box = Outbox(store, max_page_count=pages)
    box.db.execute("PRAGMA synchronous=OFF")
    with contextlib.suppress(StorageError):
        while True:
            box.append(lambda s: make_event(s, state=State.NORMAL))
    box.close()


def test_an_alarm_the_full_store_cannot_take_still_sounds_the_siren(
    broker: Mosquitto, tmp_path: Path
) -> None:
    # The local siren needs neither the network nor the disk: an alarm held in memory
    # because the store is full is as unacknowledged as a stored one.
    store = tmp_path / "outbox.sqlite3"
    fill_store(store, pages=40)  # with undelivered events that need no ack: none evictable
    broker.stop()
    cfg = storm_config(
        broker.url,
        store,
        storage={"path": str(store), "max_page_count": 40, "allow_volatile": True},
    )
    with running_daemon(cfg, MockFactory()) as device:
        assert not storage_state(device)[0]
        device.smoke_pin.drive_low()
        siren = device.factory.pin("GPIO27")
        deadline = time.monotonic() + 5
        while not siren.state and time.monotonic() < deadline:
            time.sleep(0.01)
        assert siren.state
        assert (
            device.daemon.call(lambda: device.daemon.sensors.machines["smoke-1"].state) == "alarm"
        )


def heartbeats(listener: Listener) -> list[dict[str, Any]]:
    return listener.payloads("/heartbeat")


def test_an_alarm_the_full_store_holds_is_announced_at_once_and_measured_once_written(
    broker: Mosquitto, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    fill_store(store, pages=40)
    listener = Listener(broker.port, topic=f"{BASE}/#")
    cfg = storm_config(
        broker.url,
        store,
        storage={"path": str(store), "max_page_count": 40, "allow_volatile": True},
        heartbeat={"interval_s": 3600},  # only the extra one can arrive in time
        alerts={"latency_budget_s": 0.5},
    )
    try:
        with running_daemon(cfg, MockFactory()) as device:
            assert listener.wait_for(lambda s: len(heartbeats(s)) >= 1, timeout=10)  # start
            device.smoke_pin.drive_low()

            def announced(s: Listener) -> bool:
                return any(b["sensors"]["smoke-1"]["state"] == "alarm" for b in heartbeats(s))

            assert listener.wait_for(announced, timeout=5)
            beat = next(
                b for b in heartbeats(listener) if b["sensors"]["smoke-1"]["state"] == "alarm"
            )
            assert beat["storage_ok"] is False
            # The filler drains, room returns, the held alarm is written and sent: late, so
            # it is flagged like any alarm slower than its budget.
            assert listener.wait_for(
                lambda s: any(e["reason"] == "latency" for e in s.events()), timeout=60
            )
    finally:
        listener.close()


@contextlib.contextmanager
def small_disk(where: Path, size_kb: int) -> Iterator[Path]:
    where.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {exc}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as f:
        while True:  # until ENOSPC
            f.write(b"\0" * 4096)
    return filler


@pytest.mark.faults
@pytest.mark.timeout(180)
def test_a_really_full_disk_loses_nothing_committed_and_recovers_by_itself(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    toggles = 150
    scenario = storm_scenario(tmp_path / "storm.toml", toggles=toggles, period_s=0.1, start_s=1)
    with small_disk(tmp_path / "disk", 2048) as disk:
        store = disk / "outbox.sqlite3"
        config = tmp_path / "config.toml"
        config.write_text(config_text(broker.url, store))
        device = DaemonProcess(config, tmp_path / "daemon.log", scenario=scenario)
        try:
            device.wait_logged("daemon_ready")
            assert listener.wait_for(lambda s: len(s.seqs()) >= 10, timeout=15)
            filler = fill(disk)  # the storm goes on; its events now find no room
            failed = device.wait_logged("store_write_failed", timeout=20)
            assert failed["level"] == "error"
            time.sleep(3)
            assert device.proc.poll() is None  # no crash, no SIGBUS on the WAL index
            filler.unlink()  # room again
            device.wait_logged("store_recovered", timeout=30)
            time.sleep(toggles * 0.1)  # let the scenario finish
            verdict = assert_every_event_arrived(listener, store, timeout=60)
            assert device.terminate() == 0
        finally:
            device.kill()
    sensor_events = {e["seq"] for e in listener.events() if e["sensor"] == "smoke-1"}
    assert len(sensor_events) == 2 + 2 * toggles  # none was dropped while the disk was full
    print(f"full disk: {verdict}")
