"""The station's CAP parts in one place for the service: the issuer the recorder calls,
the push worker over the archive's queue, the read-back poller, and their status for
the board (``view``) and the HTTP routes (``ports``).

Threads: the push worker (one per partner) and the poller run on their own; ``tick`` runs
on the station's worker thread (it owns the writer archive the refresh writes with).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from edge import logs
from edge.cap.atom import ATOM_TYPE, atom_feed
from edge.cap.decode import from_xml
from edge.cap.push_http import PushWorker
from edge.station.archive import Archive, ArchiveDownError
from edge.station.archive import cap as tables
from edge.station.archive.cap import ArchivePushStore
from edge.station.capfeed.facts import profile_of
from edge.station.capfeed.issuer import CapIssuer
from edge.station.capfeed.poller import FeedPoller
from edge.station.changes import ChangeHub
from edge.station.config import StationConfig
from edge.station.http.ports import CapPorts

log = logs.get("station.cap")

REFRESH_EVERY_S = 60.0


def _json(value: Any) -> Any:
    """Dataclass fields as JSON: times as ISO 8601."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


class CapWire:
    def __init__(
        self, config: StationConfig, hub: ChangeHub, *, clock: Callable[[], float]
    ) -> None:
        self.config = config
        self.hub = hub
        self.clock = clock
        cap = config.cap
        self.issuer = CapIssuer(
            profile_of(config, f"http://{config.http.listen}"), [p.key for p in cap.push]
        )
        self.reader = Archive(config.database.url)
        self.store = ArchivePushStore(Archive(config.database.url))
        self.push = PushWorker(
            self.store, cap.push, clock=lambda: datetime.fromtimestamp(self.clock(), UTC)
        )
        self.feeds = FeedPoller(
            cap.feeds,
            clock=clock,
            language=config.station.language.value,
            on_change=self._feeds_changed,
        )
        self._last_refresh = 0.0
        self._lock = threading.Lock()
        self._push_view: list[dict[str, Any]] = [
            {"partner": p.key, "state": "unknown"} for p in cap.push
        ]

    # ------------------------------------------------------------------ lifecycle

    def start(self, base_url: str) -> None:
        if self.config.cap.public_url is None:
            self.issuer.serve_at(base_url)
        self.push.start()
        self.feeds.start()

    def stop(self) -> None:
        self.feeds.stop()
        self.push.stop()
        self.store.close()
        self.reader.close()

    # ------------------------------------------------------------------ worker thread

    def issued(self, identifiers: list[str]) -> None:
        """After the commit that issued them: pumps look now, live views hear of it."""
        if identifiers:
            self.push.wake()
            self.hub.publish({"kind": "cap", "issued": identifiers})

    def elsewhere(self) -> None:
        """Another station sharing the database committed alarm changes (maybe alerts)."""
        self.push.wake()

    def tick(self, archive: Archive, now: float) -> list[str]:
        """About once a minute: renew open alarms' alerts before they expire. Every
        tick: the partners' delivery state, announced when it changed."""
        issued: list[str] = []
        if now - self._last_refresh >= REFRESH_EVERY_S:
            self._last_refresh = now
            try:
                issued = self.issuer.refresh(archive, now)
            except ArchiveDownError:
                raise  # the service's banner and retry
            except Exception as exc:  # a CAP bug must never stop the station's loop
                log.error("cap_refresh_failed", error=repr(exc))
            self.issued(issued)
        self._update_push_view()
        return issued

    def _update_push_view(self) -> None:
        if not self.config.cap.push:
            return
        try:
            view = [_json(asdict(s)) for s in self.push.statuses()]
        except ArchiveDownError:
            return  # the banner says the database is down; keep the last known
        with self._lock:
            changed, self._push_view = view != self._push_view, view
        if changed:
            self.hub.publish({"kind": "cap_status", "cap": self.view()})

    def _feeds_changed(self) -> None:
        self.hub.publish({"kind": "cap_status", "cap": self.view()})

    # ------------------------------------------------------------------ views

    def view(self) -> dict[str, Any]:
        """Each partner's PushStatus and each read-back feed's FeedStatus with its
        banners (``GET /api/cap/status``)."""
        with self._lock:
            push = list(self._push_view)
        feeds: list[dict[str, Any]] = []
        for source, status in zip(self.config.cap.feeds, self.feeds.statuses(), strict=True):
            if status is None:
                feeds.append({"name": source.name, "url": source.url, "ok": None, "banners": []})
            else:
                feeds.append(_json(asdict(status)))
        return {"push": push, "feeds": feeds}

    def health(self) -> dict[str, str]:
        with self._lock:
            return {str(p["partner"]): str(p["state"]) for p in self._push_view}

    def feed(self) -> bytes:
        cap = self.config.cap
        alerts = [from_xml(x.encode()) for x in tables.newest_alerts(self.reader, cap.feed_limit)]
        return atom_feed(
            alerts,
            base_url=self.issuer.profile.base_url,
            title=f"{self.config.station.name}: CAP",
            now=datetime.fromtimestamp(self.clock(), UTC),
            zone=cap.zone,
            limit=cap.feed_limit,
            language=self.config.station.language.value,
        )

    def alert(self, identifier: str) -> bytes | None:
        xml = tables.alert_xml(self.reader, identifier)
        return None if xml is None else xml.encode("utf-8")

    def ports(self) -> CapPorts:
        async def feed() -> bytes:
            return await asyncio.to_thread(self.feed)

        async def alert(identifier: str) -> bytes | None:
            return await asyncio.to_thread(self.alert, identifier)

        return CapPorts(
            feed=feed, alert=alert, status=self.view, health=self.health, atom_type=ATOM_TYPE
        )
