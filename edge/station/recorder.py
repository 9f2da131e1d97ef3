"""Facts in, one committed transaction out: the archive write and the alarm rules together.

The ingest hands over a batch of parsed messages; :meth:`Recorder.record` writes them all
in one transaction (each inside its own savepoint, so one message that cannot be written
is dropped and logged, never allowed to block the rest) and returns what changed. Only
after it returns does the ingest PUBACK the batch: at least once into the database.

Operator actions (:mod:`edge.station.desk`) and the passing of time
(:mod:`edge.station.site_watch`) change alarms through the same
:class:`~edge.station.alarm_writer.AlarmWriter`, so every alarm change is stored before
anyone is shown it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edge import logs
from edge.clock import iso_ms
from edge.config import DEVICE_SENSOR
from edge.station import alarms
from edge.station.alarm_writer import (
    AlarmObserver,
    AlarmWriter,
    Changes,
    NotFoundError,
    OpenAlarms,
    Publish,
    device_key,
)
from edge.station.alarms import AlarmError, EventFacts
from edge.station.archive import Archive, ArchiveDownError, Tx
from edge.station.messages import (
    Dropped,
    EventMsg,
    Fact,
    Heard,
    HeartbeatMsg,
    ReceiptMsg,
    StatusMsg,
    reading,
)
from edge.station.sites import DeviceSeen, SiteBook

log = logs.get("station.recorder")


@dataclass(frozen=True, slots=True)
class Inbound:
    """One parsed message, with when and where the station heard it."""

    fact: Fact
    at: float
    broker: str | None = None
    retained: bool = False


class Recorder:
    def __init__(
        self,
        archive: Archive,
        sites: SiteBook,
        prefix: str,
        origin: str = "",
        observer: AlarmObserver | None = None,
    ) -> None:
        self.archive = archive
        self.sites = sites
        self.prefix = prefix
        self.writer = AlarmWriter(archive, origin, observer)
        """The alarm changes' one way in; :class:`Desk` and :class:`SiteWatch` share it."""

    # ------------------------------------------------------------------ messages

    def record(self, batch: Iterable[Inbound]) -> Changes:
        """Write the batch in one transaction; raises ArchiveDownError (nothing is kept).

        The fast path writes the batch as it is; should any message fail for a reason other
        than the database, the batch is written again with each message in a savepoint, and
        the failing one dropped."""
        items = list(batch)
        saved = {
            key: self.sites.device(*key).ledger.copy()
            for key in {
                (item.fact.site, item.fact.device)
                for item in items
                if isinstance(item.fact, EventMsg | HeartbeatMsg)
            }
        }
        noted = self._note(items)
        try:
            try:
                return self._record(items, noted, guarded=False)
            except ArchiveDownError:
                raise
            except Exception as exc:
                log.warning("batch_written_one_by_one", error=repr(exc))
                return self._record(items, noted, guarded=True)
        except ArchiveDownError:
            # Nothing was kept: the same batch comes again (the service retries it, or the
            # broker delivers it anew), and must be noted as if for the first time. Noted
            # twice, its heartbeat would be taken for a new numbering below its own events.
            for key, ledger in saved.items():
                self.sites.device(*key).ledger = ledger
            raise

    def _note(self, batch: list[Inbound]) -> dict[int, dict[str, Any] | bool]:
        """The batch's seqs and heartbeat counters into each device's accounting, in
        arrival order, once: each event's archive row (with the numbering it belongs to),
        and for each heartbeat whether it showed the numbering started over. Noting every
        event of the batch before its heartbeats would take a heartbeat sent before the
        events behind it for a device that numbers from a lower seq again."""
        noted: dict[int, dict[str, Any] | bool] = {}
        for n, item in enumerate(batch):
            fact = item.fact
            if isinstance(fact, EventMsg):
                noted[n] = self._row(fact, item)
            elif isinstance(fact, HeartbeatMsg):
                noted[n] = self.sites.on_heartbeat(fact.site, fact.device, fact.payload, item.at)
        return noted

    def _record(
        self,
        batch: list[Inbound],
        noted: dict[int, dict[str, Any] | bool],
        *,
        guarded: bool,
    ) -> Changes:
        changes = Changes()
        with self.archive.write() as tx:
            # Every device this batch touches, locked up front in one order: two stations
            # sharing the database can then never deadlock over two devices' alarms.
            keys = {
                (item.fact.site, item.fact.device)
                for item in batch
                if isinstance(item.fact, EventMsg | ReceiptMsg)
            }
            for site, device in sorted(keys):
                tx.lock(device_key(site, device))
            opened = OpenAlarms(tx)
            if not guarded:
                # All the batch's events in one statement, then the rules in arrival order.
                rows = {n: row for n, row in noted.items() if isinstance(row, dict)}
                fresh = tx.insert_events(list(rows.values()))
                for n, item in enumerate(batch):
                    row = rows.get(n)
                    new = row is not None and row["id"] in fresh
                    if new and row is not None:
                        fresh.discard(row["id"])  # a second copy in this batch is a duplicate
                    self._one(tx, item, changes, opened, noted.get(n), new)
            else:
                for n, item in enumerate(batch):
                    tx.cur.execute(f"SAVEPOINT m{n}")
                    try:
                        self._one(tx, item, changes, opened, noted.get(n), None)
                    except self.archive.dialect.down_errors:
                        raise
                    except Exception as exc:  # a message we cannot write: dropped
                        tx.cur.execute(f"ROLLBACK TO SAVEPOINT m{n}")
                        opened.forget()
                        changes.dropped += 1
                        log.error("message_not_recorded", error=repr(exc))
                    tx.cur.execute(f"RELEASE SAVEPOINT m{n}")
            for key in changes.devices:
                self._put_device(tx, self.sites.device(*key))
            self.writer.announce(tx, changes)
        return changes

    def _one(
        self,
        tx: Tx,
        item: Inbound,
        changes: Changes,
        opened: OpenAlarms,
        noted: dict[str, Any] | bool | None,
        new: bool | None,
    ) -> None:
        """One message; ``noted``: what :meth:`_note` made of it (an event's row, whether a
        heartbeat showed a new numbering); ``new``: whether the event's row was new, when
        the batch's events were inserted together beforehand (None: insert it now)."""
        fact, at = item.fact, iso_ms(item.at)
        if isinstance(fact, Dropped):
            changes.dropped += 1
            (log.debug if fact.expected else log.warning)(
                "inbound_dropped", reason=fact.reason, topic=fact.topic
            )
            return
        key = (fact.site, fact.device)
        if not item.retained:
            self.sites.heard(fact.site, fact.device, item.at, item.broker)
            changes.devices.add(key)
        elif item.broker is not None:
            self.sites.device(*key).broker = self.sites.device(*key).broker or item.broker
        if isinstance(fact, EventMsg):
            assert isinstance(noted, dict)
            self._event(tx, fact, at, changes, opened, noted, new)
        elif isinstance(fact, StatusMsg):
            dev = self.sites.device(*key)
            if not fact.retained or (dev.status, dev.status_reason) != (fact.state, fact.reason):
                tx.add_status(fact.site, fact.device, fact.state, at, json.dumps(fact.payload))
            self.sites.on_status(
                fact.site, fact.device, fact.state, item.at, fact.retained, fact.reason
            )
            changes.devices.add(key)
        elif isinstance(fact, HeartbeatMsg):
            if noted is True:
                log.warning("device_numbering_started_over", site=fact.site, device=fact.device)
            changes.devices.add(key)
        elif isinstance(fact, ReceiptMsg):
            self._receipt(tx, fact, at, changes, opened)
        elif isinstance(fact, Heard):
            pass

    def _row(self, msg: EventMsg, item: Inbound) -> dict[str, Any]:
        """The event's archive row; its seq goes to the device's gap accounting."""
        ev = msg.facts
        dev = self.sites.device(msg.site, msg.device)
        if not msg.from_state:
            if ev.seq < dev.ledger.high_seq and _store_started_over(ev, msg.payload):
                dev.ledger.start_over(ev.seq)
                log.warning("device_numbering_started_over", site=ev.site, device=ev.device)
            dev.ledger.note_seq(ev.seq)
        return archive_row(msg, item, dev.ledger.epoch)

    def _event(
        self,
        tx: Tx,
        msg: EventMsg,
        at: str,
        changes: Changes,
        opened: OpenAlarms,
        row: dict[str, Any],
        new: bool | None,
    ) -> None:
        ev = msg.facts
        if new is None:
            new = tx.insert_event(row)
        skewed = row["skew"]
        epoch = int(row["epoch"])  # the numbering it came in, not whatever came after it
        latest = opened.latest(ev, may_open=ev.state in alarms.OPEN_STATES)
        if not new:
            # A copy of an archived event: its state was taken with the first copy. A
            # forged one (a known id on another sensor) must change nothing either.
            changes.duplicates += 1
            if latest is not None and not latest.closed:
                after = alarms.repeated(latest, ev, at=at)
                if after != latest:
                    self.writer.put(tx, after, changes, opened, before=latest, at=at)
            return
        real = not ev.drill and not ev.test and ev.sensor != DEVICE_SENSOR
        if real:
            self.sites.on_sensor(ev.site, ev.device, ev.sensor, ev.state, ev.seq, epoch)
        changes.events.append((ev.site, ev.device, ev.seq, epoch, ev.sensor, ev.state, real))
        if skewed is not None:
            log.warning("device_clock_off", site=ev.site, device=ev.device, skew=skewed, ts=ev.ts)
        newest = None
        if (latest is None or latest.closed) and ev.state in alarms.OPEN_STATES:
            newest = _newest(tx, ev)
        late = msg.sent is not None or msg.from_state
        result = alarms.on_event(
            latest, ev, epoch=epoch, at=at, skewed=skewed, newest=newest, late=late
        )
        if result is not None and result != latest:
            self.writer.put(tx, result, changes, opened, before=latest, at=at, event=msg.payload)
        if ev.drill and ev.sensor == DEVICE_SENSOR and msg.payload.get("reason") == "drill":
            for alarm in list(opened.of(ev.site, ev.device).values()):
                ended = alarms.drill_ended(alarm, at=at)
                if ended != alarm:
                    self.writer.put(tx, ended, changes, opened, before=alarm, at=at)

    def _receipt(
        self, tx: Tx, msg: ReceiptMsg, at: str, changes: Changes, opened: OpenAlarms
    ) -> None:
        r = msg.receipt
        tx.add_receipt(
            msg.site,
            msg.device,
            r.event_id,
            r.by,
            r.accepted,
            r.reason,
            at,
            json.dumps(msg.payload),
        )
        for alarm in list(opened.of(msg.site, msg.device).values()):
            if r.event_id in alarm.waiting or any(p[0] == r.event_id for p in alarm.pending):
                after = alarms.on_receipt(alarm, r, at=at)
                if after != alarm:
                    self.writer.put(tx, after, changes, opened, before=alarm, at=at)

    def _put_device(self, tx: Tx, dev: DeviceSeen) -> None:
        tx.put_device(
            {
                "site": dev.site,
                "device": dev.device,
                "status": dev.status,
                "status_at": None if dev.status_at is None else iso_ms(dev.status_at),
                "last_heard": None if dev.last_heard is None else iso_ms(dev.last_heard),
                "heartbeat": None if dev.heartbeat is None else json.dumps(dev.heartbeat),
                "heartbeat_at": None if dev.heartbeat_at is None else iso_ms(dev.heartbeat_at),
                "interval_s": dev.interval_s,
                "broker": dev.broker,
                "epoch": dev.ledger.epoch,
            }
        )


def _store_started_over(ev: EventFacts, payload: dict[str, Any]) -> bool:
    return (
        ev.sensor == DEVICE_SENSOR
        and payload.get("reason") == "storage"
        and ev.state == "fault"
        and not ev.drill
    )


__all__ = ["AlarmError", "Changes", "Inbound", "NotFoundError", "Publish", "Recorder"]


def _newest(tx: Tx, ev: alarms.EventFacts) -> alarms.Newest | None:
    """The sensor's newest other archived event: an old one opening late must not
    override it (alarm rule 3)."""
    row = tx.newest_event(ev.site, ev.device, ev.sensor, ev.drill, ev.test, ev.id)
    if row is None:
        return None
    event_id, epoch, seq, state, ts, payload = row
    try:
        data = json.loads(payload)
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    message = data.get("message")
    return alarms.Newest(
        epoch,
        seq,
        event_id,
        state,
        ts,
        message if isinstance(message, str) else "",
        **reading(data),
    )


def archive_row(msg: EventMsg, item: Inbound, epoch: int) -> dict[str, Any]:
    """An event as the archive keeps it: the payload as received, its key facts as
    columns, and (first deliveries only) how far the device's clock is off."""
    ev = msg.facts
    first = msg.sent is None and not msg.from_state
    return {
        "id": ev.id,
        "site": ev.site,
        "device": ev.device,
        "seq": ev.seq,
        "epoch": epoch,
        "sensor": ev.sensor,
        "state": ev.state,
        "drill": ev.drill,
        "test": ev.test,
        "ts": ev.ts,
        "received_at": iso_ms(item.at),
        "skew": alarms.skew(ev.ts, item.at) if first else None,
        "payload": msg.raw.decode(),
    }
