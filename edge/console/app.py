"""The console's I/O: MQTT in and out, operator commands, output; the Board decides.

MQTT goes through :class:`edge.mqtt.MqttLink` (the one module that imports paho) with a
fixed client id, ``clean_start`` off and a session expiry, i.e. a persistent MQTT v5
session: while the console is down the broker queues what arrives (QoS 1), and the
console catches up when it comes back. The last ``seq`` it accounted for per device is
saved to a small state file, so a gap that opened while it was down (a broker that
dropped part of its queue) is still noticed and asked for on ``resend``.

Operator commands come as keys on a terminal (``a`` acknowledge, ``q`` quit) or, when
stdin is not a terminal or with ``--json``, as lines: ``ack`` (every open event),
``ack EVENT_ID``, ``quit``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.clock import Clock
from edge.config import MqttConfig
from edge.console.board import Board, Outgoing, Update
from edge.mqtt import MqttLink

POLL_S = 0.1
SAVE_EVERY_S = 5.0
PENDING_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    payload: bytes
    user: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Command:
    text: str


@dataclass(frozen=True, slots=True)
class _Link:
    what: str
    detail: str = ""


Item = _Message | _Command | _Link


class _Bridge:
    """paho's thread -> the console's queue."""

    def __init__(self, inbox: queue.SimpleQueue[Item]) -> None:
        self.inbox = inbox

    def on_connected(self, url: str, session_present: bool) -> None:
        self.inbox.put(
            _Link("connected", f"{url} (session {'resumed' if session_present else 'new'})")
        )

    def on_disconnected(self, reason: str) -> None:
        self.inbox.put(_Link("disconnected", reason))

    def on_puback(self, mid: int, ok: bool, reason: str) -> None:
        if not ok:
            self.inbox.put(_Link("refused", reason))

    def on_message(
        self, topic: str, payload: bytes, retained: bool, user: Mapping[str, str]
    ) -> None:
        self.inbox.put(_Message(topic, payload, dict(user)))

    def on_fatal(self, error: BaseException) -> None:
        self.inbox.put(_Link("fatal", repr(error)))


class ConsoleSession:
    """Runs the board against a broker until ``stop()``; output through callbacks."""

    def __init__(
        self,
        mqtt: MqttConfig,
        *,
        client_id: str,
        board: Board,
        clock: Clock,
        site: str | None = None,
        ack_as: str | None = None,
        state_file: Path | None = None,
        on_update: Callable[[Update], None] | None = None,
        on_note: Callable[[str], None] | None = None,
    ) -> None:
        self.board = board
        self.clock = clock
        self.ack_as = ack_as
        self.state_file = state_file
        self.on_update = on_update or (lambda _u: None)
        self.on_note = on_note or (lambda _n: None)
        self.inbox: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self.topic = f"{board.prefix}/{site}/#" if site else f"{board.prefix}/#"
        self.link = MqttLink(
            mqtt, client_id=client_id, handler=_Bridge(self.inbox), subscriptions=(self.topic,)
        )
        self.connected_url: str | None = None
        self.failed: str | None = None
        self._pending: list[Outgoing] = []
        self._stop = threading.Event()
        self._saved_at = 0.0
        self.selected: str | None = None
        """The open event the operator's selection is on (live board)."""
        self.confirming: str | None = None
        """The event waiting for the operator's y/n before its ack is sent."""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        self._stop.set()
        self.inbox.put(_Link("stop"))

    def close(self) -> None:
        self.save()
        self.link.stop()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def command(self, text: str) -> None:
        """Thread-safe: an operator command (``ack``, ``ack ID``, ``quit``)."""
        self.inbox.put(_Command(text))

    # ------------------------------------------------------------------ the loop

    def step(self, timeout: float = POLL_S) -> None:
        """Handle what arrived (waiting up to ``timeout`` for the first), then let time pass."""
        try:
            item: Item | None = self.inbox.get(timeout=timeout)
        except queue.Empty:
            item = None
        while item is not None:
            self._handle(item)
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                item = None
        now = self.clock.monotonic()
        self._apply(self.board.tick(now))
        self._flush()
        if now - self._saved_at >= SAVE_EVERY_S:
            self.save()
            self._saved_at = now

    def run(self, duration: float | None = None, on_step: Callable[[], None] | None = None) -> None:
        deadline = None if duration is None else self.clock.monotonic() + duration
        while not self._stop.is_set():
            self.step()
            if on_step is not None:
                on_step()
            if deadline is not None and self.clock.monotonic() >= deadline:
                break

    def _handle(self, item: Item) -> None:
        if isinstance(item, _Message):
            self._apply(
                self.board.feed(item.topic, item.payload, self.clock.monotonic(), item.user)
            )
        elif isinstance(item, _Command):
            self._command(item.text.strip())
        elif item.what == "connected":
            self.connected_url = item.detail
            self.board.link(True, self.clock.monotonic())
            self.on_note(f"connected to {item.detail}; listening on {self.topic}")
        elif item.what == "disconnected":
            self.connected_url = None
            self.board.link(False, self.clock.monotonic())
            self.on_note(f"broker connection lost ({item.detail}); reconnecting")
        elif item.what == "refused":
            self.on_note(f"the broker refused a message: {item.detail} (check the ACL)")
        elif item.what == "fatal":
            self.failed = item.detail
            self._stop.set()

    def _apply(self, update: Update) -> None:
        self._pending += update.outgoing
        for note in update.notes:
            self.on_note(note)
        self.on_update(update)

    def _command(self, text: str) -> None:
        words = text.split()
        if not words:
            return
        verb = words[0].lower()
        if verb in ("q", "quit", "exit"):
            self.stop()
        elif verb in ("a", "ack"):
            self.acknowledge(words[1] if len(words) > 1 else None)
        elif verb == "select":
            self.move(int(words[1]) if len(words) > 1 else 1)
        elif verb == "ask":  # a key: confirm acknowledging the selected event first
            self.ask()
        elif verb in ("y", "yes", "n", "no"):
            chosen, self.confirming = self.confirming, None
            if chosen is not None and verb in ("y", "yes"):
                self.acknowledge(chosen)
        else:
            self.on_note(f"unknown command {text!r}: use 'ack', 'ack EVENT_ID' or 'quit'")

    def choices(self) -> list[dict[str, Any]]:
        """What the selection moves over: open real events, then open drill events."""
        pending = self.board.unacknowledged()
        return [e for e in pending if not e.get("drill")] + [e for e in pending if e.get("drill")]

    def move(self, step: int) -> None:
        ids = [e["id"] for e in self.choices()]
        if not ids:
            self.selected = None
            return
        i = ids.index(self.selected) + step if self.selected in ids else 0
        self.selected = ids[max(0, min(len(ids) - 1, i))]
        self.confirming = None

    def ask(self) -> None:
        if not self.ack_as:
            self.on_note("read-only console: start it with --ack-as NAME to acknowledge")
            return
        ids = [e["id"] for e in self.choices()]
        if self.selected not in ids:
            self.selected = ids[0] if ids else None
        self.confirming = self.selected
        if self.confirming is None:
            self.on_note("nothing open to acknowledge")

    def acknowledge(self, event_id: str | None = None) -> int:
        """Acknowledge one open event, or all of them, as ``ack_as``; how many."""
        if not self.ack_as:
            self.on_note("read-only console: start it with --ack-as NAME to acknowledge")
            return 0
        wall = self.clock.wall()
        if event_id is None:
            sent = self.board.ack_all(self.ack_as, wall)
        else:
            event = self.board.open.get(event_id)
            if event is None:
                self.on_note(f"no open event {event_id}")
                return 0
            sent = [self.board.ack(event, self.ack_as, wall)]
        self._pending += sent
        self._flush()
        if sent:
            self.on_note(f"acknowledged {len(sent)} event(s) as {self.ack_as}")
        return len(sent)

    def _flush(self) -> None:
        while self._pending:
            message = self._pending[0]
            if self.link.publish(message.topic, message.payload, qos=1) is None:
                break  # not connected: kept, sent after the reconnect
            self._pending.pop(0)
        del self._pending[:-PENDING_LIMIT]

    def save(self) -> None:
        if self.state_file is None:
            return
        data = {"watermarks": self.board.watermarks()}
        with contextlib.suppress(OSError):
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            os.replace(tmp, self.state_file)


def load_watermarks(path: Path | None) -> dict[str, int]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
        marks = data.get("watermarks", {})
        return {str(k): int(v) for k, v in marks.items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def default_state_file(client_id: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "siaga-edge" / f"{client_id}.json"


class LineReader:
    """Commands from a non-terminal stdin, one a line, on a daemon thread."""

    def __init__(self, session: ConsoleSession, stream: Any = None) -> None:
        self.session = session
        self.stream = stream or sys.stdin
        threading.Thread(target=self._run, name="console-stdin", daemon=True).start()

    def _run(self) -> None:
        try:
            for line in self.stream:
                self.session.command(line)
        except (OSError, ValueError):
            return


class KeyReader:
    """Single keys from a terminal (cbreak mode, restored on exit)."""

    def __init__(self, session: ConsoleSession) -> None:
        import termios
        import tty

        self.session = session
        self.fd = sys.stdin.fileno()
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)

    def poll(self) -> None:
        while select.select([self.fd], [], [], 0)[0]:
            key = os.read(self.fd, 1).decode(errors="ignore")
            if key == "\x1b":  # an arrow: ESC [ A / ESC [ B
                rest = os.read(self.fd, 2).decode(errors="ignore")
                key = {"[A": "k", "[B": "j"}.get(rest, "")
            if key in ("j", "k"):
                self.session.command(f"select {1 if key == 'j' else -1}")
            elif key == "a":
                self.session.command("ask")
            elif key in ("y", "Y", "n", "N"):
                self.session.command(key.lower())
            elif key in ("q", "Q"):
                self.session.command("quit")

    def close(self) -> None:
        import termios

        termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)


def wait_connected(session: ConsoleSession, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if session.link.connected.is_set():
            return True
        time.sleep(0.02)
    return False
