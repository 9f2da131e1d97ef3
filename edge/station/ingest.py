"""MQTT in: one paho client per broker in ``mqtt.urls``, all at once, PUBACK after commit.

Every client is MQTT v5 with the station's fixed client id, a persistent session
(``clean_start`` false on *every* connect, not paho's default of clean on the first, and a
session expiry), QoS 1 on ``{p}/#`` with Retain-As-Published (a retained message
published while subscribed still arrives marked retained). paho's ``manual_ack`` is on:
a message is PUBACKed only when :meth:`BrokerLink.ack` is called, which the service does
after the batch holding it is committed. A station killed before that gets the message
again from the broker's session. An ack for a delivery from an earlier connection is not
sent: the broker delivers the message again on the new one, and that copy is acked.

With ``mqtt.share_group`` (several stations, one database) events and receipts come
through the shared subscription ``$share/<group>/…`` (each to one station), while the
retained and liveness topics (status, state, heartbeat) stay plain, for every station.
"""

from __future__ import annotations

import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge import logs
from edge.mqtt import explain, read_password
from edge.station.config import StationMqttConfig

log = logs.get("station.ingest")

BACKOFF_MIN_S = 1
BACKOFF_MAX_S = 30


@dataclass(frozen=True, slots=True)
class Delivery:
    url: str
    generation: int
    mid: int
    qos: int
    topic: str
    payload: bytes
    retained: bool
    user: dict[str, str]
    at: float
    """Wall time it was received (the station's clock)."""


def subscriptions(cfg: StationMqttConfig) -> list[str]:
    p = cfg.topic_prefix
    if cfg.share_group is None:
        return [f"{p}/#"]
    g = cfg.share_group
    return [
        f"$share/{g}/{p}/+/+/events",
        f"$share/{g}/{p}/+/+/acked",
        f"{p}/+/+/status",
        f"{p}/+/+/heartbeat",
        f"{p}/+/+/state/+",
    ]


class BrokerLink:
    """One broker. Callbacks run on paho's thread and only hand things over."""

    def __init__(
        self,
        url: str,
        cfg: StationMqttConfig,
        *,
        deliver: Callable[[Delivery], None],
        state: Callable[[str, bool], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.cfg = cfg
        self.deliver = deliver
        self.state = state
        self.clock = clock
        self.generation = 0
        self.subscribed = threading.Event()
        self._gen_lock = threading.Lock()
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.tls = parts.scheme == "mqtts"
        self.port = parts.port or (8883 if self.tls else 1883)
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            protocol=paho.MQTTv5,
            manual_ack=True,
        )
        client.reconnect_delay_set(BACKOFF_MIN_S, BACKOFF_MAX_S)
        if cfg.username is not None:
            password = read_password(cfg.password_file) if cfg.password_file else None
            client.username_pw_set(cfg.username, password)
        if self.tls:
            context = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
            if cfg.cert_file is not None and cfg.key_file is not None:
                context.load_cert_chain(str(cfg.cert_file), str(cfg.key_file))
            client.tls_set_context(context)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self.client = client
        self.topics = subscriptions(cfg)

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.cfg.session_expiry_s
        props.ReceiveMaximum = self.cfg.receive_maximum
        self.client.connect_async(
            self.host, self.port, self.cfg.keepalive_s, clean_start=False, properties=props
        )
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect: what was not acked stays in the broker's session for next time."""
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, delivery: Delivery) -> None:
        if delivery.qos == 0:
            return
        with self._gen_lock:
            if delivery.generation != self.generation:
                return
        self.client.ack(delivery.mid, delivery.qos)

    def publish(self, topic: str, payload: bytes) -> bool:
        if not self.subscribed.is_set():
            return False
        info = self.client.publish(topic, payload, qos=1, retain=False)
        return info.rc == paho.MQTT_ERR_SUCCESS

    # ------------------------------------------------------------------ callbacks

    def _on_connect(
        self, client: paho.Client, _ud: Any, flags: Any, rc: ReasonCode, _props: Any
    ) -> None:
        if rc.is_failure:
            log.error("broker_refused", url=self.url, reason=str(rc))
            return
        with self._gen_lock:
            self.generation += 1
        session = bool(getattr(flags, "session_present", False))
        log.info("broker_connected", url=self.url, session_present=session)
        opts = SubscribeOptions(qos=1, retainAsPublished=True)
        client.subscribe([(t, opts) for t in self.topics])

    def _on_connect_fail(self, _c: Any, _ud: Any) -> None:
        # paho calls this inside its ``except OSError``: the cause is still there.
        reason, hint = explain(sys.exception() or "connection failed")
        log.warning("broker_connect_failed", url=self.url, reason=reason, hint=hint)

    def _on_subscribe(self, _c: Any, _ud: Any, _mid: int, codes: Any, _props: Any) -> None:
        bad = [str(c) for c in codes if getattr(c, "is_failure", False)]
        if bad:
            log.error("subscribe_refused", url=self.url, reasons=bad)
        self.subscribed.set()
        self.state(self.url, True)

    def _on_disconnect(self, _c: Any, _ud: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        was = self.subscribed.is_set()
        self.subscribed.clear()
        if was:
            log.warning("broker_disconnected", url=self.url, reason=str(rc))
        self.state(self.url, False)

    def _on_message(self, _c: Any, _ud: Any, msg: paho.MQTTMessage) -> None:
        pairs = getattr(msg.properties, "UserProperty", None) or []
        self.deliver(
            Delivery(
                url=self.url,
                generation=self.generation,
                mid=msg.mid,
                qos=msg.qos,
                topic=msg.topic,
                payload=bytes(msg.payload),
                retained=bool(msg.retain),
                user={str(k): str(v) for k, v in pairs},
                at=self.clock(),
            )
        )
