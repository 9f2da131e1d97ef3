"""Forged and fuzzed ack/resend messages: the daemon drops what is malformed, bounds what
is valid, keeps running, and events keep flowing.

The payloads go through a real broker to the device's own ack and resend topics, the only
topics it subscribes to."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from broker import Mosquitto
from faultkit import ACK, BASE, RESEND, assert_every_event_arrived, storm_config
from gpiozero.pins.mock import MockFactory
from harness import Listener, ThreadedDaemon, running_daemon
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.daemon import MAX_QUEUED_RESENDS

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner),
    max_leaves=20,
)
ack_like = st.fixed_dictionaries(
    {"event_id": json_values | st.text(max_size=100), "by": json_values | st.text(max_size=200)},
    optional={"ts": json_values | st.just("2025-03-11T02:14:05.123Z"), "extra": json_values},
)
resend_like = st.fixed_dictionaries(
    {
        "from_seq": st.integers(-(2**63), 2**63) | json_values,
        "to_seq": st.integers(-(2**63), 2**63) | json_values,
    },
    optional={"extra": json_values},
)
payloads = (
    st.binary(max_size=300)
    | st.binary(min_size=4000, max_size=20_000)  # past the size cap, and the packet cap
    | json_values.map(lambda v: json.dumps(v, allow_nan=True).encode())
    | ack_like.map(lambda v: json.dumps(v, allow_nan=True).encode())
    | resend_like.map(lambda v: json.dumps(v, allow_nan=True).encode())
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
)


def hammer(device: ThreadedDaemon, listener: Listener, examples: int) -> list[bytes]:
    sent: list[bytes] = []

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(payload=payloads, topic=st.sampled_from([ACK, RESEND]))
    def one(payload: bytes, topic: str) -> None:
        listener.publish(topic, payload)
        sent.append(payload)
        assert device.thread.is_alive()

    one()
    return sent


def still_flowing(device: ThreadedDaemon, listener: Listener, store: Path) -> None:
    time.sleep(0.5)  # let the last of them arrive
    assert device.thread.is_alive()
    before = len(listener.seqs())
    device.storm(3)
    assert listener.wait_for(lambda s: len(s.seqs()) >= before + 6, timeout=20)
    assert_every_event_arrived(listener, store, timeout=30)
    assert len(device.daemon.courier.extra) <= MAX_QUEUED_RESENDS


def test_fuzzed_acks_and_resends_are_dropped_and_events_keep_flowing(
    broker: Mosquitto, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    listener = Listener(broker.port, topic=f"{BASE}/#")
    try:
        with running_daemon(storm_config(broker.url, store), MockFactory()) as device:
            hammer(device, listener, examples=40)
            still_flowing(device, listener, store)
    finally:
        listener.close()


@pytest.mark.faults
@pytest.mark.timeout(300)
def test_a_thousand_forged_and_fuzzed_messages_leave_the_daemon_running(
    broker: Mosquitto, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    listener = Listener(broker.port, topic=f"{BASE}/#")
    try:
        with running_daemon(storm_config(broker.url, store), MockFactory()) as device:
            device.storm(20)
            assert listener.wait_for(lambda s: len(s.seqs()) >= 42, timeout=20)
            real_ids = [e["id"] for e in listener.events()]
            forged: list[dict[str, Any]] = [
                {"event_id": real_ids[3], "by": "x" * 128},  # a valid ack from anyone
                {"event_id": real_ids[5], "by": "Bripka Sari", "ts": "not a time"},
                {"from_seq": 1, "to_seq": 2**62},  # everything, forever: bounded
                {"from_seq": 2**62, "to_seq": 1},
                {"from_seq": 0, "to_seq": 5},
            ]
            for message in forged * 20:  # the big resend asked for again and again
                topic = RESEND if "from_seq" in message else ACK
                listener.publish(topic, json.dumps(message))
            hammer(device, listener, examples=1000)
            still_flowing(device, listener, store)
    finally:
        listener.close()
