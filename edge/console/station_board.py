"""The console's board in ``--station`` mode, sans I/O: the station's truth, kept current
from its API snapshots and its live changes, plus what the operator does at the console.

Rules (each a test in tests/test_console_station.py):

- **One list, three counts.** The alarms shown, and the counts above them (open,
  unacknowledged, pending), come from the same list: they always agree. Drills and walk
  tests are listed apart, after the real ones, and never counted as real.
- **Handled is the station's word, which is the device's.** An alarm is drawn handled only
  when the station says ``ack == "confirmed"``; ``pending`` is drawn as waiting for the
  device, with who acknowledged it.
- **Selective acknowledge.** The operator moves a selection over the alarms and
  acknowledges the selected one only, after confirming it (``y``); a drill is never
  acknowledged together with real alarms, and a handled or closed one not at all.
- **The console's own link loss is one banner**, never the sites': while the station
  cannot be reached the last known board stays, marked as stale since when.
- **Its own notes stay on screen** (the last :data:`NOTES`), not only in a log.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

NOTES = 5
LABELS = {
    "en": {
        "open": "open",
        "unacked": "unacknowledged",
        "pending": "waiting for the device",
        "drills": "drill/test",
        "handled": "handled",
        "link_lost": "CONSOLE CANNOT REACH THE STATION since {since}: the board below is "
        "as it was then ({why}); the sites are not to blame",
        "confirm": "Acknowledge {what} as {who}? [y] yes  [n] no",
        "no_alarms": "no open alarms",
        "offline": "OFFLINE",
        "silent": "SILENT",
        "not_watched": "not watched",
        "devices_ok": "{n} more device(s) online and watched",
        "keys": "[↑/↓ j/k] select   [a] acknowledge the selected alarm   [q] quit",
        "read_only": "read-only (start with --user NAME to acknowledge)   [↑/↓] select   [q] quit",
        "more": "… {n} more",
        "drill": "DRILL",
        "test": "TEST",
    },
    "id": {
        "open": "terbuka",
        "unacked": "belum dikonfirmasi",
        "pending": "menunggu perangkat",
        "drills": "latihan/uji",
        "handled": "ditangani",
        "link_lost": "KONSOL TIDAK TERHUBUNG KE STASIUN sejak {since}: tampilan di bawah "
        "adalah keadaan saat itu ({why}); bukan kesalahan lokasi",
        "confirm": "Konfirmasi {what} sebagai {who}? [y] ya  [n] tidak",
        "no_alarms": "tidak ada alarm terbuka",
        "offline": "LURING",
        "silent": "SENYAP",
        "not_watched": "tidak diawasi",
        "devices_ok": "{n} perangkat lain daring dan diawasi",
        "keys": "[↑/↓ j/k] pilih   [a] konfirmasi alarm terpilih   [q] keluar",
        "read_only": "hanya baca (jalankan dengan --user NAMA untuk konfirmasi)   [q] keluar",
        "more": "… {n} lagi",
        "drill": "LATIHAN",
        "test": "UJI",
    },
}


@dataclass
class StationBoard:
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)
    sites: list[dict[str, Any]] = field(default_factory=list)
    station: dict[str, Any] = field(default_factory=dict)
    selected: str | None = None
    confirming: str | None = None
    link_lost_since: str | None = None
    link_why: str = ""
    notes: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=NOTES))
    noted: int = 0
    """How many notes ever (the deque keeps the last few)."""

    @property
    def language(self) -> str:
        lang = str(self.station.get("language", "id"))
        return lang if lang in LABELS else "en"

    @property
    def words(self) -> dict[str, str]:
        return LABELS[self.language]

    # ------------------------------------------------------------------ input

    def snapshot(self, alarms: dict[str, Any], sites: dict[str, Any]) -> None:
        """The whole board from ``GET /api/alarms?open=true`` and ``GET /api/sites``."""
        self.alarms = {a["alarm_id"]: a for a in alarms.get("alarms", [])}
        self.sites = list(sites.get("sites", []))
        self.station = dict(sites.get("station") or alarms.get("station") or {})
        self.link_lost_since = None
        self._keep_selection()

    def change(self, change: dict[str, Any]) -> str | None:
        """One live change; returns ``"sites"`` or ``"all"`` when a reload is needed."""
        kind = change.get("kind")
        if kind == "alarm" and isinstance(change.get("alarm"), dict):
            alarm = change["alarm"]
            if alarm.get("closed"):
                self.alarms.pop(alarm["alarm_id"], None)
            else:
                self.alarms[alarm["alarm_id"]] = alarm
            self._keep_selection()
            return None
        if kind == "health" and isinstance(change.get("health"), dict):
            self.station["banner"] = change["health"].get("banner")
            return None
        if kind == "sites":
            return "sites"
        return "all" if kind == "resync" else None

    def link_lost(self, why: str, when: str) -> None:
        if self.link_lost_since is None:
            self.link_lost_since = when
            self.note(when, f"link to the station lost: {why}")
        self.link_why = why

    def note(self, when: str, text: str) -> None:
        self.notes.append((when, text))
        self.noted += 1

    # ------------------------------------------------------------------ views

    def real(self) -> list[dict[str, Any]]:
        """Open real alarms, worst first: unhandled, then waiting, then handled."""
        rank = {"none": 0, "pending": 1, "confirmed": 2}
        severity = {"critical": 0, "fault": 1, "warning": 2}
        chosen = [a for a in self.alarms.values() if a.get("counted", True) and not a["closed"]]
        return sorted(
            chosen,
            key=lambda a: (
                rank.get(a["ack"], 9),
                not a["active"],
                severity.get(a["severity"], 9),
                a["first_at"],
            ),
        )

    def drills(self) -> list[dict[str, Any]]:
        chosen = [a for a in self.alarms.values() if not a.get("counted", True)]
        return sorted(chosen, key=lambda a: a["first_at"])

    def ordered(self) -> list[dict[str, Any]]:
        return self.real() + self.drills()

    def counts(self) -> dict[str, int]:
        real = self.real()
        return {
            "open": len(real),
            "unacked": sum(a["ack"] == "none" for a in real),
            "pending": sum(a["ack"] == "pending" for a in real),
            "drills": len(self.drills()),
        }

    def troubled_devices(self) -> list[dict[str, Any]]:
        """Devices not online, or with sensors not watched: these are never scrolled off."""
        return [s for s in self.sites if s["status"] != "online" or s.get("not_watched")]

    # ------------------------------------------------------------------ operator

    def move(self, step: int) -> None:
        order = [a["alarm_id"] for a in self.ordered()]
        if not order:
            self.selected = None
            return
        if self.selected not in order:
            self.selected = order[0]
            return
        i = order.index(self.selected)
        self.selected = order[max(0, min(len(order) - 1, i + step))]
        self.confirming = None

    def ask_ack(self) -> str | None:
        """``a``: ask to confirm acknowledging the selected alarm; None if it cannot be."""
        alarm = self.alarms.get(self.selected or "")
        if alarm is None or alarm["closed"] or alarm["ack"] == "confirmed":
            self.confirming = None
            return None
        self.confirming = alarm["alarm_id"]
        return self.confirming

    def answer(self, yes: bool) -> str | None:
        """``y``/``n``: the alarm to acknowledge now, or None."""
        chosen, self.confirming = self.confirming, None
        return chosen if yes else None

    def describe(self, alarm_id: str) -> str:
        a = self.alarms.get(alarm_id)
        if a is None:
            return alarm_id
        kind = (
            " " + self.words["drill"]
            if a.get("drill")
            else " " + self.words["test"]
            if a.get("test")
            else ""
        )
        return f"{a['hazard']}{kind} {a['site']}/{a['device']}/{a['sensor']}"

    def _keep_selection(self) -> None:
        order = [a["alarm_id"] for a in self.ordered()]
        if self.selected not in order:
            self.selected = order[0] if order else None
        if self.confirming not in order:
            self.confirming = None
