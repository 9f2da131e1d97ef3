"""The link breaks between device and broker: resets, and a black hole nobody announces.

The device talks to mosquitto through ``proxy.Proxy``, a real TCP relay; the control
room's listener connects to mosquitto directly.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker import Mosquitto, free_port
from faultkit import ACK, assert_every_event_arrived, storm_config
from gpiozero.pins.mock import MockFactory
from harness import Listener, ThreadedDaemon, running_daemon
from proxy import Proxy

KEEPALIVE_S = 5


@pytest.fixture
def proxy(broker: Mosquitto) -> Iterator[Proxy]:
    relay = Proxy(broker.port)
    yield relay
    relay.close()


def connected(device: ThreadedDaemon) -> bool:
    link = device.daemon.link
    return link is not None and link.connected.is_set()


def wait_until(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return bool(predicate())  # type: ignore[operator]


def test_a_reset_connection_is_reopened_and_nothing_is_lost(
    proxy: Proxy, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    with running_daemon(storm_config(proxy.url, store), MockFactory()) as device:
        assert wait_until(lambda: connected(device), 10)
        device.storm(20)
        assert proxy.reset() == 1
        device.storm(20)
        assert wait_until(lambda: proxy.accepted == 2 and connected(device), 15)
        assert_every_event_arrived(listener, store, timeout=30)


def paho_holds(device: ThreadedDaemon) -> int:
    link = device.daemon.link
    assert link is not None
    return len(link.client._out_messages)


def test_a_storm_into_a_silent_link_keeps_pahos_queue_to_the_window(
    proxy: Proxy, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    with running_daemon(storm_config(proxy.url, store), MockFactory()) as device:
        assert wait_until(lambda: connected(device), 10)
        assert listener.wait_for(lambda s: len(s.seqs()) >= 2, timeout=10)
        proxy.blackhole()  # shorter than a keepalive: the device still thinks it is connected
        device.storm(300)
        time.sleep(0.5)
        # 600 events and as many new retained states, yet paho holds only the window, the
        # newest state of the one sensor, and the status.
        assert paho_holds(device) <= device.daemon.courier.delivery.window + 2
        proxy.restore()
        assert_every_event_arrived(listener, store, timeout=30)


@pytest.mark.faults
@pytest.mark.timeout(180)
def test_ten_connection_resets_during_a_storm_lose_nothing(
    proxy: Proxy, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    with running_daemon(storm_config(proxy.url, store), MockFactory()) as device:
        assert wait_until(lambda: connected(device), 10)
        storm = threading.Thread(target=device.storm, args=(1500, 0.004), daemon=True)
        storm.start()
        for cut in range(10):
            time.sleep(0.5)
            before = proxy.accepted
            assert proxy.reset() == 1
            assert wait_until(lambda n=before: proxy.accepted > n and connected(device), 20), (
                f"no reconnect after cut {cut + 1}"
            )
        storm.join(60)
        verdict = assert_every_event_arrived(listener, store, timeout=90)
    assert proxy.accepted >= 11
    assert verdict.created == 3002
    print(
        f"10 resets: {proxy.accepted} connections, {verdict.received} messages for "
        f"{verdict.created} events ({verdict.duplicates} duplicates)"
    )


@pytest.mark.faults
@pytest.mark.timeout(240)
def test_a_60_s_black_hole_is_noticed_within_two_keepalives_and_loses_nothing(
    proxy: Proxy, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    cfg = storm_config(proxy.url, store, mqtt={"url": proxy.url, "keepalive_s": KEEPALIVE_S})
    with running_daemon(cfg, MockFactory()) as device:
        assert wait_until(lambda: connected(device), 10)
        device.storm(50)
        assert listener.wait_for(lambda s: len(s.seqs()) >= 102, timeout=20)
        time.sleep(1.0)  # a quiet link: only keepalive can notice what comes next
        proxy.blackhole()
        t0 = time.monotonic()
        device.storm(100)  # events into the void: handed to paho, never acknowledged
        assert paho_holds(device) <= device.daemon.courier.delivery.window + 2
        assert wait_until(lambda: not connected(device), 3 * KEEPALIVE_S)
        noticed_s = time.monotonic() - t0
        device.storm(100)  # and while the device knows it is cut off
        time.sleep(max(0.0, 60 - (time.monotonic() - t0)))
        proxy.restore()
        t1 = time.monotonic()
        assert wait_until(lambda: connected(device), 60)
        verdict = assert_every_event_arrived(listener, store, timeout=60)
        print(
            f"black hole noticed after {noticed_s:.1f} s (keepalive {KEEPALIVE_S} s); "
            f"back {time.monotonic() - t1:.1f} s after the link returned; "
            f"{verdict.created} events, {verdict.duplicates} duplicates"
        )
    assert noticed_s <= 2 * KEEPALIVE_S + 1.0  # paho's network loop ticks once a second
    sensor_events = {e["seq"] for e in listener.events() if e["sensor"] == "smoke-1"}
    assert len(sensor_events) == 502  # the rest: device faults for alarms past their budget


def test_an_ack_sent_while_the_device_is_offline_reaches_it_through_its_session(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    cfg = storm_config(broker.url, store)
    with running_daemon(cfg, MockFactory()) as device:
        device.smoke_pin.drive_low()  # an alarm, which needs an ack
        assert listener.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
    alarm = next(e for e in listener.events() if e["state"] == "alarm")
    # The device is gone (a clean stop); its MQTT v5 session stays with the broker.
    listener.publish(ACK, json.dumps({"event_id": alarm["id"], "by": "Bripka Sari"}))
    time.sleep(0.3)
    with running_daemon(cfg, MockFactory()) as device:
        outbox = device.daemon.outbox
        assert outbox is not None
        assert wait_until(lambda: device.daemon.call(lambda: outbox.is_acked(alarm["id"])), 10)


@pytest.mark.faults
@pytest.mark.timeout(60)
def test_failover_moves_to_the_next_broker_in_mqtt_urls(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    dead = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens there
    store = tmp_path / "outbox.sqlite3"
    cfg = storm_config(broker.url, store, mqtt={"urls": [dead, broker.url], "keepalive_s": 5})
    t0 = time.monotonic()
    with running_daemon(cfg, MockFactory()) as device:
        assert wait_until(lambda: connected(device), 20)
        took = time.monotonic() - t0
        link = device.daemon.link
        assert link is not None and link.url == broker.url
        device.storm(3)
        assert_every_event_arrived(listener, store, timeout=20)
    print(f"failed over to the second broker after {took:.1f} s")
