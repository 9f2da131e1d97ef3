"""The ``--station`` console's I/O: the station's API and stream in, the operator's keys
in, acknowledgements out; the :class:`StationBoard` decides what it all means."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from edge.console.station_board import StationBoard
from edge.console.station_link import StationClient, StationError

POLL_S = 0.1
SITES_EVERY_S = 5.0
"""Silence is a matter of time: the sites' status is read again this often."""


class StationSession:
    def __init__(
        self,
        client: StationClient,
        board: StationBoard,
        *,
        user: str | None,
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.client = client
        self.board = board
        self.user = user
        self.on_change = on_change or (lambda _c: None)
        self.inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._sites_at = 0.0

    @staticmethod
    def now() -> str:
        return time.strftime("%H:%M:%S")

    def start(self) -> None:
        self.reload()
        self.client.follow(
            on_change=lambda c: self.inbox.put(("change", c)),
            on_lost=lambda why: self.inbox.put(("lost", why)),
            on_connected=lambda: self.inbox.put(("connected", None)),
            stop=self._stop,
        )

    def stop(self) -> None:
        self._stop.set()
        self.inbox.put(("stop", None))

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def reload(self) -> bool:
        try:
            alarms = self.client.get("/api/alarms", open="true")
            sites = self.client.get("/api/sites")
        except StationError as exc:
            if exc.status in (401, 403):
                self.board.note(self.now(), f"the station refused the login: {exc}")
            self.board.link_lost(str(exc), self.now())
            return False
        self.board.snapshot(alarms, sites)
        self._sites_at = time.monotonic()
        return True

    def reload_sites(self) -> None:
        try:
            sites = self.client.get("/api/sites")
        except StationError as exc:
            self.board.link_lost(str(exc), self.now())
            return
        self.board.sites = list(sites.get("sites", []))
        self.board.station.update(sites.get("station") or {})
        self._sites_at = time.monotonic()

    def step(self, timeout: float = POLL_S) -> None:
        try:
            kind, value = self.inbox.get(timeout=timeout)
        except queue.Empty:
            kind, value = "", None
        while kind:
            self._handle(kind, value)
            try:
                kind, value = self.inbox.get_nowait()
            except queue.Empty:
                kind = ""
        if (
            time.monotonic() - self._sites_at >= SITES_EVERY_S
            and self.board.link_lost_since is None
        ):
            self.reload_sites()

    def _handle(self, kind: str, value: Any) -> None:
        if kind == "change":
            need = self.board.change(value)
            if need == "all":
                self.reload()
            elif need == "sites":
                self.reload_sites()
            self.on_change(value)
        elif kind == "lost":
            self.board.link_lost(str(value), self.now())
        elif kind == "connected":
            was_lost = self.board.link_lost_since is not None
            if self.reload() and was_lost:
                self.board.note(self.now(), "link to the station back; board reloaded")
        elif kind == "key":
            self.key(str(value))
        elif kind == "ack":  # a line command naming the alarm: chosen on purpose
            self.acknowledge(str(value))

    def key(self, key: str) -> None:
        """One operator key: j/k or arrows select, a asks, y/n answers, q quits."""
        if key in ("j", "down"):
            self.board.move(1)
        elif key in ("k", "up"):
            self.board.move(-1)
        elif key == "a":
            if self.user is None:
                self.board.note(self.now(), "read-only: start with --user NAME to acknowledge")
            elif self.board.ask_ack() is None:
                self.board.note(self.now(), "nothing to acknowledge: select an open alarm")
        elif key in ("y", "n"):
            chosen = self.board.answer(key == "y")
            if chosen is not None:
                self.acknowledge(chosen)
        elif key == "q":
            self.stop()

    def acknowledge(self, alarm_id: str) -> bool:
        what = self.board.describe(alarm_id)
        try:
            alarm = self.client.acknowledge(alarm_id)
        except StationError as exc:
            self.board.note(self.now(), f"acknowledging {what} failed: {exc}")
            return False
        self.board.change({"kind": "alarm", "alarm": alarm})
        self.board.note(
            self.now(), f"acknowledged {what} as {self.user}: waiting for the device to confirm"
        )
        return True

    def run(self, duration: float | None = None, on_step: Callable[[], None] | None = None) -> None:
        deadline = None if duration is None else time.monotonic() + duration
        while not self._stop.is_set():
            self.step()
            if on_step is not None:
                on_step()
            if deadline is not None and time.monotonic() >= deadline:
                break
