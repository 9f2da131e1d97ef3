"""The daemon process dies or starts behind: SIGKILL loops, a backlog past paho's mids.

These run ``python -m edge run`` as systemd does, with gpiozero's mock pins driven by a
scenario file (``--simulate``) or a store filled beforehand.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from broker import Mosquitto
from faultkit import (
    DaemonProcess,
    assert_every_event_arrived,
    config_text,
    prefill,
    read_store,
    store_drained,
    storm_config,
    storm_scenario,
)
from gpiozero.pins.mock import MockFactory
from harness import Listener, running_daemon


def wait_drained(store: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store_drained(store):
            return True
        time.sleep(0.2)
    return False


def arrival_order(listener: Listener) -> list[int]:
    """Each seq at its first arrival, in the order the listener got them."""
    seen: set[int] = set()
    order = []
    for event in listener.events():
        if event["seq"] not in seen:
            seen.add(event["seq"])
            order.append(event["seq"])
    return order


def test_a_backlog_drains_in_seq_order_with_paho_never_holding_more_than_the_window(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    prefill(store, 3000)
    cfg = storm_config(broker.url, store)
    most = 0
    with running_daemon(cfg, MockFactory()) as device:
        link = device.daemon.link
        assert link is not None
        deadline = time.monotonic() + 30
        while not store_drained(store) and time.monotonic() < deadline:
            most = max(most, len(link.client._out_messages))
            time.sleep(0.005)
        assert_every_event_arrived(listener, store, timeout=30)
    assert most <= cfg.mqtt.inflight + 3  # the window, the status and a retained state or two
    assert arrival_order(listener) == list(range(1, 3003))


@pytest.mark.faults
@pytest.mark.timeout(600)
def test_a_backlog_of_70000_events_drains_with_bounded_memory(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    backlog = 70_000  # more than paho's 65,535 message ids
    prefill(store, backlog)
    config = tmp_path / "config.toml"
    config.write_text(config_text(broker.url, store))
    device = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        device.wait_logged("daemon_ready", timeout=30)
        t0 = time.monotonic()
        rss_start = rss_max = device.rss_kb()
        deadline = t0 + 400
        while not store_drained(store) and time.monotonic() < deadline:
            rss_max = max(rss_max, device.rss_kb())
            time.sleep(0.25)
        drain_s = time.monotonic() - t0
        verdict = assert_every_event_arrived(listener, store, timeout=60)
        assert device.terminate() == 0
    finally:
        device.kill()
    rate = backlog / drain_s
    print(
        f"70k backlog: drained in {drain_s:.1f} s ({rate:.0f} events/s); RSS {rss_start} kB "
        f"at start, {rss_max} kB at most; {verdict.duplicates} duplicates"
    )
    assert verdict.created == backlog + 2
    assert rss_max - rss_start < 30_000  # kB: what it holds does not grow with the backlog
    assert arrival_order(listener) == list(range(1, backlog + 3))


@pytest.mark.faults
@pytest.mark.timeout(600)
def test_daemon_sigkilled_20_times_while_publishing_loses_nothing(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    prefill(store, 3000)  # something to publish from the very first instant
    config = tmp_path / "config.toml"
    config.write_text(config_text(broker.url, store))
    scenario = storm_scenario(tmp_path / "storm.toml", toggles=150, period_s=0.01)
    log = tmp_path / "daemon.log"
    rng = random.Random(20)
    killed_with_backlog = 0
    for _ in range(20):
        device = DaemonProcess(config, log, scenario=scenario)
        try:
            device.wait_logged("daemon_ready", timeout=30)
            time.sleep(rng.uniform(0.05, 1.2))
            undelivered = len(read_store(store).undelivered)
        finally:
            device.kill()
        killed_with_backlog += undelivered > 0
    last = DaemonProcess(config, log)
    try:
        last.wait_logged("daemon_ready", timeout=30)
        assert wait_drained(store, 120)
        verdict = assert_every_event_arrived(listener, store, timeout=60)
        assert last.terminate() == 0
    finally:
        last.kill()
    print(
        f"20 SIGKILLs ({killed_with_backlog} with events still unacknowledged): "
        f"{verdict.created} events, {verdict.received} messages, {verdict.duplicates} duplicates"
    )
    assert killed_with_backlog >= 10
