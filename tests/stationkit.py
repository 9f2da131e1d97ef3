"""What the station tests share: event payloads, a device played by a real paho client
per the MQTT API, the station in-process or as a process, an HTTP client with Basic auth.

Nothing here is a fake of a part: mosquitto, paho, SQLite/PostgreSQL, uvicorn are real.
The device is a test double of the *Pi* only (the daemon does not yet publish receipts),
speaking exactly the MQTT API: events QoS 1 with their user properties on re-publish,
heartbeats, retained status and state, a receipt on ``…/acked`` for every ack, the
stored events again on ``resend``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.clock import iso_ms
from edge.station.config import StationConfig
from edge.station.service import StationService

REPO = Path(__file__).parents[1]
PREFIX = "siaga/v1"
PASSWORD = "kata-sandi-uji"


def event(
    seq: int,
    state: str = "alarm",
    *,
    site: str = "lapas",
    device: str = "pi-a",
    sensor: str = "smoke-1",
    event_id: str | None = None,
    drill: bool = False,
    test: bool = False,
    ts: float | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    severity = {"alarm": "critical", "fault": "fault", "warning": "warning"}.get(state, "info")
    return {
        "schema": "siaga.event/1",
        "id": event_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{site}/{device}/{seq}")),
        "seq": seq,
        "site": site,
        "device": device,
        "sensor": sensor,
        "kind": "device" if sensor == "_device" else "smoke",
        "hazard": "device" if sensor == "_device" else "fire",
        "state": state,
        "previous": "normal",
        "stage": None,
        "severity": severity,
        "reason": reason or ("contact" if state == "alarm" else "cleared"),
        "value": 1.0,
        "unit": "",
        "threshold": None,
        "ts": iso_ms(time.time() if ts is None else ts),
        "drill": drill,
        "test": test,
        "requires_ack": state in ("alarm", "fault"),
        "message": "KEBAKARAN: asap terdeteksi di Dapur",
        "place": "" if sensor == "_device" else "Dapur",  # as the device names the sensor
    }


def until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or predicate}")


class Device:
    """A site's device on one broker, per the MQTT API."""

    def __init__(
        self,
        port: int,
        site: str = "lapas",
        device: str = "pi-a",
        *,
        refuse: str | None = None,
        client_id: str | None = None,
    ) -> None:
        self.site, self.device = site, device
        self.base = f"{PREFIX}/{site}/{device}"
        self.refuse = refuse
        self.store: dict[int, dict[str, Any]] = {}
        self.acks: list[dict[str, Any]] = []
        self.resends: list[tuple[int, int]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.closed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"dev-{site}-{device}-{port}",
            protocol=paho.MQTTv5,
        )
        self.client.will_set(
            f"{self.base}/status",
            json.dumps({"state": "offline", "ts": iso_ms(time.time()), "version": "t"}),
            qos=1,
            retain=True,
        )
        self.client.reconnect_delay_set(0.1, 1)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_connect = self._on_connect
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()
        until(self.subscribed.is_set, what="device subscribed")

    def _on_connect(self, client: paho.Client, *_: Any) -> None:
        """Subscribed on every connect, as the daemon does (a broker may forget us)."""
        opts = SubscribeOptions(qos=1, retainAsPublished=True)
        client.subscribe([(f"{self.base}/ack", opts), (f"{self.base}/resend", opts)])

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        user: dict[str, str] | None = None,
    ) -> None:
        """Published until the broker has it, like the device's outbox: while the broker is
        away it waits and publishes again (the same bytes: a duplicate at most). Once the
        device is closed, a receipt or resend still being tried is given up quietly: the
        test that wanted it has ended."""
        props = None
        if user:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.UserProperty = list(user.items())
        deadline = time.monotonic() + 60
        while True:
            info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=props)
            try:
                info.wait_for_publish(10)
                if qos == 0 or info.is_published():
                    return
            except RuntimeError:  # not connected now
                pass
            if self.closed.is_set():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"could not publish on {topic}")
            time.sleep(0.2)

    def send(
        self, ev: dict[str, Any], *, user: dict[str, str] | None = None, store: bool = True
    ) -> dict[str, Any]:
        if store:
            with self.lock:
                self.store[ev["seq"]] = ev
        self.publish(f"{self.base}/events", json.dumps(ev).encode(), user=user)
        return ev

    def status(self, state: str = "online") -> None:
        body = {"state": state, "ts": iso_ms(time.time()), "version": "t"}
        self.publish(f"{self.base}/status", json.dumps(body).encode(), retain=True)

    def heartbeat(
        self,
        last_seq: int,
        *,
        interval_s: float = 30.0,
        depth: int = 0,
        sensors: dict[str, str] | None = None,
    ) -> None:
        body = {
            "ts": iso_ms(time.time()),
            "version": "t",
            "uptime_s": 1.0,
            "interval_s": interval_s,
            "sensors": {
                name: {"state": state, "stage": None, "value": 0.0, "unit": "", "age_s": 0.1}
                for name, state in (sensors or {"smoke-1": "normal"}).items()
            },
            "outbox_depth": depth,
            "oldest_undelivered_age_s": None,
            "last_seq": last_seq,
            "broker_connected": True,
        }
        self.publish(f"{self.base}/heartbeat", json.dumps(body).encode(), qos=0)

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        data = json.loads(msg.payload)
        if msg.topic.endswith("/ack"):
            with self.lock:
                self.acks.append({**data, "_retained": bool(msg.retain)})
            known = data.get("event_id") in {e["id"] for e in self.store.values()}
            accepted = not msg.retain and known and self.refuse is None
            reason = None if accepted else ("retained" if msg.retain else self.refuse or "unknown")
            threading.Thread(target=self._receipt, args=(data, accepted, reason)).start()
        elif msg.topic.endswith("/resend"):
            lo, hi = int(data["from_seq"]), int(data["to_seq"])
            with self.lock:
                self.resends.append((lo, hi))
                again = [self.store[s] for s in range(lo, hi + 1) if s in self.store]
            threading.Thread(target=self._resend, args=(again,)).start()

    def _receipt(self, ack: dict[str, Any], accepted: bool, reason: str | None) -> None:
        body = {
            "event_id": ack.get("event_id", ""),
            "by": ack.get("by", ""),
            "ts": iso_ms(time.time()),
            "accepted": accepted,
            "reason": reason,
        }
        self.publish(f"{self.base}/acked", json.dumps(body).encode())

    def _resend(self, events: list[dict[str, Any]]) -> None:
        for ev in events:
            self.send(ev, user={"sent": "resend", "ack": "open"}, store=False)

    def close(self) -> None:
        self.closed.set()
        self.client.disconnect()
        self.client.loop_stop()


def config_data(urls: list[str], database_url: str, **sections: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "station": {"name": "Polresta Uji", "language": "en"},
        "mqtt": {"urls": urls, "client_id": "station-test", "keepalive_s": 5},
        "database": {"url": database_url},
        "http": {"listen": "127.0.0.1:0"},
        "logging": {"level": "info", "format": "json"},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return data


def write_config(path: Path, data: dict[str, Any]) -> Path:
    import tomlkit

    path.write_text(tomlkit.dumps(data))
    return path


class Api:
    def __init__(self, url: str, user: str = "sari", password: str = PASSWORD) -> None:
        self.client = httpx.Client(base_url=url, auth=(user, password), timeout=10)

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def alarms(self, open_only: bool = True) -> list[dict[str, Any]]:
        return list(self.get("/api/alarms", open="true" if open_only else "false")["alarms"])

    def real_alarms(self) -> list[dict[str, Any]]:
        return [a for a in self.alarms() if a["sensor"] != "_site"]

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.client.post(path, json=body or {})


def add_user(config: StationConfig, name: str = "sari", role: str = "operator") -> None:
    from edge.station.accounts import Accounts, Role
    from edge.station.archive import Archive

    archive = Archive(config.database.url).open()
    try:
        Accounts(archive).add(name, Role(role), PASSWORD, time.time())
    finally:
        archive.close()


@contextmanager
def running(
    config: StationConfig, clock: Callable[[], float] = time.time
) -> Iterator[StationService]:
    """The station in this process, on its worker thread, until the block ends."""
    service = StationService(config, clock=clock)
    thread = threading.Thread(target=service.run, name="station", daemon=True)
    thread.start()
    try:
        until(service.ready.is_set, timeout=20, what="station ready")
        yield service
    finally:
        service.stop()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the station did not stop"


class StationProcess:
    """``python -m edge station run`` as a process, JSON logs on stderr, killed by PID.
    Every one still running when its test ends, passed or failed, is killed then
    (conftest's ``_no_station_left``): a failed kill loop once left one running for an hour."""

    running: ClassVar[set[StationProcess]] = set()

    def __init__(self, config_file: Path, log: Path) -> None:
        self.log = log
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("NOTIFY_SOCKET", None)
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge", "station", "run", "-c", str(config_file)],
                stdout=out,
                stderr=out,
                cwd=REPO,
                env=env,
            )
        StationProcess.running.add(self)

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def wait_ready(self, timeout: float = 30.0) -> str:
        def ready() -> str | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"station exited: {self.log.read_text()[-3000:]}")
            for line in self.lines():
                if line.get("event") == "station_ready":
                    return str(line["http"])
            return None

        return str(until(ready, timeout=timeout, what="station_ready"))

    def kill(self) -> None:
        StationProcess.running.discard(self)
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        StationProcess.running.discard(self)
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


# ---------------------------------------------------------------------- the oracle


def replayed_alarms(events: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """The alarms a replay of the archive's events (in site, device, seq order) gives:
    alarm_id -> (site, device, sensor, events, active, state, last_seq)."""
    from edge.station import alarms
    from edge.station.messages import EventMsg, parse

    latest: dict[tuple[str, str, str, str], alarms.Alarm] = {}
    for ev in sorted(events, key=lambda e: (e["site"], e["device"], e["seq"])):
        fact = parse(
            PREFIX,
            f"{PREFIX}/{ev['site']}/{ev['device']}/events",
            json.dumps(ev).encode(),
            retained=False,
            user={},
        )
        assert isinstance(fact, EventMsg)
        facts = fact.facts
        key = (facts.site, facts.device, facts.sensor, facts.category)
        after = alarms.on_event(latest.get(key), facts, epoch=0, at=ev["received_at"])
        if after is not None:
            latest[key] = after
    return {a.alarm_id: _alarm_key(a) for a in latest.values()}


def _alarm_key(a: Any) -> tuple[Any, ...]:
    return (a.site, a.device, a.sensor, a.events, a.active, a.state, a.last_seq)


def assert_oracle(
    url: str, expected: dict[tuple[str, str], int], *, arrival_ordered: bool = True
) -> None:
    """Every event in the archive exactly once (seq 1..n per device), the alarms equal to a
    replay of the archive, nothing confirmed without the device's accepted receipt.

    ``arrival_ordered``: the events reached the alarm rules in seq order per device (one
    station), so the replay must give the very same alarms, ids and counts. Several
    stations sharing a stream apply a device's events in no fixed order (a killed one's
    share comes back late): then each sensor's alarm state (active, state, last seq) must
    equal the replay's, while which event opened it and how many joined may differ."""
    from edge.station.archive import Archive

    archive = Archive(url).open()
    try:
        events = list(archive.export())
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids))
        for (site, device), n in expected.items():
            seqs = [e["seq"] for e in events if (e["site"], e["device"]) == (site, device)]
            assert seqs == list(range(1, n + 1)), f"{site}/{device}: {_summary(seqs, n)}"
        stored = {
            a.alarm_id: _alarm_key(a)
            for a in archive.alarms(limit=1_000_000)
            if a.sensor != "_site"
        }
        replayed = replayed_alarms(events)
        if not arrival_ordered:
            stored = {(k[0], k[1], k[2]): (k[4], k[5], k[6]) for k in stored.values()}  # type: ignore[misc]
            replayed = {(k[0], k[1], k[2]): (k[4], k[5], k[6]) for k in replayed.values()}  # type: ignore[misc]
        differ = {
            k: (stored.get(k), replayed.get(k))
            for k in stored.keys() | replayed.keys()
            if stored.get(k) != replayed.get(k)
        }
        assert not differ, f"stored vs replayed: {differ}"
        took = {r[3] for r in archive.table("receipts") if r[5] == 1}
        for alarm in archive.alarms(limit=1_000_000):
            if alarm.ack.value == "confirmed" and alarm.sensor != "_site":
                assert alarm.first_event_id in took, f"{alarm.alarm_id} handled, no receipt"
    finally:
        archive.close()


def _summary(seqs: list[int], n: int) -> str:
    missing = sorted(set(range(1, n + 1)) - set(seqs))
    return f"{len(seqs)} of {n}, missing {missing[:10]}, duplicated {len(seqs) - len(set(seqs))}"
