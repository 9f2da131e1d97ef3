"""What the core thread is told, and the one queue it is told through.

Sensor callbacks, paho's network thread, signal handlers and the control socket never
touch daemon state: each posts one of these messages, and the core thread handles them
in order (:meth:`edge.daemon.loop.Daemon.handle` dispatches with ``match``). Posting is
thread-safe and signal-safe (``SimpleQueue.put`` is reentrant).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from edge.sensors import Sample


@dataclass(frozen=True, slots=True)
class Puback:
    """The broker answered a QoS 1 publish (``ok`` False: refused, reason code >= 0x80)."""

    mid: int
    ok: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message on a topic the device subscribes to (ack, resend, Home Assistant)."""

    topic: str
    payload: bytes
    retained: bool = False


@dataclass(frozen=True, slots=True)
class LinkUp:
    url: str


@dataclass(frozen=True, slots=True)
class LinkDown:
    reason: str


@dataclass(frozen=True, slots=True)
class Stop:
    """SIGTERM/SIGINT: stop cleanly, lose nothing."""


@dataclass(frozen=True, slots=True)
class Reload:
    """SIGHUP: read the config again."""


@dataclass(frozen=True, slots=True)
class Fatal:
    """paho's thread cannot go on: exit so that systemd restarts the daemon."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class Call:
    """Run a function on the core thread (control-socket requests, benchmarks)."""

    fn: Callable[[], None]


Message = Sample | Puback | Inbound | LinkUp | LinkDown | Stop | Reload | Fatal | Call

T = TypeVar("T")

MAX_BATCH = 500
"""Messages handled in one turn of the loop at most, so deadlines are looked at in between."""


class Inbox:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Message] = queue.SimpleQueue()

    def post(self, message: Message) -> None:
        self._queue.put(message)

    def wait(self, timeout: float) -> Message | None:
        """The loop's only blocking call: the next message, or None after ``timeout``."""
        try:
            return self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def take(self, limit: int = MAX_BATCH) -> list[Message]:
        """Up to ``limit`` messages already waiting, without blocking."""
        out: list[Message] = []
        while len(out) < limit:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return out


def call_on(post: Callable[[Message], None], fn: Callable[[], T], timeout: float) -> T:
    """Run ``fn`` on the core thread (through ``post``) and return its result or raise
    its exception; for other threads only (the control socket's)."""
    done = threading.Event()
    box: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:
            box.append((False, exc))
        finally:
            done.set()

    post(Call(run))
    if not done.wait(timeout):
        raise TimeoutError("the daemon's core loop did not answer in time")
    ok, value = box[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


class LinkBridge:
    """paho's thread -> the inbox (satisfies :class:`edge.mqtt.LinkHandler`)."""

    def __init__(self, post: Callable[[Message], None]) -> None:
        self.post = post

    def on_connected(self, url: str, session_present: bool) -> None:
        self.post(LinkUp(url))

    def on_disconnected(self, reason: str) -> None:
        self.post(LinkDown(reason))

    def on_puback(self, mid: int, ok: bool, reason: str) -> None:
        self.post(Puback(mid, ok, reason))

    def on_message(
        self, topic: str, payload: bytes, retained: bool, user: Mapping[str, str]
    ) -> None:
        self.post(Inbound(topic, payload, retained))

    def on_fatal(self, error: BaseException) -> None:
        self.post(Fatal(error))
