"""The MQTT link: the only module that imports paho.

paho's own thread runs the network loop; failover across ``mqtt.urls`` and jitter on top
of paho's exponential backoff are added through its callbacks. Every paho callback is
guarded: an exception inside one would otherwise kill paho's network thread silently
while ``publish()`` keeps returning success, so here it is recorded as fatal and reported
to the daemon, which exits non-zero for systemd to restart it (the outbox keeps every
event).
"""

from __future__ import annotations

import os
import random
import ssl
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge import logs
from edge.config import MqttConfig, MqttProtocol

log = logs.get("mqtt")

BACKOFF_MIN_S = 1
BACKOFF_MAX_S = 30
JITTER_MAX_S = 2.0
FAILOVER_AFTER = 2
PUBACK_OK_BELOW = 0x80  # MQTT v5: < 0x80 is success, incl. 0x10 "no matching subscribers"


class SecretError(Exception):
    """A secret file that must not be used as it is (missing, or readable by everyone)."""


class LinkHandler(Protocol):
    """What the link reports; called from the network thread, so keep each one short."""

    def on_connected(self, url: str, session_present: bool) -> None: ...

    def on_disconnected(self, reason: str) -> None: ...

    def on_puback(self, mid: int, ok: bool, reason: str) -> None: ...

    def on_message(self, topic: str, payload: bytes) -> None: ...

    def on_fatal(self, error: BaseException) -> None: ...


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes


def read_password(path: Path) -> str:
    """The broker password, refusing a file that others on the machine can read."""
    resolved = Path(os.path.expandvars(str(path)))
    try:
        mode = resolved.stat().st_mode
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(f"mqtt.password_file {resolved}: {exc.strerror}") from None
    if mode & stat.S_IROTH:
        raise SecretError(
            f"mqtt.password_file {resolved} is world-readable; run: chmod 0640 {resolved}"
        )
    return text.strip()


def _endpoint(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    return parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls


class MqttLink:
    """paho in its threaded mode (``loop_start``), which is the mode in which ``publish``
    from other threads is safe; failover and jitter are added through its callbacks."""

    def __init__(
        self,
        cfg: MqttConfig,
        client_id: str,
        handler: LinkHandler,
        *,
        will: Will | None = None,
        subscriptions: tuple[str, ...] = (),
    ) -> None:
        self.cfg = cfg
        self.handler = handler
        self.subscriptions = subscriptions
        self.connected = threading.Event()
        self.urls = cfg.broker_urls
        self._index = 0
        self._failures = 0
        self.url = self.urls[0]
        self.fatal: BaseException | None = None
        self._stopping = False
        v5 = cfg.protocol is MqttProtocol.V5
        self._v5 = v5
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            clean_session=None if v5 else False,
        )
        # The caller keeps a small window in flight; paho's own limits are ignored on
        # reconnect and its mids wrap at 65535, so it must never be handed a backlog.
        self.client.max_inflight_messages_set(max(cfg.inflight, 1) + 8)
        self.client.reconnect_delay_set(BACKOFF_MIN_S, BACKOFF_MAX_S)
        if will is not None:
            self.client.will_set(will.topic, will.payload, qos=1, retain=True)
        if cfg.username is not None:
            password = read_password(cfg.password_file) if cfg.password_file else None
            self.client.username_pw_set(cfg.username, password)
        if any(_endpoint(u)[2] for u in self.urls):
            context = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
            if cfg.cert_file is not None and cfg.key_file is not None:
                context.load_cert_chain(str(cfg.cert_file), str(cfg.key_file))
            self.client.tls_set_context(context)
        self.client.on_pre_connect = self._guard(self._on_pre_connect)
        self.client.on_connect = self._guard(self._on_connect)
        self.client.on_connect_fail = self._guard(self._on_connect_fail)
        self.client.on_disconnect = self._guard(self._on_disconnect)
        self.client.on_publish = self._guard(self._on_publish)
        self.client.on_message = self._guard(self._on_message)

    # ------------------------------------------------------------------ public

    def start(self) -> None:
        """Begin connecting in the background; the broker may well be down, and that is fine."""
        host, port, _ = _endpoint(self.url)
        if self._v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.cfg.session_expiry_s
            self.client.connect_async(
                host, port, self.cfg.keepalive_s, clean_start=False, properties=props
            )
        else:
            self.client.connect_async(host, port, self.cfg.keepalive_s)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int | None:
        """Hand a message to paho; the mid to match its PUBACK, or None when not connected."""
        if not self.connected.is_set():
            return None
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.warning("publish_refused_by_client", topic=topic, rc=int(info.rc))
            return None
        return int(info.mid)

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect cleanly (the broker then discards the Will) and end paho's thread."""
        self._stopping = True
        if self.connected.is_set():
            self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()

    @property
    def alive(self) -> bool:
        return self.fatal is None

    # ------------------------------------------------------------------ callbacks

    def _guard(self, fn: Callable[..., None]) -> Callable[..., None]:
        def guarded(*args: Any) -> None:
            try:
                fn(*args)
            except BaseException as exc:
                self._fail(exc)

        return guarded

    def _fail(self, exc: BaseException) -> None:
        if self.fatal is None:
            self.fatal = exc
            log.critical("mqtt_callback_failed", error=repr(exc))
            self.handler.on_fatal(exc)

    def _on_pre_connect(self, client: paho.Client, _ud: Any) -> None:
        # Failover: after two failures in a row on one broker, aim at the next. paho has no
        # public way to change the target between its own retries; these are the two
        # attributes its reconnect() reads.
        if self._failures >= FAILOVER_AFTER and len(self.urls) > 1:
            self._index = (self._index + 1) % len(self.urls)
            self._failures = 0
            self.url = self.urls[self._index]
            host, port, _ = _endpoint(self.url)
            client._host, client._port = host, port
            log.warning("broker_failover", url=self.url)
        if self._failures:
            # paho's backoff has no jitter; a fleet restarting together must not stampede.
            time.sleep(random.uniform(0.0, min(JITTER_MAX_S, 0.25 * self._failures)))

    def _on_connect_fail(self, _c: paho.Client, _ud: Any) -> None:
        self._failures += 1
        log.warning("broker_unreachable", url=self.url, attempts=self._failures)

    def _on_connect(
        self, client: paho.Client, _ud: Any, flags: Any, rc: ReasonCode, _props: Any
    ) -> None:
        if rc.is_failure:
            self._failures += 1
            log.error("broker_refused", url=self.url, reason=str(rc))
            return
        self._failures = 0
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        self.connected.set()
        session = bool(getattr(flags, "session_present", False))
        log.info("broker_connected", url=self.url, session_present=session)
        self.handler.on_connected(self.url or "", session)

    def _on_disconnect(
        self, _c: paho.Client, _ud: Any, _flags: Any, rc: ReasonCode, _props: Any
    ) -> None:
        if self.connected.is_set():
            self.connected.clear()
            if not self._stopping:
                self._failures += 1
                log.warning("broker_disconnected", url=self.url, reason=str(rc))
            self.handler.on_disconnected(str(rc))

    def _on_publish(self, _c: paho.Client, _ud: Any, mid: int, rc: ReasonCode, _props: Any) -> None:
        ok = not rc.is_failure
        self.handler.on_puback(mid, ok, str(rc))

    def _on_message(self, _c: paho.Client, _ud: Any, msg: paho.MQTTMessage) -> None:
        self.handler.on_message(msg.topic, bytes(msg.payload))
