"""The control-room broker kit: certs.sh + deploy/mosquitto/{siaga.conf,acl} on a real mosquitto.

The broker runs exactly the shipped config; the only changes are the ones a test must make,
done by text substitution in ``deployed_conf``: the listener moves to a free loopback port
and /etc/mosquitto/siaga/ becomes a temporary directory. In front of it go the lines that
Debian's /etc/mosquitto/mosquitto.conf supplies on a real broker host (persistence and its
location, logging), plus ``user root`` when the test runs as root.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from broker import Mosquitto, free_port
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

REPO = Path(__file__).resolve().parent.parent
CERTS = REPO / "deploy" / "certs.sh"
CONF = REPO / "deploy" / "mosquitto" / "siaga.conf"
ACL = REPO / "deploy" / "mosquitto" / "acl"
SITE = "lapas-banyuwangi"
A = f"{SITE}/pi-blok-a"
B = f"{SITE}/pi-blok-b"
NOT_AUTHORIZED = 0x87
TIMEOUT = 10.0

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def deployed_conf(port: int, etc: Path) -> str:
    """siaga.conf as shipped, with only the port and the /etc/mosquitto/siaga/ paths moved."""
    text = CONF.read_text()
    assert text.count("\nlistener 8883\n") == 1
    text = text.replace("\nlistener 8883\n", f"\nlistener {port} 127.0.0.1\n")
    text = text.replace("/etc/mosquitto/siaga/", f"{etc}/")
    return text


class DeployedBroker(Mosquitto):
    """tests/broker.py's process handling, with the deploy kit's config instead of its own."""

    def __init__(self, etc: Path) -> None:
        super().__init__(port=free_port())
        self.etc = etc

    def conf_text(self) -> str:
        debian_main_conf = [  # what /etc/mosquitto/mosquitto.conf sets before conf.d/
            "persistence true",
            f"persistence_location {self.dir}/",
            "log_dest stderr",
        ]
        if os.geteuid() == 0:
            debian_main_conf.append("user root")
        return "\n".join(debian_main_conf) + "\n" + deployed_conf(self.port, self.etc)


def make_certs(outdir: Path, *devices: str) -> None:
    subprocess.run(
        ["bash", str(CERTS), "--host", "broker.test", str(outdir), *devices],
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("pki")
    make_certs(outdir, A, B)
    return outdir


def broker_etc(pki: Path, where: Path) -> Path:
    """/etc/mosquitto/siaga as the operations guide lays it out: broker certs plus the ACL."""
    etc = where / "etc-mosquitto-siaga"
    etc.mkdir()
    for name in ("ca.crt", "broker.crt", "broker.key"):
        shutil.copy(pki / "broker" / name, etc / name)
    shutil.copy(ACL, etc / "acl")
    return etc


@pytest.fixture(scope="module")
def deployed(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedBroker]:
    broker = DeployedBroker(broker_etc(pki, tmp_path_factory.mktemp("broker")))
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def fresh_broker(pki: Path, tmp_path: Path) -> Iterator[DeployedBroker]:
    broker = DeployedBroker(broker_etc(pki, tmp_path))
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


class Peer:
    """A real paho-mqtt 2.x client (MQTT v5, mutual TLS) with its results in queues."""

    def __init__(self, pki: Path, identity: str | None, *, ca: Path | None = None) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv5,
        )
        if identity is None:
            cert = key = None
        elif identity == "controlroom":
            cert = pki / "controlroom" / "controlroom.crt"
            key = pki / "controlroom" / "controlroom.key"
        else:
            cert = pki / "devices" / identity / "device.crt"
            key = pki / "devices" / identity / "device.key"
        self.client.tls_set(
            ca_certs=str(ca or pki / "ca.crt"),
            certfile=None if cert is None else str(cert),
            keyfile=None if key is None else str(key),
        )
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connack: queue.Queue[ReasonCode] = queue.Queue()
        self.pubacks: dict[int, ReasonCode] = {}
        self.puback_seen = threading.Condition()
        self.subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.client.on_disconnect = lambda *_args: self.disconnected.set()

    def _on_connect(
        self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object
    ) -> None:
        self.connack.put(rc)
        if not rc.is_failure:
            self.connected.set()

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: object
    ) -> None:
        with self.puback_seen:
            self.pubacks[mid] = rc
            self.puback_seen.notify_all()

    def _on_subscribe(
        self, _c: mqtt.Client, _u: object, _mid: int, rcs: list[ReasonCode], _p: object
    ) -> None:
        self.subacks.put(rcs)

    def connect(
        self, port: int, *, client_id: str | None = None, keep_session: bool = False
    ) -> Peer:
        if client_id is not None:
            self.client._client_id = client_id.encode()
        props = None
        if keep_session:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 3600
        self.client.connect(
            "127.0.0.1", port, keepalive=30, clean_start=not keep_session, properties=props
        )
        self.client.loop_start()
        assert self.connected.wait(TIMEOUT), f"no CONNACK: {list(self.connack.queue)}"
        return self

    def publish(self, topic: str, payload: str, retain: bool = False) -> int:
        """Publish at QoS 1 and return the PUBACK reason code's value."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        with self.puback_seen:
            ok = self.puback_seen.wait_for(lambda: info.mid in self.pubacks, TIMEOUT)
        assert ok, f"no PUBACK for {topic}"
        return int(self.pubacks[info.mid].value)

    def subscribe(self, topic: str) -> int:
        self.client.subscribe(topic, qos=1)
        return int(self.subacks.get(timeout=TIMEOUT)[0].value)

    def receive(self) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=TIMEOUT)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def peers(pki: Path) -> Iterator[list[Peer]]:
    made: list[Peer] = []
    yield made
    for each in made:
        each.close()


def peer(
    peers: list[Peer],
    pki: Path,
    identity: str | None,
    port: int,
    *,
    client_id: str | None = None,
    keep_session: bool = False,
) -> Peer:
    """A connected Peer, disconnected again at the end of the test."""
    made = Peer(pki, identity)
    peers.append(made)
    return made.connect(port, client_id=client_id, keep_session=keep_session)


def event(seq: int) -> str:
    return json.dumps({"schema": "siaga.event/1", "id": str(uuid.uuid4()), "seq": seq})


# ---------------------------------------------------------------- certs.sh


def test_certs_name_each_device_site_slash_device(pki: Path) -> None:
    out = subprocess.run(
        [
            "openssl",
            "x509",
            "-noout",
            "-subject",
            "-nameopt",
            "RFC2253",
            "-in",
            str(pki / "devices" / A / "device.crt"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"subject=CN={A}"


def test_certs_verify_strictly_against_the_ca(pki: Path) -> None:
    leaves = [
        pki / "broker" / "broker.crt",
        pki / "controlroom" / "controlroom.crt",
        pki / "devices" / A / "device.crt",
    ]
    out = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-CAfile", str(pki / "ca.crt"), *map(str, leaves)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_broker_certificate_names_localhost_loopback_and_the_host(pki: Path) -> None:
    out = subprocess.run(
        [
            "openssl",
            "x509",
            "-noout",
            "-ext",
            "subjectAltName",
            "-in",
            str(pki / "broker" / "broker.crt"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    for name in ("DNS:broker.test", "DNS:localhost", "IP Address:127.0.0.1"):
        assert name in out.stdout


def test_private_keys_are_owner_only(pki: Path) -> None:
    for key in [pki / "ca.key", pki / "broker" / "broker.key", pki / "devices" / A / "device.key"]:
        assert key.stat().st_mode & 0o077 == 0, key


def test_rerun_adds_a_device_and_keeps_the_ca(tmp_path: Path) -> None:
    make_certs(tmp_path, A)
    ca = (tmp_path / "ca.crt").read_bytes()
    device_a = (tmp_path / "devices" / A / "device.crt").read_bytes()
    make_certs(tmp_path, A, f"{SITE}/pi-blok-c")
    assert (tmp_path / "ca.crt").read_bytes() == ca
    assert (tmp_path / "devices" / A / "device.crt").read_bytes() == device_a
    assert (tmp_path / "devices" / SITE / "pi-blok-c" / "device.crt").is_file()


@pytest.mark.parametrize("name", ["pi-blok-a", "Lapas/pi", "a/b/c", "controlroom/pi"])
def test_certs_refuse_a_device_not_named_site_slash_device(tmp_path: Path, name: str) -> None:
    result = subprocess.run(
        ["bash", str(CERTS), str(tmp_path), name], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert name in result.stderr


def test_certs_script_is_shellcheck_clean() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    result = subprocess.run(
        ["shellcheck", str(CERTS)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout


# ---------------------------------------------------------------- the broker


def test_device_publishes_its_own_topics(
    deployed: DeployedBroker, pki: Path, peers: list[Peer]
) -> None:
    device = peer(peers, pki, A, deployed.port)
    base = f"siaga/v1/{A}"
    for topic in (
        f"{base}/events",
        f"{base}/state/smoke-dapur",
        f"{base}/status",
        f"{base}/heartbeat",
        f"{base}/reading/air-selokan",
    ):
        assert device.publish(topic, event(1)) < 0x80, topic


def test_device_is_denied_another_devices_topic(
    deployed: DeployedBroker, pki: Path, peers: list[Peer]
) -> None:
    device = peer(peers, pki, A, deployed.port)
    assert device.publish(f"siaga/v1/{B}/events", event(1)) == NOT_AUTHORIZED


def test_device_cannot_forge_an_ack_for_itself(
    deployed: DeployedBroker, pki: Path, peers: list[Peer]
) -> None:
    device = peer(peers, pki, A, deployed.port)
    assert device.publish(f"siaga/v1/{A}/ack", '{"event_id": "x"}') == NOT_AUTHORIZED


def test_device_does_not_hear_another_devices_ack(
    deployed: DeployedBroker, pki: Path, peers: list[Peer]
) -> None:
    # Mosquitto 2.0 grants the SUBSCRIBE and checks read access on every delivery instead.
    device = peer(peers, pki, A, deployed.port)
    device.subscribe(f"siaga/v1/{B}/ack")
    assert device.subscribe(f"siaga/v1/{A}/ack") == 1
    room = peer(peers, pki, "controlroom", deployed.port)
    assert room.publish(f"siaga/v1/{B}/ack", '{"for": "b"}') < 0x80
    assert room.publish(f"siaga/v1/{A}/ack", '{"for": "a"}') < 0x80
    # Same publisher, same order: had B's ack been delivered, it would have come first.
    assert device.receive().payload == b'{"for": "a"}'
    assert device.messages.empty()


def test_control_room_receives_the_devices_event(
    deployed: DeployedBroker, pki: Path, peers: list[Peer]
) -> None:
    room = peer(peers, pki, "controlroom", deployed.port)
    assert room.subscribe("siaga/v1/#") == 1  # granted QoS 1
    device = peer(peers, pki, A, deployed.port)
    payload = event(42)
    assert device.publish(f"siaga/v1/{A}/events", payload) < 0x80
    message = room.receive()
    assert message.topic == f"siaga/v1/{A}/events"
    assert message.payload.decode() == payload


def test_control_room_ack_reaches_the_device(
    deployed: DeployedBroker, pki: Path, peers: list[Peer]
) -> None:
    device = peer(peers, pki, A, deployed.port)
    assert device.subscribe(f"siaga/v1/{A}/ack") == 1
    room = peer(peers, pki, "controlroom", deployed.port)
    ack = json.dumps({"event_id": str(uuid.uuid4()), "by": "Bripka Santoso", "ts": 1.0})
    assert room.publish(f"siaga/v1/{A}/ack", ack) < 0x80
    message = device.receive()
    assert message.topic == f"siaga/v1/{A}/ack"
    assert message.payload.decode() == ack


def test_control_room_cannot_publish_as_a_device(
    deployed: DeployedBroker, pki: Path, peers: list[Peer]
) -> None:
    room = peer(peers, pki, "controlroom", deployed.port)
    assert room.publish(f"siaga/v1/{A}/events", event(1)) == NOT_AUTHORIZED


def refused(client: Peer, port: int) -> bool:
    """Connect and report whether the broker closed the connection without a CONNACK."""
    try:
        client.client.connect("127.0.0.1", port)
    except (ssl.SSLError, OSError):
        return True  # refused during the TLS handshake inside connect()
    client.client.loop_start()
    try:
        # TLS 1.3: the client's half of the handshake completes, then the broker's alert
        # ("certificate required" / "unknown ca") closes the connection before any CONNACK.
        return client.disconnected.wait(TIMEOUT) and not client.connected.is_set()
    finally:
        client.client.loop_stop()


def test_client_without_a_certificate_is_refused(deployed: DeployedBroker, pki: Path) -> None:
    assert refused(Peer(pki, None), deployed.port)


def test_client_with_a_certificate_from_another_ca_is_refused(
    deployed: DeployedBroker, pki: Path, tmp_path: Path
) -> None:
    make_certs(tmp_path, A)  # the same CN, from a CA the broker does not trust
    assert refused(Peer(tmp_path, A, ca=pki / "ca.crt"), deployed.port)


def test_offline_control_room_gets_a_burst_beyond_mosquittos_default_queue(
    deployed: DeployedBroker, pki: Path, peers: list[Peer]
) -> None:
    # Mosquitto's default max_queued_messages (1000) would drop most of these.
    burst = 2500
    room_id = f"controlroom-{uuid.uuid4().hex[:8]}"
    room = peer(peers, pki, "controlroom", deployed.port, client_id=room_id, keep_session=True)
    assert room.subscribe(f"siaga/v1/{A}/events") == 1
    room.close()
    peers.remove(room)
    device = peer(peers, pki, A, deployed.port)
    infos = [device.client.publish(f"siaga/v1/{A}/events", event(i), qos=1) for i in range(burst)]
    for info in infos:
        info.wait_for_publish(TIMEOUT)
    assert all(device.pubacks[i.mid].value < 0x80 for i in infos)
    back = peer(peers, pki, "controlroom", deployed.port, client_id=room_id, keep_session=True)
    seqs = [json.loads(back.receive().payload)["seq"] for _ in range(burst)]
    assert seqs == list(range(burst))


def test_queued_events_survive_a_broker_restart(
    fresh_broker: DeployedBroker, pki: Path, peers: list[Peer]
) -> None:
    room_id = f"controlroom-{uuid.uuid4().hex[:8]}"
    room = peer(peers, pki, "controlroom", fresh_broker.port, client_id=room_id, keep_session=True)
    assert room.subscribe(f"siaga/v1/{A}/events") == 1
    room.close()
    peers.remove(room)
    device = peer(peers, pki, A, fresh_broker.port)
    for seq in range(1, 51):
        assert device.publish(f"siaga/v1/{A}/events", event(seq)) < 0x80
    device.close()
    peers.remove(device)
    fresh_broker.stop()  # SIGTERM: mosquitto saves its store
    fresh_broker.start()
    back = peer(peers, pki, "controlroom", fresh_broker.port, client_id=room_id, keep_session=True)
    seqs = [json.loads(back.receive().payload)["seq"] for _ in range(50)]
    assert seqs == list(range(1, 51))
