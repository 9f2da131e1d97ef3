"""Storing an alarm change, and telling whoever must hear of it in the same transaction.

Messages (:mod:`edge.station.recorder`), operators (:mod:`edge.station.desk`) and the
clock (:mod:`edge.station.site_watch`) all change alarms; each change is written here,
the CAP issuer hears of it inside the transaction, and the other stations sharing a
PostgreSQL database are told what changed once it commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from edge.station.alarms import Alarm, EventFacts
from edge.station.archive import Archive, Tx


@dataclass(frozen=True, slots=True)
class Publish:
    """A message for a device, on the broker it was last heard on (None: any)."""

    topic: str
    payload: bytes
    broker: str | None


@dataclass(slots=True)
class Changes:
    """What one transaction changed: for the board, the devices and the other stations."""

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


class AlarmWriter:
    """The one way an alarm change is stored: put in the archive, told to the observer."""

    def __init__(
        self, archive: Archive, origin: str = "", observer: AlarmObserver | None = None
    ) -> None:
        self.archive = archive
        self.observer = observer
        self.origin = origin
        """This station's id in what it tells the others sharing the database."""

    def put(
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

    def announce(self, tx: Tx, changes: Changes) -> None:
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


def device_key(site: str, device: str) -> str:
    """The lock every change of one device's alarms is made under."""
    return f"{site}/{device}"


def locked(tx: Tx, alarm_id: str) -> Alarm:
    """The alarm, read again under its device's lock (another station may have changed it)."""
    alarm = tx.alarm(alarm_id)
    if alarm is None:
        raise NotFoundError(alarm_id)
    tx.lock(device_key(alarm.site, alarm.device))
    again = tx.alarm(alarm_id)
    assert again is not None
    return again
