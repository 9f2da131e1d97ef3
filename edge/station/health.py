"""The station's own health: its brokers and its database, and the one banner they make.

Pure (times passed in). ``listening_since`` is when the station last became able to hear
the sites (at least one broker connected and the database writable): the site watch
measures silence from it, so the station's own loss is never blamed on the sites.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge.clock import iso_ms

BANNER = {
    "en": {
        "no_broker": "STATION NOT RECEIVING: no broker connected since {since}. "
        "What the sites show is not current; they are not to blame.",
        "database": "STATION DATABASE DOWN since {since}: nothing is being archived or "
        "acknowledged to the brokers until it returns.",
        "some_brokers": "Station: broker {urls} down since {since}; listening on the others.",
    },
    "id": {
        "no_broker": "STASIUN TIDAK MENERIMA: tidak ada broker terhubung sejak {since}. "
        "Tampilan lokasi tidak terkini; bukan kesalahan lokasi.",
        "database": "BASIS DATA STASIUN MATI sejak {since}: tidak ada yang diarsipkan "
        "sampai pulih.",
        "some_brokers": "Stasiun: broker {urls} mati sejak {since}; mendengar lewat yang lain.",
    },
}


@dataclass(slots=True)
class StationHealth:
    urls: list[str]
    language: str = "id"
    connected: dict[str, bool] = field(default_factory=dict)
    down_since: dict[str, float] = field(default_factory=dict)
    database_ok: bool = False
    database_down_since: float | None = None
    listening_since: float | None = None

    def __post_init__(self) -> None:
        for url in self.urls:
            self.connected.setdefault(url, False)

    @property
    def hearing(self) -> bool:
        return self.database_ok and any(self.connected.values())

    def _update(self, now: float) -> None:
        if self.hearing:
            if self.listening_since is None:
                self.listening_since = now
        else:
            self.listening_since = None

    def broker(self, url: str, up: bool, now: float) -> None:
        self.connected[url] = up
        if up:
            self.down_since.pop(url, None)
        else:
            self.down_since.setdefault(url, now)
        self._update(now)

    def database(self, ok: bool, now: float) -> None:
        self.database_ok = ok
        if ok:
            self.database_down_since = None
        elif self.database_down_since is None:
            self.database_down_since = now
        self._update(now)

    def banner(self) -> str | None:
        """One line, the loudest problem first; None when the station hears everything."""
        words = BANNER.get(self.language, BANNER["en"])
        if not self.database_ok:
            since = self.database_down_since
            return words["database"].format(since=_when(since))
        if not any(self.connected.values()):
            since = min(self.down_since.values(), default=None)
            return words["no_broker"].format(since=_when(since))
        down = [u for u, up in self.connected.items() if not up]
        if down:
            since = min(self.down_since.get(u, 0.0) for u in down)
            return words["some_brokers"].format(urls=", ".join(down), since=_when(since))
        return None

    def view(self) -> dict[str, Any]:
        return {
            "ok": self.database_ok and all(self.connected.values()),
            "brokers": {u: "connected" if up else "down" for u, up in self.connected.items()},
            "database": "ok" if self.database_ok else "down",
            "banner": self.banner(),
        }


def _when(t: float | None) -> str:
    return "start-up" if t is None else iso_ms(t)
