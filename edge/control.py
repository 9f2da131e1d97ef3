"""The local control channel: how ``readings``, ``calibrate`` and ``drill`` reach a running daemon.

A running daemon owns the pins, so tools on the same Pi ask it instead of opening them
again. The channel is a Unix stream socket at ``control.socket`` (default
``/run/siaga-edge/control.sock``), mode 0660: only root, the service user and members of
its group (``siaga``) can connect. Nothing of it goes over the network or over MQTT: a
drill is started by someone standing at the device, never by a message from outside.

Protocol: newline-delimited JSON, one request then one answer, several per connection::

    -> {"op": "readings"}
    <- {"ok": true, "sensors": [{...}, ...]}
    -> {"op": "drill_start", "name": "kebakaran.toml", "scenario": {...}, "traces": {...}}
    <- {"ok": false, "error": "a drill is already running (kebakaran.toml)"}

Operations: ``ping``, ``readings``, ``drill_start`` / ``drill_status`` / ``drill_stop``,
``tap_start`` / ``tap_read`` / ``tap_stop`` (a sensor's raw samples for ``calibrate``),
``walk_test_start`` / ``walk_test_stop`` / ``walk_test_status`` and ``siren_test`` (for
``siaga-edge test``; answered by a daemon that implements :class:`TestOps`).
The answering is done here, on the server's threads; every look at or change of daemon
state runs on the daemon's core thread (:meth:`DaemonOps.call`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from edge import logs
from edge.config import DigitalInput, EolInput, PulseInput, SensorConfig
from edge.detect.classify import PulseDensity
from edge.detect.machine import SensorMachine
from edge.sensors.base import Sample
from edge.walktest import WalkTestError

log = logs.get("control")

SOCKET_MODE = 0o660
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # a drill carries its traces; 16 MB is hours at 100 Hz
CALL_TIMEOUT_S = 5.0
CLIENT_TIMEOUT_S = 10.0
TAP_LIMIT = 200_000  # samples a tap holds before it drops new ones (a client that vanished)

T = TypeVar("T")
Request = dict[str, Any]
Answer = dict[str, Any]


class ControlError(Exception):
    """The daemon answered, and said no: the message says why."""


class NoDaemonError(ControlError):
    """Nothing listens on the control socket: no daemon runs with this config."""


class ControlDeniedError(ControlError):
    """A daemon runs but this user may not talk to it (not root, not in its group)."""


@dataclass(frozen=True, slots=True)
class Peer:
    """Who is on the other end, from the kernel (SO_PEERCRED), for the audit log."""

    pid: int
    uid: int
    gid: int

    def __str__(self) -> str:
        return f"uid={self.uid} pid={self.pid}"


# ---------------------------------------------------------------- framing


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message, separators=(",", ":")).encode() + b"\n")


def _receive(reader: Any) -> dict[str, Any] | None:
    """One message from a socket's file object; None at a clean end of stream."""
    line = reader.readline(MAX_MESSAGE_BYTES + 1)
    if not line:
        return None
    if len(line) > MAX_MESSAGE_BYTES:
        raise ValueError(f"message longer than {MAX_MESSAGE_BYTES} bytes")
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError("a message is a JSON object")
    return value


# ---------------------------------------------------------------- client


class ControlClient:
    """One connection to the daemon: ``request(op, **fields)`` returns the answer's fields."""

    def __init__(self, path: Path, timeout: float = CLIENT_TIMEOUT_S) -> None:
        self.path = path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise NoDaemonError(f"no daemon answers on {path} ({exc.strerror})") from None
        except PermissionError:
            sock.close()
            raise ControlDeniedError(
                f"permission denied on {path}: run as root or as a member of the daemon's "
                "group (siaga)"
            ) from None
        except OSError as exc:
            sock.close()
            raise NoDaemonError(f"cannot reach a daemon on {path}: {exc}") from None
        self._sock = sock
        self._reader = sock.makefile("rb")

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        try:
            _send(self._sock, {"op": op, **fields})
            answer = _receive(self._reader)
        except (OSError, ValueError) as exc:
            raise ControlError(f"the daemon's control channel failed: {exc}") from None
        if answer is None:
            raise ControlError("the daemon closed the control channel")
        if not answer.get("ok"):
            raise ControlError(str(answer.get("error", "refused")))
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._reader.close()
            self._sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def daemon_running(path: Path) -> bool:
    """Whether a daemon answers on ``path`` (denied counts as running: it owns the pins)."""
    try:
        with ControlClient(path, timeout=2.0) as client:
            client.request("ping")
    except ControlDeniedError:
        return True
    except ControlError:
        return False
    return True


# ---------------------------------------------------------------- server


class ControlServer:
    """Accepts connections on a thread; each connection is served on its own thread.

    ``handler(request, peer)`` answers one request; an exception becomes ``ok: false``.
    """

    def __init__(self, path: Path, handler: Callable[[Request, Peer], Answer]) -> None:
        self.path = path
        self.handler = handler
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Bind (replacing a stale socket, never a live one) and start accepting."""
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise OSError(f"{path} exists and is not a socket")
            if daemon_running(path):
                raise OSError(f"another daemon already answers on {path}")
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(path))
            os.chmod(path, SOCKET_MODE)
            sock.listen(8)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, name="control", daemon=True)
        self._thread.start()
        log.info("control_listening", socket=str(path))

    def stop(self) -> None:
        self._stopping.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            with contextlib.suppress(OSError):
                self.path.unlink()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            sock = self._sock
            if sock is None:
                return
            try:
                conn, _ = sock.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            with self._lock:
                self._conns.add(conn)
            threading.Thread(
                target=self._serve, args=(conn,), name="control-conn", daemon=True
            ).start()

    def _serve(self, conn: socket.socket) -> None:
        peer = _peer(conn)
        reader = conn.makefile("rb")
        try:
            while not self._stopping.is_set():
                try:
                    request = _receive(reader)
                except ValueError as exc:
                    _send(conn, {"ok": False, "error": f"bad request: {exc}"})
                    return
                if request is None:
                    return
                _send(conn, self._answer(request, peer))
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                reader.close()
                conn.close()

    def _answer(self, request: Request, peer: Peer) -> Answer:
        try:
            answer = self.handler(request, peer)
        except ControlError as exc:
            return {"ok": False, "error": str(exc)}
        except TimeoutError as exc:
            return {"ok": False, "error": str(exc) or "the daemon did not answer in time"}
        except Exception as exc:
            log.exception("control_request_failed", op=request.get("op"))
            return {"ok": False, "error": f"internal error: {exc!r}"}
        return {"ok": True, **answer}


def serve_control(path: Path, handler: Callable[[Request, Peer], Answer]) -> ControlServer | None:
    """The daemon's control socket, or None when it cannot be served: never a reason not
    to watch (only readings, calibrate and drill lose the daemon)."""
    server = ControlServer(path, handler)
    try:
        server.start()
    except OSError as exc:
        log.warning("control_unavailable", socket=str(server.path), error=str(exc))
        return None
    return server


def _peer(conn: socket.socket) -> Peer:
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, gid = struct.unpack("3i", creds)
    except (OSError, AttributeError):
        return Peer(-1, -1, -1)
    return Peer(pid, uid, gid)


# ---------------------------------------------------------------- the daemon's side


class DaemonOps(Protocol):
    """What the control channel needs of the daemon; all but ``call`` run on its core."""

    def call(self, fn: Callable[[], T], timeout: float = CALL_TIMEOUT_S) -> T: ...

    def readings(self) -> list[dict[str, Any]]: ...

    def drill_start(self, request: Request, who: str) -> dict[str, Any]: ...

    def drill_status(self, since: int = 0) -> dict[str, Any]: ...

    def drill_stop(self, who: str) -> dict[str, Any]: ...

    def tap(self, sensor: str, action: str) -> list[list[float | None]]: ...


@runtime_checkable
class TestOps(Protocol):
    """What ``siaga-edge test`` needs of the daemon; each runs on its core thread.

    ``walk_test_start(sensors, minutes, who)``: ``sensors`` are ids or ``["all"]``;
    answers ``{"sensors": [...], "minutes": m, "remaining_s": s}``; refuses (raise
    ControlError, or WalkTestError) unknown sensors or a duration beyond the bound.
    ``walk_test_stop(sensors, who)``: ``None`` ends every test; answers ``{"sensors"}``.
    ``walk_test_status()``: ``{"sensors": WalkTest.status(now)}``.
    ``siren_test(seconds, who)``: sound the siren and blink the LED for ``seconds``;
    answers ``{"seconds": s}`` (ControlError when the site has no siren or LED).
    """

    def walk_test_start(self, sensors: list[str], minutes: float, who: str) -> dict[str, Any]: ...

    def walk_test_stop(self, sensors: list[str] | None, who: str) -> dict[str, Any]: ...

    def walk_test_status(self) -> dict[str, Any]: ...

    def siren_test(self, seconds: float, who: str) -> dict[str, Any]: ...


def _names(request: Request) -> list[str]:
    value = request.get("sensors", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ControlError("sensors is a list of sensor ids")
    return list(value)


def _positive(request: Request, field: str) -> float:
    value = request.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ControlError(f"{field} is a positive number")
    return float(value)


class ControlService:
    """Turns requests into calls on the daemon's core thread."""

    def __init__(self, daemon: DaemonOps) -> None:
        self.daemon = daemon

    def _tests(self) -> TestOps:
        if not isinstance(self.daemon, TestOps):
            raise ControlError("this daemon does not support walk or siren tests")
        return self.daemon

    def __call__(self, request: Request, peer: Peer) -> Answer:
        op = request.get("op")
        d = self.daemon
        if op == "ping":
            return {}
        if op == "readings":
            return {"sensors": d.call(d.readings)}
        if op == "drill_start":
            return d.call(lambda: d.drill_start(request, str(peer)))
        if op == "drill_status":
            since = int(request.get("since", 0))
            return d.call(lambda: d.drill_status(since))
        if op == "drill_stop":
            return d.call(lambda: d.drill_stop(str(peer)))
        if op in ("walk_test_start", "walk_test_stop", "walk_test_status", "siren_test"):
            try:
                return self._test_op(op, request, str(peer))
            except WalkTestError as exc:  # a refusal meant for the technician
                raise ControlError(str(exc)) from None
        if op in ("tap_start", "tap_read", "tap_stop"):
            sensor = str(request.get("sensor", ""))
            action = op.removeprefix("tap_")
            return {"samples": d.call(lambda: d.tap(sensor, action))}
        raise ControlError(f"unknown op {op!r}")

    def _test_op(self, op: str, request: Request, who: str) -> Answer:
        d, tests = self.daemon, self._tests()
        if op == "walk_test_start":
            sensors, minutes = _names(request), _positive(request, "minutes")
            return d.call(lambda: tests.walk_test_start(sensors, minutes, who))
        if op == "walk_test_stop":
            sensors = _names(request)
            return d.call(lambda: tests.walk_test_stop(sensors or None, who))
        if op == "walk_test_status":
            return d.call(tests.walk_test_status)
        seconds = _positive(request, "seconds")
        return d.call(lambda: tests.siren_test(seconds, who))


# ---------------------------------------------------------------- readings


RAW_UNIT = {
    "digital": "level",
    "pulse": "pulse",
    "mcp3008": "fraction",
    "eol": "fraction",
    "hcsr04": "m",
}
LOOP_UNIT = "Ω"


def thresholds_text(cfg: SensorConfig) -> str:
    """The sensor's rule in a few words, as a technician compares it with the reading."""
    unit = f" {cfg.unit}" if cfg.unit else ""
    inp = cfg.input
    if isinstance(inp, DigitalInput):
        return "contact open = alarm (NC)" if inp.normally_closed else "contact closed = alarm"
    if isinstance(inp, EolInput):
        bands = {b.state.value: b for b in inp.loop.bands()}
        normal, alarm = bands["normal"], bands["alarm"]
        return (
            f"loop normal {normal.low_ohm:.0f}-{normal.high_ohm:.0f} Ω, "
            f"alarm {alarm.low_ohm:.0f}-{alarm.high_ohm:.0f} Ω"
        )
    if isinstance(inp, PulseInput):
        assert cfg.pulses is not None
        p = cfg.pulses
        warn = f"warn {p.warning}, " if p.warning is not None else ""
        return f"{warn}alarm {p.alarm} pulses / {p.window_s:g} s"
    parts: list[str] = []
    if cfg.sta_lta is not None:
        parts.append(f"STA/LTA on {cfg.sta_lta.on:g}")
        if cfg.alarm is not None:
            parts.append(f"alarm peak {cfg.alarm:g}{unit}")
        return ", ".join(parts)
    if cfg.stages:
        parts += [f"{s.name} {s.level:g}" for s in cfg.stages]
    if cfg.warning is not None:
        parts.append(f"warn {cfg.warning:g}")
    if cfg.alarm is not None:
        parts.append(f"alarm {cfg.alarm:g}")
    text = " · ".join(parts) + (unit if parts else "")
    if cfg.rate_alarm_per_min is not None:
        text += f"{', ' if text else ''}rise {cfg.rate_alarm_per_min:g}{unit}/min"
    return text


def sensor_reading(
    cfg: SensorConfig, machine: SensorMachine | None, sample: Sample | None, now: float
) -> dict[str, Any]:
    """One row of ``readings``: what the sensor said last, what detection makes of it."""
    inp = cfg.input
    return {
        "sensor": cfg.id,
        "name": cfg.name,
        "kind": cfg.kind.value,
        "hazard": cfg.hazard.value,
        "input": inp.type,
        "enabled": cfg.enabled,
        "raw": None if sample is None else sample.raw,
        "raw_unit": RAW_UNIT[inp.type],
        "value": None if sample is None else sample.value,
        "unit": cfg.unit or (LOOP_UNIT if isinstance(inp, EolInput) else ""),
        "state": None if machine is None else machine.state.value,
        "stage": None if machine is None else machine.stage,
        "warning": cfg.warning,
        "alarm": cfg.alarm,
        "thresholds": thresholds_text(cfg),
        "age_s": None if sample is None else round(max(0.0, now - sample.t), 3),
        "sample_hz": None if isinstance(inp, DigitalInput | PulseInput) else cfg.sample_hz,
        **_health(cfg, machine, now),
    }


def _health(cfg: SensorConfig, machine: SensorMachine | None, now: float) -> dict[str, Any]:
    """What detection makes of the input: why it is in fault, how old the last *good*
    sample is (a failing sensor keeps sampling), a pulse input's count in its window."""
    if machine is None:
        return {"reason": None, "good_age_s": None}
    good = machine.last_good_t
    out: dict[str, Any] = {
        "reason": machine.reason.value,
        "good_age_s": None if good is None else round(max(0.0, now - good), 3),
    }
    classifier = machine.classifier
    if isinstance(classifier, PulseDensity):
        out["pulses"] = classifier.window.count_at(now)
        out["window_s"] = classifier.window.window_s
    return out
