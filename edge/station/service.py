"""``station run``: wires the parts together and runs the one worker loop. Orchestration
only: the rules are in ``alarms``/``sites``, the writes in ``recorder``, the wire in
``ingest`` and ``http``.

One worker thread (this one) owns the archive writer, the site book and the board:
paho's threads and the HTTP server only put items on its queue (messages, link changes,
operator commands with a future to answer) and read the board under its lock. Each turn
takes a batch of messages, commits it in one transaction, applies the changes to the
board, PUBACKs the batch, publishes what the changes ask for (acks, resends) and tells
the change hub. A database that fails holds the batch (unacknowledged) and is retried
with back-off under the station banner; nothing is lost, since the broker keeps it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from edge import logs
from edge.sdnotify import Notifier
from edge.station.accounts import Account, Accounts
from edge.station.alarm_writer import Changes, Publish
from edge.station.archive import Archive, ArchiveDownError
from edge.station.archive.listen import ChangeListener
from edge.station.board import BoardView
from edge.station.capfeed.wire import CapWire
from edge.station.changes import ChangeHub
from edge.station.config import StationConfig
from edge.station.desk import Desk
from edge.station.health import StationHealth
from edge.station.http import StationPorts
from edge.station.http.server import HttpServer
from edge.station.ingest import BrokerLink, Delivery
from edge.station.messages import parse
from edge.station.recorder import Inbound, Recorder
from edge.station.site_watch import SiteWatch
from edge.station.sites import SiteBook
from edge.station.web import board_app, closing, session_secret

log = logs.get("station")

BATCH = 500
TICK_S = 1.0
RETRY_MIN_S = 0.5
RETRY_MAX_S = 10.0
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class _LinkState:
    url: str
    up: bool


@dataclass(frozen=True, slots=True)
class _Remote:
    """What another station sharing the database committed (its NOTIFY)."""

    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Command:
    fn: Callable[[], Any]
    future: Future[Any]


_Item = Delivery | _LinkState | _Command | _Remote | None


class StationService:
    def __init__(self, config: StationConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.now = clock
        lang = config.station.language.value
        self.health = StationHealth(list(config.mqtt.broker_urls), lang)
        self.sites = SiteBook(lang)
        self.board = BoardView(self.sites, self.health, lang)
        self.hub = ChangeHub()
        self.archive = Archive(config.database.url)
        self.reader = self.archive.reader()
        self.accounts = Accounts(self.reader)
        self.origin = uuid.uuid4().hex[:12]
        self.cap = CapWire(config, self.hub, clock=clock)
        self.recorder = Recorder(
            self.archive,
            self.sites,
            config.mqtt.topic_prefix,
            self.origin,
            observer=self.cap.issuer,
        )
        prefix = config.mqtt.topic_prefix
        self.desk = Desk(self.recorder.writer, self.sites, prefix)
        self.site_watch = SiteWatch(self.recorder.writer, self.sites, prefix)
        self.listener = (
            ChangeListener(config.database.url, lambda d: self.inbox.put(_Remote(d)))
            if self.archive.backend == "postgresql"
            else None
        )
        self.inbox: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self.links = {
            url: BrokerLink(
                url,
                config.mqtt,
                deliver=self.inbox.put,
                state=lambda u, up: self.inbox.put(_LinkState(u, up)),
                clock=clock,
            )
            for url in config.mqtt.broker_urls
        }
        self.http: HttpServer | None = None
        self.url: str | None = None
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._notifier = Notifier()
        self._last_tick = 0.0
        self._last_prune = 0.0
        self._sites_dirty = False

    # ------------------------------------------------------------------ control

    def stop(self) -> None:
        self._stop.set()
        self.inbox.put(None)

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run ``fn`` on the worker thread, between batches; its result as a future."""
        future: Future[Any] = Future()
        self.inbox.put(_Command(fn, future))
        return future

    def ports(self) -> StationPorts:
        async def acknowledge(alarm_id: str, account: Account, note: str) -> dict[str, Any]:
            return await asyncio.wrap_future(
                self.submit(lambda: self._operator("ack", alarm_id, account.name, note))
            )

        async def close(alarm_id: str, account: Account, note: str) -> dict[str, Any]:
            return await asyncio.wrap_future(
                self.submit(lambda: self._operator("close", alarm_id, account.name, note))
            )

        async def events(**query: Any) -> list[dict[str, Any]]:
            return await asyncio.to_thread(lambda: self.reader.events(**query))

        async def audit(actor: str, action: str, target: str, detail: str) -> None:
            await asyncio.wrap_future(
                self.submit(lambda: self._audit(actor, action, target, detail))
            )

        return StationPorts(
            config=self.config,
            board=self.board,
            health=self.health,
            hub=self.hub,
            accounts=self.accounts,
            acknowledge=acknowledge,
            close=close,
            events=events,
            now=self.now,
            audit=audit,
            reader=self.reader,
            cap=self.cap.ports(),
        )

    # ------------------------------------------------------------------ the loop

    def run(self) -> int:
        if not self._open_archive():
            return 0
        self.board.load(self.archive)
        if self.listener is not None:
            self.listener.start()
        http = self.config.http
        self.app = app = board_app(self.ports(), session_secret(http, self.archive))
        self.http = HttpServer(
            app, http.host, http.port, cert_file=http.cert_file, key_file=http.key_file
        )
        self.url = self.http.start()
        self.cap.start(self.url)
        for link in self.links.values():
            link.start()
        try:
            while not self._stop.is_set():
                self._turn(block=True)
        finally:
            self._notifier.stopping()
            self._turn(block=False)  # what already arrived: commit and acknowledge it
            for link in self.links.values():
                link.stop()
            self.hub.publish({"kind": "closing"})  # live streams end: the server can stop
            closing(app)
            self.http.stop()
            self.cap.stop()
            if self.listener is not None:
                self.listener.stop()
            self.archive.close()
            self.reader.close()
            log.info("station_stopped")
        return 0

    def _open_archive(self) -> bool:
        wait = RETRY_MIN_S
        while not self._stop.is_set():
            try:
                self.archive.open()
                self.health.database(True, self.now())
                return True
            except ArchiveDownError as exc:
                self.health.database(False, self.now())
                log.error("database_down", error=str(exc), retry_in_s=wait)
                self._notifier.status(f"waiting for the database: {exc}"[:200])
                self._stop.wait(wait)
                wait = min(wait * 2, RETRY_MAX_S)
        return False

    def _turn(self, *, block: bool) -> None:  # noqa: C901 (the loop: one branch per message kind)
        deliveries: list[Delivery] = []
        commands: list[_Command] = []
        remote: list[dict[str, Any]] = []
        try:
            item = self.inbox.get(timeout=TICK_S) if block else self.inbox.get_nowait()
            while True:
                if isinstance(item, Delivery):
                    deliveries.append(item)
                elif isinstance(item, _LinkState):
                    self.health.broker(item.url, item.up, self.now())
                    self._announce_health()
                    if item.up:
                        self._acks_again()
                elif isinstance(item, _Command):
                    commands.append(item)
                elif isinstance(item, _Remote):
                    remote.append(item.data)
                if len(deliveries) >= BATCH:
                    break
                item = self.inbox.get_nowait()
        except queue.Empty:
            pass
        if deliveries:
            self._commit(deliveries)
        if remote:
            self._remote(remote)
        for command in commands:
            try:
                command.future.set_result(command.fn())
            except Exception as exc:  # the caller's answer (404, 409, 503)
                command.future.set_exception(exc)
        now = self.now()
        if now - self._last_tick >= TICK_S:
            self._last_tick = now
            self._tick(now)

    def _commit(self, deliveries: list[Delivery]) -> None:
        prefix = self.config.mqtt.topic_prefix
        batch = [
            Inbound(
                parse(prefix, d.topic, d.payload, retained=d.retained, user=d.user),
                d.at,
                d.url,
                d.retained,
            )
            for d in deliveries
        ]
        wait = RETRY_MIN_S
        while True:
            try:
                changes = self.recorder.record(batch)
                break
            except ArchiveDownError as exc:
                if self.health.database_ok:
                    log.error("database_down", error=str(exc))
                self.health.database(False, self.now())
                self._announce_health()
                self._notifier.watchdog()  # alive, waiting: systemd must not restart it
                if self._stop.wait(wait):
                    return  # unacknowledged: the broker delivers it again next time
                wait = min(wait * 2, RETRY_MAX_S)
        if not self.health.database_ok:
            log.info("database_back")
            self.health.database(True, self.now())
            self._announce_health()
        for d in deliveries:
            self.links[d.url].ack(d)
        self._changed(changes)

    def _changed(self, changes: Changes) -> None:
        self.board.apply(changes.alarms.values())
        for p in changes.publish:
            self._send(p)
        now = self.now()
        for alarm in changes.alarms.values():
            self.hub.publish({"kind": "alarm", "alarm": self.board.alarm_view(alarm, now)})
        if changes.devices:
            self._sites_dirty = True
            for view in self.board.restated(changes.devices, now, skip=changes.alarms):
                self.hub.publish({"kind": "alarm", "alarm": view})
        self.cap.issued(changes.cap)

    def _remote(self, notes: list[dict[str, Any]]) -> None:
        """Apply what other stations committed: their alarms as stored, their seqs."""
        ids: set[str] = set()
        resync = False
        for data in notes:
            if data.get("from") == self.origin:
                continue
            resync = resync or bool(data.get("resync"))
            ids.update(str(i) for i in data.get("alarms", ()))
            for site, device, seq, epoch, sensor, state, real in data.get("events", ()):
                dev = self.sites.device(site, device)
                if epoch == dev.ledger.epoch:
                    dev.ledger.note_seq(int(seq))
                if real:
                    self.sites.on_sensor(site, device, sensor, state, int(seq))
            if data.get("devices"):
                self._sites_dirty = True
        try:
            found = (
                self.archive.alarms(open_only=True, limit=1_000_000)
                if resync
                else self.archive.alarms_by_id(sorted(ids))
            )
        except ArchiveDownError as exc:
            log.error("database_down", error=str(exc))
            return
        changes = Changes()
        changes.alarms = {a.alarm_id: a for a in found}
        self._changed(changes)
        self.cap.elsewhere()

    def _tick(self, now: float) -> None:
        if self.health.database_ok:
            try:
                self._changed(self.site_watch.watch(now, self.health.listening_since))
                self._changed(self.site_watch.gaps(now))
                self.cap.tick(self.archive, now)
                days = self.config.database.retain_days
                if days > 0 and now - self._last_prune >= PRUNE_EVERY_S:
                    self._last_prune = now
                    self._prune(now - days * 86400)
            except ArchiveDownError as exc:
                log.error("database_down", error=str(exc))
                self.health.database(False, now)
                self._announce_health()
        if self._sites_dirty:
            self._sites_dirty = False
            self.hub.publish({"kind": "sites"})
        if not self.ready.is_set() and self.health.hearing:
            self.ready.set()
            self._notifier.ready()
            log.info("station_ready", http=self.url, database=self.archive.backend)
        self._notifier.watchdog()

    def _prune(self, before: float) -> None:
        from edge.clock import iso_ms

        with self.archive.write() as tx:
            removed = tx.prune(iso_ms(before))
        log.info("archive_pruned", events=removed)

    def _announce_health(self) -> None:
        self.hub.publish({"kind": "health", "health": self.health.view()})

    def _acks_again(self) -> None:
        """A broker is (back) up: the acks still waiting for their device go out again."""
        again = self.desk.acks_again(self.board.awaiting_device())
        if again:
            log.info("acks_sent_again", acks=len(again))
        for p in again:
            self._send(p)

    def _send(self, p: Publish) -> None:
        link = self.links.get(p.broker) if p.broker else None
        candidates = [link] if link is not None and link.subscribed.is_set() else []
        candidates = candidates or [lk for lk in self.links.values() if lk.subscribed.is_set()]
        if not candidates or not candidates[0].publish(p.topic, p.payload):
            log.warning("not_published", topic=p.topic, reason="no broker connected")

    def _audit(self, actor: str, action: str, target: str, detail: str) -> None:
        from edge.clock import iso_ms

        with self.archive.write() as tx:
            tx.audit(iso_ms(self.now()), actor, action, target, detail)

    def _operator(self, action: str, alarm_id: str, by: str, note: str) -> dict[str, Any]:
        now = self.now()
        if action == "ack":
            changes = self.desk.acknowledge(alarm_id, by=by, note=note, now=now)
        else:
            changes = self.desk.close(alarm_id, by=by, note=note, now=now)
        log.info(f"alarm_{action}", alarm_id=alarm_id, by=by)
        self._changed(changes)
        return self.board.alarm_view(changes.alarms[alarm_id], now)
