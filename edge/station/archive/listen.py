"""Several stations on one PostgreSQL: hear what the others committed (LISTEN/NOTIFY).

Each station archives only its share of the messages (MQTT v5 shared subscription), so
its board would miss the rest. Every committing transaction sends one NOTIFY (delivered
only if it commits, in commit order) naming what changed: alarm ids, devices, the events'
seqs. This thread LISTENs on its own connection and hands each payload to the station,
which reloads those alarms from the database and feeds the seqs to its gap accounting.
Why NOTIFY rather than a second, plain MQTT subscription: the board shows what is
*committed* (ack state, closes by another station's operators, which never pass MQTT),
and a station only ever applies what the database already holds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from edge import logs
from edge.station.archive.store import CHANNEL

log = logs.get("station.listen")

RECONNECT_S = 2.0


class ChangeListener:
    def __init__(self, url: str, deliver: Callable[[dict[str, Any]], None]) -> None:
        self.url = url
        self.deliver = deliver
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="station-listen", daemon=True)
        self.listening = threading.Event()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    # A reconnect may have missed notifications: ask for a full reload.
                    self.deliver({"resync": True})
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0, stop_after=100):
                            try:
                                self.deliver(json.loads(note.payload))
                            except ValueError:
                                log.warning("notify_unreadable", payload=note.payload[:100])
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("listen_lost", error=str(exc).strip(), retry_in_s=RECONNECT_S)
                self._stop.wait(RECONNECT_S)
