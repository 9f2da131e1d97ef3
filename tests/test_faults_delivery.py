"""The delivery window: the real courier's invariants under any interleaving
(hypothesis), and the two ways a window can stall on a real broker: PUBACKs that never
come, and a broker that takes fewer messages in flight than the device would send."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
from broker import Mosquitto
from factories import make_event, smoke_config
from faultkit import ACK, assert_every_event_arrived, store_drained, storm_config
from gpiozero.pins.mock import MockFactory
from harness import FakePublisher, Listener, ThreadedDaemon, running_daemon
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from proxy import Proxy

from edge.daemon.courier import Courier
from edge.detect.types import State
from edge.outbox import Outbox
from edge.topics import Topics

WINDOW = 5
TOPICS = Topics("siaga/v1", "lapas", "pi-a")


class DeliveryMachine(RuleBasedStateMachine):
    """The real :class:`Courier` against a broker that may refuse or lose anything.

    A real store in a temporary folder, the courier's own window and marks; "paho" is the
    recorded publisher: what was handed out and not yet answered. Rules: new events, pump,
    PUBACK ok / refused, a PUBACK lost for good, the link back (paho re-sends what it
    holds), time passing (the overdue check), in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0
        self.folder = Path(tempfile.mkdtemp(prefix="delivery-"))
        self.box = Outbox(self.folder / "o.sqlite3", wall=lambda: self.now)
        self.box.db.execute("PRAGMA synchronous=OFF")  # set-up speed, not the thing tested
        self.link = FakePublisher()
        self.link.connected.set()
        mqtt = smoke_config(
            "mqtt://x:1",
            self.box.path,
            mqtt={"url": "mqtt://x:1", "inflight": WINDOW, "keepalive_s": 5},
        ).mqtt
        self.courier = Courier(self.box, self.link, TOPICS, mqtt, repeat_s=3600.0, now=self.now)
        self.answered: set[int] = set()
        self.lost: set[int] = set()
        self.ok_acked: set[int] = set()

    def _waiting(self) -> list[int]:
        return [
            p.mid for p in self.link.sent if p.mid not in self.answered and p.mid not in self.lost
        ]

    @rule(n=st.integers(1, 8))
    def new_events(self, n: int) -> None:
        for _ in range(n):
            self.box.append(lambda s: make_event(s, state=State.NORMAL))

    @rule()
    def pump(self) -> None:
        self.courier.pump(self.now)

    @precondition(lambda self: bool(self._waiting()))
    @rule(data=st.data(), ok=st.booleans())
    def puback(self, data: st.DataObject, ok: bool) -> None:
        mid = data.draw(st.sampled_from(self._waiting()))
        self.answered.add(mid)
        seq = self.courier.on_puback(mid, ok, "" if ok else "Quota exceeded", self.now)
        if seq is not None:
            self.ok_acked.add(seq)

    @precondition(lambda self: bool(self._waiting()))
    @rule(data=st.data())
    def puback_lost(self, data: st.DataObject) -> None:
        self.lost.add(data.draw(st.sampled_from(self._waiting())))

    @rule()
    def reconnect(self) -> None:
        # paho sends again, same mids, all it holds; a PUBACK lost before may come now.
        self.lost.clear()
        self.courier.on_connected(self.now, b"{}", sensors=1)

    @rule(seconds=st.sampled_from([0.01, 0.5, 5.0, 31.0, 61.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self.courier.run_due(self.now)

    @invariant()
    def the_window_is_never_exceeded(self) -> None:
        assert len(self.courier.delivery.inflight) <= WINDOW

    @invariant()
    def delivered_means_acknowledged_by_the_broker(self) -> None:
        self.courier.flush_marks(self.now)
        delivered = {
            seq
            for (seq,) in self.box.db.execute("SELECT seq FROM events WHERE delivered IS NOT NULL")
        }
        assert delivered <= self.ok_acked

    def teardown(self) -> None:
        # Liveness: from any state, a broker that now answers everything gets everything.
        for _ in range(200):
            self.courier.flush_marks(self.now)
            if self.box.depth() == 0:
                break
            self.now += 61.0
            self.courier.run_due(self.now)
            self.courier.pump(self.now)
            for mid in self._waiting():
                self.answered.add(mid)
                self.courier.on_puback(mid, True, "", self.now)
        depth = self.box.depth()
        self.box.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        assert depth == 0, f"stalled with {depth} undelivered"


DeliveryMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
test_whatever_the_broker_does_delivery_never_stalls_nor_overfills = DeliveryMachine.TestCase


# ---------------------------------------------------------------------- on a real broker


def test_in_flight_stays_within_the_brokers_receive_maximum(tmp_path: Path) -> None:
    broker = Mosquitto("max_inflight_messages 5\n").start()  # CONNACK Receive Maximum 5
    try:
        listener = Listener(broker.port)
        store = tmp_path / "outbox.sqlite3"
        most = 0
        with running_daemon(storm_config(broker.url, store), MockFactory()) as device:
            link = device.daemon.link
            assert link is not None
            storm = threading.Thread(target=device.storm, args=(300,), daemon=True)
            storm.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (storm.is_alive() or not store_drained(store)):
                most = max(most, len(link.client._out_messages))
                time.sleep(0.002)
            assert_every_event_arrived(listener, store, timeout=30)
            assert link.receive_maximum == 5
            assert (
                device.daemon.courier.delivery.window == 2
            )  # 5 - one sensor's state - status/spare
        listener.close()
    finally:
        broker.close()
    assert most <= 5


def connected(device: ThreadedDaemon) -> bool:
    link = device.daemon.link
    return link is not None and link.connected.is_set()


@pytest.mark.faults
@pytest.mark.timeout(180)
def test_pubacks_that_never_come_do_not_stall_delivery(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    relay = Proxy(broker.port)
    try:
        store = tmp_path / "outbox.sqlite3"
        with running_daemon(storm_config(relay.url, store), MockFactory()) as device:
            deadline = time.monotonic() + 10
            while not connected(device) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert listener.wait_for(lambda s: len(s.seqs()) >= 2, timeout=10)
            # Every PUBACK so far heard: a startup event still in flight when the swallowing
            # starts would hold a place in the window below.
            deadline = time.monotonic() + 10
            while device.daemon.courier.delivery.inflight and time.monotonic() < deadline:
                time.sleep(0.02)
            before = len(listener.seqs())
            relay.swallow_pubacks()  # the broker gets them all; the device hears nothing back
            device.storm(30)
            window = device.daemon.courier.delivery.window
            # The window fills with messages the broker has (the listener got them) and
            # the device does not know it has: without a remedy, it stays full for ever.
            assert listener.wait_for(lambda s: len(s.seqs()) >= before + window, timeout=10)
            time.sleep(2)
            stuck = len(device.daemon.courier.delivery.inflight)
            assert stuck == window
            assert len(listener.seqs()) == before + window
            relay.swallow_pubacks(False)  # those PUBACKs are gone for good; the link stays up
            t0 = time.monotonic()
            verdict = assert_every_event_arrived(listener, store, timeout=120)
            took = time.monotonic() - t0
            assert relay.accepted == 1  # never reconnected: only the overdue rule helped
    finally:
        relay.close()
    assert stuck > 0
    print(f"{stuck} in flight with no PUBACK; all delivered {took:.0f} s later; {verdict}")


def test_no_matching_subscribers_0x10_counts_as_delivered(
    broker: Mosquitto, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"  # nobody subscribes: mosquitto answers 0x10
    with running_daemon(storm_config(broker.url, store), MockFactory()) as device:
        device.storm(2)
        deadline = time.monotonic() + 10
        while not store_drained(store) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert store_drained(store)


def test_an_unacknowledged_alarm_repeats_with_its_id_until_acknowledged(
    broker: Mosquitto, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "outbox.sqlite3"
    with running_daemon(
        storm_config(broker.url, store, alerts__repeat_s=0.5), MockFactory()
    ) as dev:
        dev.smoke_pin.drive_low()

        def alarms() -> list[dict[str, object]]:
            return [e for e in listener.events() if e["state"] == "alarm"]

        assert listener.wait_for(lambda _: len(alarms()) >= 3, timeout=10)
        assert len({(e["id"], e["seq"]) for e in alarms()}) == 1  # the same event again
        listener.publish(ACK, json.dumps({"event_id": alarms()[0]["id"], "by": "Bripka Sari"}))
        assert listener.wait_for(lambda _: not dev.factory.pin("GPIO27").state, timeout=5)
        time.sleep(0.5)  # a repeat already in flight may still land
        count = len(alarms())
        time.sleep(2.0)
        assert len(alarms()) == count  # no more after the ack
