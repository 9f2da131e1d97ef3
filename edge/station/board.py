"""What the board and the API show: the alarms and sites as stored, kept in memory.

The worker thread applies each committed change (:meth:`BoardView.apply`); the web side
reads views under the same lock and never touches the database for the board. After a
restart :meth:`BoardView.load` rebuilds it from the archive before anything is served,
so open alarms are open at once with the ack state the archive holds (rule: never
"handled until the next repeat").
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from edge.station.alarms import SITE_SENSOR, AckState, Alarm
from edge.station.archive import Archive
from edge.station.health import StationHealth
from edge.station.sites import SiteBook

RECENT_CLOSED = 200
RESUME_WINDOW = 10_000
"""Seqs per device read back at start-up to resume gap accounting where it stood."""
SEVERITY_ORDER = {"critical": 0, "fault": 1, "warning": 2, "info": 3}
MARK = {
    "en": {"silent": "site silent — alarm stands", "offline": "site offline — alarm stands"},
    "id": {
        "silent": "lokasi senyap — alarm tetap berlaku",
        "offline": "lokasi luring — alarm tetap berlaku",
    },
}


def _epoch_s(iso: str | None) -> float | None:
    if not iso:
        return None
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class BoardView:
    def __init__(self, sites: SiteBook, health: StationHealth, language: str = "id") -> None:
        self.sites = sites
        self.health = health
        self.language = language
        self.lock = threading.RLock()
        self._alarms: dict[str, Alarm] = {}
        self._shown: dict[tuple[str, str], str] = {}
        """The site status each device's open alarms were last shown with (their marker)."""

    # ------------------------------------------------------------------ state

    def load(self, archive: Archive) -> None:
        """Rebuild from the archive: open alarms, recent closed ones, devices, sensors, seqs."""
        with self.lock:
            for alarm in archive.alarms(open_only=True, limit=1_000_000):
                self._alarms[alarm.alarm_id] = alarm
            for alarm in archive.alarms(limit=RECENT_CLOSED):
                self._alarms.setdefault(alarm.alarm_id, alarm)
            for row in archive.devices():
                dev = self.sites.device(row["site"], row["device"])
                dev.status = row["status"]
                dev.status_at = _epoch_s(row["status_at"])
                dev.last_heard = _epoch_s(row["last_heard"])
                dev.heartbeat_at = _epoch_s(row["heartbeat_at"])
                dev.interval_s = float(row["interval_s"] or dev.interval_s)
                dev.broker = row["broker"]
                dev.ledger.epoch = int(row["epoch"] or 0)
                window = archive.device_seqs(dev.site, dev.device, dev.ledger.epoch, RESUME_WINDOW)
                if window:
                    dev.ledger.watermark = window[0] - 1
                    for seq in window:
                        dev.ledger.note_seq(seq)
            for (site, device), reason in archive.status_reasons().items():
                self.sites.device(site, device).status_reason = reason
            for site, device, sensor, state, epoch, seq in archive.sensor_states():
                self.sites.on_sensor(site, device, sensor, state, seq, epoch)
            for alarm in self._alarms.values():
                if alarm.sensor == SITE_SENSOR and alarm.active and not alarm.closed:
                    dev = self.sites.device(alarm.site, alarm.device)
                    offline = "lost" if dev.status_reason == "lost" else "offline"
                    dev.flag = offline if dev.status == "offline" else "silent"
                    dev.flag_at = _epoch_s(alarm.last_at) or 0.0

    def apply(self, alarms: Iterable[Alarm]) -> None:
        with self.lock:
            for alarm in alarms:
                self._alarms[alarm.alarm_id] = alarm
            closed = [a for a in self._alarms.values() if a.closed]
            if len(closed) > 2 * RECENT_CLOSED:
                closed.sort(key=lambda a: a.closed_at or "")
                for old in closed[: len(closed) - RECENT_CLOSED]:
                    del self._alarms[old.alarm_id]

    def get(self, alarm_id: str) -> Alarm | None:
        with self.lock:
            return self._alarms.get(alarm_id)

    def awaiting_device(self) -> list[Alarm]:
        """Open alarms with acks the device has not answered yet."""
        with self.lock:
            return [a for a in self._alarms.values() if a.pending and not a.closed]

    # ------------------------------------------------------------------ views

    def alarm_view(self, alarm: Alarm, now: float) -> dict[str, Any]:
        view = alarm.view()
        dev = self.sites.devices.get((alarm.site, alarm.device))
        status = dev.condition(now, self.health.listening_since) if dev else "online"
        view["site_status"] = status
        view["handled"] = alarm.ack is AckState.CONFIRMED
        view["counted"] = not alarm.drill and not alarm.test
        marker = None
        if status != "online" and alarm.active and not alarm.silent_site and not alarm.closed:
            marker = MARK.get(self.language, MARK["en"])[status]
        view["marker"] = marker
        return view

    def restated(
        self, devices: Iterable[tuple[str, str]], now: float, *, skip: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """The views of the open alarms of those ``devices`` whose site status changed
        since they were last shown (rule 9: the marker follows it), except ``skip``."""
        skipped = set(skip)
        with self.lock:
            changed = set()
            for key in devices:
                dev = self.sites.devices.get(key)
                status = dev.condition(now, self.health.listening_since) if dev else "online"
                if self._shown.get(key, "online") != status:
                    self._shown[key] = status
                    changed.add(key)
            return [
                self.alarm_view(a, now)
                for a in self._alarms.values()
                if (a.site, a.device) in changed and not a.closed and a.alarm_id not in skipped
            ]

    def alarms(self, now: float, *, open_only: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            chosen = [a for a in self._alarms.values() if not (open_only and a.closed)]

            def key(a: Alarm) -> tuple[Any, ...]:
                return (
                    a.closed,
                    a.drill or a.test,
                    not a.active,
                    a.ack is AckState.CONFIRMED,
                    SEVERITY_ORDER.get(a.severity, 9),
                    a.first_at,
                )

            return [self.alarm_view(a, now) for a in sorted(chosen, key=key)]

    def counts(self) -> dict[str, int]:
        """The three numbers the board shows, from the same alarms the list shows."""
        with self.lock:
            real = [a for a in self._alarms.values() if not a.closed and not a.drill and not a.test]
            return {
                "open": len(real),
                "unacknowledged": sum(a.ack is AckState.NONE and a.ack_needed for a in real),
                "pending": sum(a.ack is AckState.PENDING for a in real),
                "drill": sum(
                    1 for a in self._alarms.values() if not a.closed and (a.drill or a.test)
                ),
            }

    def site_views(self, now: float) -> list[dict[str, Any]]:
        with self.lock:
            counts: dict[tuple[str, str], int] = {}
            for a in self._alarms.values():
                if not a.closed and not a.drill and not a.test:
                    counts[(a.site, a.device)] = counts.get((a.site, a.device), 0) + 1
            return self.sites.view(now, self.health.listening_since, counts)
