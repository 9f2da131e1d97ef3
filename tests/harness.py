"""The test harnesses, written once: the control room's MQTT listener, the daemon on its
own thread on mock pins, and the daemon's core driven step by step on a fake clock.

Everything but :class:`FakePublisher` is real (paho, mosquitto, gpiozero's mock pins,
SQLite on disk). ``FakePublisher`` stands in for our own ``Publisher`` port, never for
paho: it records what the daemon hands over, so the core can be driven without a broker.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.clock import Clock, FakeClock, SystemClock
from edge.config import SiagaConfig
from edge.daemon import Daemon
from edge.daemon.inbox import Inbound, LinkUp, Puback
from edge.mqtt import LinkHandler, Will
from edge.platform.monitor import Probe

# ---------------------------------------------------------------------- the control room


class Listener:
    """The control room: a paho MQTT v5 client with a persistent session (clean_start
    false unless ``clean``, kept an hour), subscribed QoS 1 to ``topic``. It reconnects on
    its own every ≤ 1 s while the broker is away and records every message it gets. The
    constructor returns once the broker has granted the subscription (its SUBACK)."""

    def __init__(
        self,
        port: int,
        topic: str = "siaga/#",
        client_id: str = "control-room",
        *,
        clean: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.topic = topic
        self.lock = threading.Lock()
        self.messages: list[tuple[str, bytes, bool]] = []
        """(topic, payload, retained) of every message, as heard."""
        self.user: list[tuple[bytes, dict[str, str]]] = []
        """(payload, MQTT v5 user properties) of each event, as heard."""
        self.connects = 0
        self.subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
        )
        self.client.reconnect_delay_set(0.1, 1)
        if tls is not None:
            self.client.tls_set_context(tls)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, keepalive=10, clean_start=clean, properties=props)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError("the listener could not subscribe")

    def _on_connect(self, client: paho.Client, *_: Any) -> None:
        client.subscribe(self.topic, qos=1)
        self.connects += 1

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        pairs = getattr(msg.properties, "UserProperty", None) or []
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
            if msg.topic.endswith("/events"):
                self.user.append((bytes(msg.payload), dict(pairs)))

    @property
    def raw(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return [(t, p) for t, p, _ in self.messages]

    def payloads(self, suffix: str) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(p) for t, p, _ in self.messages if t.endswith(suffix) and p]

    def events(self) -> list[dict[str, Any]]:
        return self.payloads("/events")

    def seqs(self) -> set[int]:
        return {e["seq"] for e in self.events()}

    def wait_for(self, predicate: Callable[[Listener], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.02)
        return predicate(self)

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain)

    def resend(self, from_seq: int, to_seq: int, base: str = "siaga/v1/lapas/pi-a") -> None:
        self.publish(f"{base}/resend", json.dumps({"from_seq": from_seq, "to_seq": to_seq}))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


# ---------------------------------------------------------------------- the daemon, threaded


class ThreadedDaemon:
    """The production :class:`Daemon` on its own thread in this process, its sensors on
    gpiozero mock pins; returns once the daemon is ready."""

    def __init__(
        self,
        config: SiagaConfig,
        factory: Any,
        *,
        config_path: Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.daemon = Daemon(
            config, clock or SystemClock(), config_path=config_path, pin_factory=factory
        )
        self.config = config
        self.factory = factory
        self.adc: Any = None  # an emulated MCP3008, where the test attached one
        self.exit_code: int | None = None
        self.thread = threading.Thread(target=self._run, name="daemon", daemon=True)
        self.thread.start()
        if not self.daemon.ready.wait(15):
            raise RuntimeError("the daemon did not become ready")

    def _run(self) -> None:
        self.exit_code = self.daemon.run()

    @property
    def smoke_pin(self) -> Any:
        return self.factory.pin("GPIO17")

    def storm(self, toggles: int, pause_s: float = 0.0) -> None:
        """Close and open the detector's contact ``toggles`` times: 2 events each."""
        pin = self.smoke_pin
        for _ in range(toggles):
            pin.drive_low()
            pin.drive_high()
            if pause_s:
                time.sleep(pause_s)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.thread.is_alive():
            self.daemon.stop()
            self.thread.join(timeout)
        assert not self.thread.is_alive(), "the daemon did not stop"
        return self.exit_code


@contextmanager
def running_daemon(config: SiagaConfig, factory: Any, **kwargs: Any) -> Iterator[ThreadedDaemon]:
    running = ThreadedDaemon(config, factory, **kwargs)
    try:
        yield running
    finally:
        running.stop()


# ---------------------------------------------------------------------- the core, stepped


@dataclass
class Published:
    mid: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    user: dict[str, str] | None

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.payload))


@dataclass
class FakePublisher:
    """Our ``Publisher``/``Link`` port, recorded. Connected or not as the test says;
    every publish gets the next mid; PUBACKs come only when the test posts them."""

    connected: threading.Event = field(default_factory=threading.Event)
    receive_maximum: int = 65535
    fatal: BaseException | None = None
    alive: bool = True
    sent: list[Published] = field(default_factory=list)
    started: bool = False
    _mid: int = 0

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        user: Mapping[str, str] | None = None,
    ) -> int | None:
        if not self.connected.is_set():
            return None
        self._mid = self._mid % 65535 + 1
        self.sent.append(
            Published(self._mid, topic, payload, qos, retain, dict(user or {}) or None)
        )
        return self._mid

    def wait_written(self, timeout: float = 0.0) -> bool:
        return True

    def start(self) -> None:
        self.started = True

    def stop(self, timeout: float = 0.0) -> None:
        self.connected.clear()

    def on(self, suffix: str) -> list[Published]:
        return [p for p in self.sent if p.topic.endswith(suffix)]

    def events(self) -> list[dict[str, Any]]:
        return [p.json() for p in self.on("/events")]


class Core:
    """The daemon's core without threads or a broker: a :class:`FakeClock`, a
    :class:`FakePublisher`, a real store in ``tmp_path``, real mock pins. The test posts
    messages and calls :meth:`step`; nothing sleeps."""

    def __init__(
        self,
        config: SiagaConfig,
        factory: Any,
        clock: FakeClock | None = None,
        probe: Probe | None = None,
    ) -> None:
        """``probe``: the Pi's readers (a fake sysfs tree); None: this machine's."""
        self.clock = clock or FakeClock()
        self.link = FakePublisher()
        self.factory = factory

        def link_factory(
            cfg: Any, client_id: str, handler: LinkHandler, will: Will, subs: tuple[str, ...]
        ) -> FakePublisher:
            self.will, self.subscriptions = will, subs
            return self.link

        self.daemon = Daemon(
            config,
            self.clock,
            pin_factory=factory,
            link_factory=link_factory,
            control=False,
            probe=probe,
        )
        self.daemon.start()

    def step(self, seconds: float = 0.0) -> None:
        """Let ``seconds`` pass (at most to each deadline in turn) and run the loop."""
        end = self.clock.monotonic() + seconds
        while True:
            self.daemon.step(self.clock.monotonic())
            due = self.clock.monotonic() + self.daemon.sleep_for(self.clock.monotonic())
            if due > end:
                break
            self.clock.advance(max(due - self.clock.monotonic(), 1e-6))
        self.clock.advance(max(0.0, end - self.clock.monotonic()))
        self.daemon.step(self.clock.monotonic())

    def connect(self) -> None:
        self.link.connected.set()
        self.daemon.post(LinkUp("mqtt://fake"))
        self.step()

    def disconnect(self) -> None:
        self.link.connected.clear()

    def puback(self, *published: Published, ok: bool = True) -> None:
        for p in published:
            self.daemon.post(Puback(p.mid, ok, "" if ok else "Not authorized"))
        self.step()

    def puback_all(self, ok: bool = True) -> None:
        """Answer everything handed over and not yet answered."""
        answered = getattr(self, "_answered", set())
        todo = [p for p in self.link.sent if p.qos and p.mid not in answered]
        self._answered = answered | {p.mid for p in todo}
        self.puback(*todo, ok=ok)

    def inbound(self, topic: str, payload: bytes | str, retained: bool = False) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        self.daemon.post(Inbound(topic, data, retained))
        self.step()

    def stop(self) -> None:
        """A clean stop with the link gone (nothing to wait for at shutdown)."""
        self.disconnect()
        self.daemon.stop()
        self.daemon.step(self.clock.monotonic())
        self.daemon.shutdown()
