"""What operators do to an alarm: acknowledge it, close it; and the acks still owed.

Each action is one transaction under the device's lock, audited in it, and returns what
changed and what to publish to the device (an ack is only ever *pending* here: the
device's receipt confirms it, :func:`edge.station.alarms.on_receipt`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from edge.clock import iso_ms
from edge.station import alarms
from edge.station.alarm_writer import AlarmWriter, Changes, Publish, locked
from edge.station.sites import SiteBook
from edge.topics import Topics


def ack_payload(event_id: str, by: str, ts: str) -> bytes:
    """The ack a device takes (mqtt-api.md ``…/ack``)."""
    return json.dumps({"event_id": event_id, "by": by, "ts": ts}).encode()


class Desk:
    def __init__(self, writer: AlarmWriter, sites: SiteBook, prefix: str) -> None:
        self.writer = writer
        self.sites = sites
        self.prefix = prefix

    def _ack(self, site: str, device: str, payload: bytes) -> Publish:
        topic = Topics(self.prefix, site, device).ack
        return Publish(topic, payload, self.sites.device(site, device).broker)

    def acknowledge(self, alarm_id: str, *, by: str, note: str, now: float) -> Changes:
        """Record the ack (pending, audited) and return the acks to publish to the device."""
        at = iso_ms(now)
        changes = Changes()
        with self.writer.archive.write() as tx:
            alarm = locked(tx, alarm_id)
            after, send = alarms.acknowledge(alarm, by=by, at=at)
            for event_id in send:
                payload = ack_payload(event_id, by, at)
                tx.add_ack(alarm_id, event_id, alarm.site, alarm.device, by, at, payload.decode())
                changes.publish.append(self._ack(alarm.site, alarm.device, payload))
            detail = json.dumps({"note": note, "events": send}, ensure_ascii=False)
            tx.audit(at, by, "ack", alarm_id, detail)
            if after != alarm:
                self.writer.put(tx, after, changes, before=alarm, at=at)
            else:
                changes.alarms[alarm_id] = alarm
            self.writer.announce(tx, changes)
        return changes

    def acks_again(self, pending: Iterable[alarms.Alarm]) -> list[Publish]:
        """The acks of ``pending`` alarms still waiting for the device's word, to publish
        again: one made while no broker was connected was never sent (and one sent may be
        lost with a broker's memory). The device answers a repeat like the first ("already
        acknowledged" at worst), so sending again never does harm."""
        return [
            self._ack(a.site, a.device, ack_payload(event_id, by, a.acked_at or a.last_at))
            for a in pending
            for event_id, by in a.pending
        ]

    def close(self, alarm_id: str, *, by: str, note: str, now: float) -> Changes:
        at = iso_ms(now)
        changes = Changes()
        with self.writer.archive.write() as tx:
            alarm = locked(tx, alarm_id)
            after = alarms.close(alarm, by=by, at=at, note=note)
            tx.audit(at, by, "close", alarm_id, json.dumps({"note": note}, ensure_ascii=False))
            self.writer.put(tx, after, changes, before=alarm, at=at)
            self.writer.announce(tx, changes)
        return changes
