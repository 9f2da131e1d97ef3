"""The MQTT link: the only module that imports paho.

paho's own thread runs the network loop; failover across ``mqtt.urls`` and jitter on top
of paho's exponential backoff are added through its callbacks. Every paho callback is
guarded: an exception inside one would otherwise kill paho's network thread silently
while ``publish()`` keeps returning success, so here it is recorded as fatal and reported
to the daemon, which exits non-zero for systemd to restart it (the outbox keeps every
event). The same goes for paho's network thread ending for any other reason (``alive``).

A connection that fails before the broker accepts it is logged as one
``broker_connect_failed`` line with the ``reason`` (the TLS verdict, the CONNACK code, the
socket error) and a ``hint`` naming the config field to look at.
"""

from __future__ import annotations

import os
import random
import socket
import ssl
import stat
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge import logs
from edge.config import MqttConfig, MqttProtocol
from edge.payloads import MAX_INBOUND_BYTES

log = logs.get("mqtt")

BACKOFF_MIN_S = 1
BACKOFF_MAX_S = 30
JITTER_MAX_S = 2.0
FAILOVER_AFTER = 2
WIRE_WAIT_S = 0.002  # how long the core thread lets paho's thread write a new event
PUBACK_OK_BELOW = 0x80  # MQTT v5: < 0x80 is success, incl. 0x10 "no matching subscribers"
# MQTT v5 Maximum Packet Size the device accepts: the broker drops anything larger meant
# for it, so a forged multi-megabyte ack never even reaches this process. Room for the
# largest inbound payload the daemon reads (MAX_INBOUND_BYTES) plus topic and properties.
MAX_PACKET_IN = MAX_INBOUND_BYTES + 1024


NO_CONNACK = "no answer from the broker (no CONNACK) within the keepalive"


class SecretError(Exception):
    """A secret file that must not be used as it is (missing, or readable by everyone)."""


class LinkHandler(Protocol):
    """What the link reports; called from the network thread, so keep each one short."""

    def on_connected(self, url: str, session_present: bool) -> None: ...

    def on_disconnected(self, reason: str) -> None: ...

    def on_puback(self, mid: int, ok: bool, reason: str) -> None: ...

    def on_message(
        self, topic: str, payload: bytes, retained: bool, user: Mapping[str, str]
    ) -> None:
        """``retained``: marked retained by the broker; ``user``: MQTT v5 user properties."""

    def on_fatal(self, error: BaseException) -> None: ...


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes


def read_password(path: Path) -> str:
    """The broker password, refusing a file that others on the machine can read."""
    if "CREDENTIALS_DIRECTORY" in str(path) and "CREDENTIALS_DIRECTORY" not in os.environ:
        raise SecretError(
            f"mqtt.password_file {path}: $CREDENTIALS_DIRECTORY is set only inside the "
            "service (systemd's LoadCredential=, from /etc/siaga-edge/mqtt-password); to "
            "check by hand: sudo CREDENTIALS_DIRECTORY=/etc/siaga-edge siaga-edge check-config"
        )
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
    if not text.strip():
        raise SecretError(f"mqtt.password_file {resolved} is empty")
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
        self._thread: threading.Thread | None = None
        self._last_error = ""  # paho's first error in this attempt, for one that died early
        self._reported = False  # this attempt's failure is logged already
        self.receive_maximum = 65535  # the broker's MQTT v5 Receive Maximum (CONNACK)
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
        self.client.on_log = self._guard(self._on_log)
        self._written = threading.Event()
        self.client.on_socket_unregister_write = self._guard(self._on_all_written)

    # ------------------------------------------------------------------ public

    def start(self) -> None:
        """Begin connecting in the background; the broker may well be down, and that is fine."""
        host, port, _ = _endpoint(self.url)
        if self._v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.cfg.session_expiry_s
            props.MaximumPacketSize = MAX_PACKET_IN
            self.client.connect_async(
                host, port, self.cfg.keepalive_s, clean_start=False, properties=props
            )
        else:
            self.client.connect_async(host, port, self.cfg.keepalive_s)
        self.client.loop_start()
        # paho has no public handle on its network thread; ``alive`` watches it, because an
        # exception outside our callbacks ends it silently while publish() still queues.
        self._thread = self.client._thread

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        user: Mapping[str, str] | None = None,
    ) -> int | None:
        """Hand a message to paho; the mid to match its PUBACK, or None when not connected.

        ``user``: MQTT v5 user properties (dropped on 3.1.1, which has none)."""
        if not self.connected.is_set():
            return None
        self._written.clear()
        props = None
        if user and self.client.protocol == paho.MQTTv5:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.UserProperty = list(user.items())
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.warning("publish_refused_by_client", topic=topic, rc=int(info.rc))
            return None
        return int(info.mid)

    def wait_written(self, timeout: float = WIRE_WAIT_S) -> bool:
        """Block until paho's network thread has written all it holds, or ``timeout``.

        The core thread calls this right after handing over a new event: blocking lets
        paho's thread take the GIL and put the packet on the wire now, not after the core
        thread's bookkeeping (bench_latency: ~0.2 ms sooner at the subscriber)."""
        return self._written.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect cleanly (the broker then discards the Will) and end paho's thread."""
        self._stopping = True
        if self.connected.is_set():
            self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()

    @property
    def alive(self) -> bool:
        """False once a callback failed or paho's network thread ended unasked."""
        if self.fatal is not None:
            return False
        thread = self._thread
        return self._stopping or thread is None or thread.is_alive()

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
        self._reported = False
        self._last_error = ""

    def _on_connect_fail(self, _c: paho.Client, _ud: Any) -> None:
        # paho calls this from inside its ``except OSError``: the exception is still there.
        self._failures += 1
        self._connect_failed(sys.exception() or self._last_error or "connection failed")

    def _connect_failed(self, why: BaseException | str) -> None:
        reason, hint = explain(why)
        # An unreachable broker is an outage (it passes); a refusal is a misconfiguration.
        refused = reason.startswith(("TLS", "the broker refused"))
        (log.error if refused else log.warning)(
            "broker_connect_failed", url=self.url, attempts=self._failures, reason=reason, hint=hint
        )
        self._last_error = ""
        self._reported = True

    def _on_log(self, _c: paho.Client, _ud: Any, level: int, buf: str) -> None:
        # Keep paho's first error of an attempt (the cause), not its later "not connected".
        if level == paho.MQTT_LOG_ERR and not self._last_error:
            self._last_error = buf

    def _on_connect(
        self, client: paho.Client, _ud: Any, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        if rc.is_failure:
            self._failures += 1
            self._connect_failed(f"the broker refused the connection: {rc}")
            return
        self._failures = 0
        self._last_error = ""
        self.receive_maximum = int(getattr(props, "ReceiveMaximum", 65535))
        for topic in self.subscriptions:
            if client.protocol == paho.MQTTv5:
                # Retain-As-Published: a retained message published while subscribed then
                # arrives marked retained too, not only the copy a later subscribe replays.
                client.subscribe(topic, options=SubscribeOptions(qos=1, retainAsPublished=True))
            else:
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
                log.warning("broker_disconnected", url=self.url, reason=self._last_error or str(rc))
            self._last_error = ""
            self.handler.on_disconnected(str(rc))
        elif not self._stopping and not self._reported:
            # Connected at TCP (and TLS) level but never accepted: with TLS 1.3 a broker
            # refuses a client certificate only after the handshake, on the first read; a
            # silent network lets paho wait one keepalive for the CONNACK.
            self._failures += 1
            self._connect_failed(self._last_error or NO_CONNACK)

    def _on_publish(self, _c: paho.Client, _ud: Any, mid: int, rc: ReasonCode, _props: Any) -> None:
        ok = not rc.is_failure
        self.handler.on_puback(mid, ok, str(rc))

    def _on_all_written(self, _c: paho.Client, _ud: Any, _sock: Any) -> None:
        self._written.set()

    def _on_message(self, _c: paho.Client, _ud: Any, msg: paho.MQTTMessage) -> None:
        pairs = getattr(msg.properties, "UserProperty", None) or []
        user = {str(k): str(v) for k, v in pairs}
        self.handler.on_message(msg.topic, bytes(msg.payload), bool(msg.retain), user)


# ---------------------------------------------------------------------- explaining failures

_TLS_ALERT_HINTS = (
    (
        "CERTIFICATE_REQUIRED",
        "the broker wants a client certificate: set mqtt.cert_file and mqtt.key_file",
    ),
    (
        "UNKNOWN_CA",
        "the broker does not trust this device's certificate (mqtt.cert_file): "
        "it was not signed by the broker's CA",
    ),
    ("BAD_CERTIFICATE", "the broker refused this device's certificate (mqtt.cert_file)"),
    ("CERTIFICATE_EXPIRED", "this device's certificate (mqtt.cert_file) has expired"),
    ("CERTIFICATE_REVOKED", "this device's certificate (mqtt.cert_file) was revoked"),
    ("CERTIFICATE_UNKNOWN", "the broker refused this device's certificate (mqtt.cert_file)"),
)
_VERIFY_HINTS = {
    10: "the broker's certificate has expired (or this device's clock is wrong: timedatectl)",
    9: "the broker's certificate is not valid yet (or this device's clock is wrong: timedatectl)",
    62: "the broker's certificate does not name the host in mqtt.url; use a name it was issued for",
    64: "the broker's certificate does not name the address in mqtt.url; use a name it was "
    "issued for",
}
_UNTRUSTED_HINT = "mqtt.ca_file is not the CA that signed the broker's certificate"


def explain(why: BaseException | str) -> tuple[str, str]:
    """(reason, hint) for a connection that failed before the broker accepted it.

    Only the exception's own text goes out: no config value, nothing secret."""
    if isinstance(why, ssl.SSLCertVerificationError):
        reason = f"TLS: the broker's certificate was refused: {why.verify_message}"
        code = why.verify_code
        if code in _VERIFY_HINTS:
            return reason, _VERIFY_HINTS[code]
        if code in (2, 18, 19, 20, 21):
            return reason, _UNTRUSTED_HINT
        return reason, "check mqtt.ca_file against the broker's certificate"
    if isinstance(why, ssl.SSLError):
        return _explain_text(f"TLS: {why.reason or why}")
    if isinstance(why, ConnectionRefusedError):
        return "connection refused", "is the broker running, and is the port in mqtt.url right?"
    if isinstance(why, socket.gaierror):
        return f"name not resolved: {why.strerror}", "check the host in mqtt.url and DNS"
    if isinstance(why, TimeoutError | socket.timeout):
        return "timed out", "the network path to the broker: link, routing, firewall"
    if isinstance(why, OSError):
        return (why.strerror or str(why)), "the network path to the broker"
    return _explain_text(str(why))


def _explain_text(text: str) -> tuple[str, str]:
    upper = text.upper()
    for marker, hint in _TLS_ALERT_HINTS:
        if marker in upper:
            return f"TLS: the broker refused this device ({text})", hint
    if text == NO_CONNACK:
        return text, "the network path to the broker: link, routing, firewall"
    if "NOT AUTHORIZED" in upper or "BAD USER NAME OR PASSWORD" in upper:
        return text, "check mqtt.username, mqtt.password_file and the broker's ACL"
    if "TLS" in upper or "SSL" in upper:
        return text, "check mqtt.ca_file, mqtt.cert_file and mqtt.key_file"
    return text, "see the broker's log for this client id"
