"""The broker goes away: down at cold start, SIGKILLed mid-storm. Nothing may be lost.

mosquitto keeps its sessions in memory and saves them at exit (and every autosave
interval); a SIGKILL loses what it had not saved. Each test therefore restarts the broker
cleanly once after the control room's listener subscribed, so the listener's persistent
session is on disk before any fault: what the test then measures is the device.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker import Mosquitto
from faultkit import assert_every_event_arrived, read_store, storm_config
from gpiozero.pins.mock import MockFactory
from harness import Listener, running_daemon


@pytest.fixture
def listener(broker: Mosquitto) -> Iterator[Listener]:
    """The control room, its persistent session saved in the broker's store."""
    lis = Listener(broker.port)
    broker.stop()  # a clean stop saves the session ...
    broker.start()  # ... and the restart loads it
    assert lis.wait_for(lambda s: s.connects >= 2, timeout=10)
    yield lis
    lis.close()


def test_events_made_while_the_broker_is_down_arrive_once_it_is_back(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    with running_daemon(storm_config(broker.url, store), MockFactory()) as device:
        listener.wait_for(lambda s: len(s.seqs()) >= 2)
        broker.stop()
        device.storm(5)
        broker.start()
        verdict = assert_every_event_arrived(listener, store, timeout=30)
    assert verdict.created == 12  # starting, normal, 5 x (alarm, normal)


@pytest.mark.faults
@pytest.mark.timeout(120)
def test_cold_start_with_the_broker_down_is_ready_and_delivers_once_it_starts(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    broker.stop()
    t0 = time.monotonic()
    with running_daemon(storm_config(broker.url, store), MockFactory()) as device:
        ready_s = time.monotonic() - t0
        device.storm(200, pause_s=0.002)  # 400 events, none of which can go anywhere
        assert listener.wait_for(lambda _: read_store(store).last_seq == 402, timeout=20)
        assert not device.daemon.link or not device.daemon.link.connected.is_set()
        time.sleep(3)  # let paho's reconnect back off a little: the broker is really gone
        broker.start()
        t1 = time.monotonic()
        verdict = assert_every_event_arrived(listener, store, timeout=60)
        print(
            f"ready {ready_s:.2f} s with the broker down; {verdict.created} events all "
            f"arrived {time.monotonic() - t1:.1f} s after it started"
        )
    assert ready_s < 5
    assert verdict.created == 402


@pytest.mark.faults
@pytest.mark.timeout(240)
def test_broker_sigkill_and_restart_during_an_alarm_storm_loses_nothing(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    toggles = 1000  # 2,000 events (2 per toggle) plus 2 at start
    with running_daemon(storm_config(broker.url, store), MockFactory()) as device:
        storm = threading.Thread(target=device.storm, args=(toggles, 0.003), daemon=True)
        storm.start()
        assert listener.wait_for(lambda s: len(s.seqs()) >= 300, timeout=30)
        # Kill it with messages in flight: sent, not yet acknowledged.
        listener.wait_for(lambda _: len(device.daemon.courier.delivery.inflight) >= 3, timeout=5)
        in_flight = len(device.daemon.courier.delivery.inflight)
        broker.kill()
        killed_at = read_store(store).last_seq
        time.sleep(2)
        broker.start()
        storm.join(60)
        assert not storm.is_alive()
        verdict = assert_every_event_arrived(listener, store, timeout=120, resend_gaps=True)
    assert verdict.created == 2 + 2 * toggles
    # What the broker acknowledged and then lost with its memory is the broker's loss; the
    # device still had every one of them, and gave them again on `resend`.
    print(
        f"killed at seq {killed_at} with {in_flight} in flight; {verdict.received} messages "
        f"for {verdict.created} events ({verdict.duplicates} duplicates); lost by the broker and "
        f"recovered by resend: {len(verdict.missing)}"
    )
