"""Facts in, one committed transaction out: the archive write and the alarm rules together.

The ingest hands over a batch of parsed messages; :meth:`Recorder.record` writes them all
in one transaction (each inside its own savepoint, so one message that cannot be written
is dropped and logged, never allowed to block the rest) and returns what changed. Only
after it returns does the ingest PUBACK the batch: at least once into the database.

Operator actions (acknowledge, close) and the silence watch go through here too, so every
alarm change is stored before anyone is shown it, and every operator action is audited in
the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from edge import logs
from edge.clock import iso_ms
from edge.config import DEVICE_SENSOR
from edge.gaps import Span
from edge.station import alarms
from edge.station.alarms import Alarm, AlarmError, EventFacts
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
from edge.topics import Topics

log = logs.get("station.recorder")


@dataclass(frozen=True, slots=True)
class Inbound:
    """One parsed message, with when and where the station heard it."""

    fact: Fact
    at: float
    broker: str | None = None
    retained: bool = False


@dataclass(frozen=True, slots=True)
class Publish:
    """A message for a device, on the broker it was last heard on (None: any)."""

    topic: str
    payload: bytes
    broker: str | None


@dataclass(slots=True)
class Changes:
    alarms: dict[str, Alarm] = field(default_factory=dict)
    devices: set[tuple[str, str]] = field(default_factory=set)
    events: list[tuple[str, str, int, int, str, str, bool]] = field(default_factory=list)
    """(site, device, seq, epoch, sensor, state, real) of every event archived anew."""
    publish: list[Publish] = field(default_factory=list)
    cap: list[str] = field(default_factory=list)
    """Identifiers of the CAP alerts this transaction issued (and queued for partners)."""
    dropped: int = 0
    duplicates: int = 0


class NotFoundError(LookupError):
    pass


class AlarmObserver(Protocol):
    """Told of every alarm change inside its transaction (the CAP issuer); returns the
    identifiers of what it wrote there."""

    def changed(
        self,
        tx: Tx,
        before: Alarm | None,
        after: Alarm,
        *,
        event: dict[str, Any] | None,
        at: str,
    ) -> list[str]: ...


NOTIFY_CHUNK = 120
"""Events per NOTIFY payload (~50 bytes each): PostgreSQL takes at most 8000 bytes."""


class OpenAlarms:
    """The open alarms of each device a transaction touches, read once under its lock,
    kept current as the transaction changes them (one query per device per batch, not
    one per event)."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self._by_device: dict[tuple[str, str], dict[tuple[str, str], Alarm]] = {}

    def of(self, site: str, device: str) -> dict[tuple[str, str], Alarm]:
        found = self._by_device.get((site, device))
        if found is None:
            rows = self.tx.open_alarms_of(site, device)
            found = self._by_device[(site, device)] = {(a.sensor, a.category): a for a in rows}
        return found

    def latest(self, ev: EventFacts, *, may_open: bool) -> Alarm | None:
        """The episode's open alarm; else, for an event that may open one, its last closed
        one (rule 4 needs it); else None (nothing to join, nothing to open)."""
        alarm = self.of(ev.site, ev.device).get((ev.sensor, ev.category))
        if alarm is not None or not may_open:
            return alarm
        return self.tx.latest_alarm(ev.site, ev.device, ev.sensor, ev.category)

    def put(self, alarm: Alarm) -> None:
        found = self.of(alarm.site, alarm.device)
        if alarm.closed:
            found.pop((alarm.sensor, alarm.category), None)
        else:
            found[(alarm.sensor, alarm.category)] = alarm

    def forget(self) -> None:
        """A savepoint rolled back: read again what it may have changed."""
        self._by_device.clear()


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
        self.observer = observer
        self.sites = sites
        self.prefix = prefix
        self.origin = origin
        """This station's id in what it tells the others sharing the database."""

    def _announce(self, tx: Tx, changes: Changes) -> None:
        """Tell the other stations on this database what this transaction changed."""
        if self.archive.backend != "postgresql":
            return  # one station per SQLite file: nobody to tell
        alarm_ids = list(changes.alarms)
        devices = [list(k) for k in changes.devices]
        events = changes.events
        if not (alarm_ids or devices or events):
            return
        first = True
        while first or events:
            chunk, events = events[:NOTIFY_CHUNK], events[NOTIFY_CHUNK:]
            body: dict[str, Any] = {"from": self.origin, "events": chunk}
            if first:
                body.update(alarms=alarm_ids[:NOTIFY_CHUNK], devices=devices[:NOTIFY_CHUNK])
                body["resync"] = len(alarm_ids) > NOTIFY_CHUNK or len(devices) > NOTIFY_CHUNK
            tx.notify(json.dumps(body, separators=(",", ":")))
            first = False

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
            self._announce(tx, changes)
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
                    self._put(tx, after, changes, opened, before=latest, at=at)
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
            self._put(tx, result, changes, opened, before=latest, at=at, event=msg.payload)
        if ev.drill and ev.sensor == DEVICE_SENSOR and msg.payload.get("reason") == "drill":
            for alarm in list(opened.of(ev.site, ev.device).values()):
                ended = alarms.drill_ended(alarm, at=at)
                if ended != alarm:
                    self._put(tx, ended, changes, opened, before=alarm, at=at)

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
                    self._put(tx, after, changes, opened, before=alarm, at=at)

    def _put(
        self,
        tx: Tx,
        alarm: Alarm,
        changes: Changes,
        opened: OpenAlarms | None = None,
        *,
        before: Alarm | None,
        at: str,
        event: dict[str, Any] | None = None,
    ) -> None:
        """Store the alarm as ``before`` became (None: new); the observer hears of it in
        this same transaction."""
        tx.put_alarm(alarm)
        changes.alarms[alarm.alarm_id] = alarm
        if opened is not None:
            opened.put(alarm)
        if self.observer is not None:
            same = before if before is not None and before.alarm_id == alarm.alarm_id else None
            changes.cap += self.observer.changed(tx, same, alarm, event=event, at=at)

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

    # ------------------------------------------------------------------ operators

    def acknowledge(self, alarm_id: str, *, by: str, note: str, now: float) -> Changes:
        """Record the ack (pending, audited) and return the acks to publish to the device."""
        at = iso_ms(now)
        changes = Changes()
        with self.archive.write() as tx:
            alarm = _locked(tx, alarm_id)
            after, send = alarms.acknowledge(alarm, by=by, at=at)
            dev = self.sites.device(alarm.site, alarm.device)
            topic = Topics(self.prefix, alarm.site, alarm.device).ack
            for event_id in send:
                payload = json.dumps({"event_id": event_id, "by": by, "ts": at}).encode()
                tx.add_ack(alarm_id, event_id, alarm.site, alarm.device, by, at, payload.decode())
                changes.publish.append(Publish(topic, payload, dev.broker))
            detail = json.dumps({"note": note, "events": send}, ensure_ascii=False)
            tx.audit(at, by, "ack", alarm_id, detail)
            if after != alarm:
                self._put(tx, after, changes, before=alarm, at=at)
            else:
                changes.alarms[alarm_id] = alarm
            self._announce(tx, changes)
        return changes

    def acks_again(self, alarms: Iterable[Alarm]) -> list[Publish]:
        """The acks of ``alarms`` still waiting for the device's word, to publish again: one
        made while no broker was connected was never sent (and one sent may be lost with a
        broker's memory). The device answers a repeat like the first ("already
        acknowledged" at worst), so sending again never does harm."""
        out = []
        for alarm in alarms:
            topic = Topics(self.prefix, alarm.site, alarm.device).ack
            broker = self.sites.device(alarm.site, alarm.device).broker
            for event_id, by in alarm.pending:
                at = alarm.acked_at or alarm.last_at
                payload = json.dumps({"event_id": event_id, "by": by, "ts": at}).encode()
                out.append(Publish(topic, payload, broker))
        return out

    def close(self, alarm_id: str, *, by: str, note: str, now: float) -> Changes:
        at = iso_ms(now)
        changes = Changes()
        with self.archive.write() as tx:
            alarm = _locked(tx, alarm_id)
            after = alarms.close(alarm, by=by, at=at, note=note)
            tx.audit(at, by, "close", alarm_id, json.dumps({"note": note}, ensure_ascii=False))
            self._put(tx, after, changes, before=alarm, at=at)
            self._announce(tx, changes)
        return changes

    # ------------------------------------------------------------------ time

    def watch(self, now: float, listening_since: float | None) -> Changes:
        """Silent or offline sites become alarms; a site heard again clears its alarm."""
        changes = Changes()
        transitions = self.sites.watch(now, listening_since)
        if not transitions:
            return changes
        at = iso_ms(now)
        with self.archive.write() as tx:
            for t in sorted(transitions, key=lambda t: (t.site, t.device)):
                tx.lock(device_key(t.site, t.device))
                latest = tx.latest_alarm(t.site, t.device, alarms.SITE_SENSOR, "real")
                is_open = latest is not None and not latest.closed
                if t.why is not None:
                    log.warning("site_silent", site=t.site, device=t.device, why=t.why)
                    if latest is not None and is_open:
                        after = alarms.site_silent_again(latest, at=at, why=t.why)
                    else:
                        after = alarms.silent_site(t.site, t.device, at=at, why=t.why)
                    self._put(tx, after, changes, before=latest, at=at)
                elif latest is not None and is_open:
                    log.info("site_heard_again", site=t.site, device=t.device)
                    spoke = alarms.site_spoke(latest, at=at, state=self.sites.words["heard_again"])
                    self._put(tx, spoke, changes, before=latest, at=at)
                changes.devices.add((t.site, t.device))
            self._announce(tx, changes)
        return changes

    def gaps(self, now: float) -> Changes:
        """Resend requests for gaps now due, and each gap given up on recorded once."""
        changes = Changes()
        lost: list[tuple[DeviceSeen, list[Span]]] = []
        for dev, verdict in self.sites.gaps(now):
            topic = Topics(self.prefix, dev.site, dev.device).resend
            for lo, hi in verdict.ask:
                payload = json.dumps({"from_seq": lo, "to_seq": hi}).encode()
                changes.publish.append(Publish(topic, payload, dev.broker))
            if verdict.ask:
                log.info("resend_asked", site=dev.site, device=dev.device, spans=verdict.ask[:5])
            if verdict.lost:
                lost.append((dev, verdict.lost))
        if lost:
            at = iso_ms(now)
            with self.archive.write() as tx:
                for dev, spans in lost:
                    for lo, hi in spans:
                        tx.add_lost(dev.site, dev.device, lo, hi, at)
                    log.warning("events_lost", site=dev.site, device=dev.device, spans=spans[:5])
                    changes.devices.add(dev.key)
        return changes


def device_key(site: str, device: str) -> str:
    """The lock every change of one device's alarms is made under."""
    return f"{site}/{device}"


def _locked(tx: Tx, alarm_id: str) -> Alarm:
    """The alarm, read again under its device's lock (another station may have changed it)."""
    alarm = tx.alarm(alarm_id)
    if alarm is None:
        raise NotFoundError(alarm_id)
    tx.lock(device_key(alarm.site, alarm.device))
    again = tx.alarm(alarm_id)
    assert again is not None
    return again


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
