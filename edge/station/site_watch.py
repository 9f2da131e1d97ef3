"""What the passing of time does to the archive: sites that fall silent (and speak again)
become and clear alarms, and the gaps in a device's numbering are asked for on
``resend`` and, given up on, recorded as lost once."""

from __future__ import annotations

import json

from edge import logs
from edge.clock import iso_ms
from edge.gaps import Span
from edge.station import alarms
from edge.station.alarm_writer import AlarmWriter, Changes, Publish, device_key
from edge.station.sites import DeviceSeen, SiteBook
from edge.topics import Topics

log = logs.get("station.watch")


class SiteWatch:
    def __init__(self, writer: AlarmWriter, sites: SiteBook, prefix: str) -> None:
        self.writer = writer
        self.sites = sites
        self.prefix = prefix

    def watch(self, now: float, listening_since: float | None) -> Changes:
        """Silent or offline sites become alarms; a site heard again clears its alarm."""
        changes = Changes()
        transitions = self.sites.watch(now, listening_since)
        if not transitions:
            return changes
        at = iso_ms(now)
        with self.writer.archive.write() as tx:
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
                    self.writer.put(tx, after, changes, before=latest, at=at)
                elif latest is not None and is_open:
                    log.info("site_heard_again", site=t.site, device=t.device)
                    spoke = alarms.site_spoke(latest, at=at, state=self.sites.words["heard_again"])
                    self.writer.put(tx, spoke, changes, before=latest, at=at)
                changes.devices.add((t.site, t.device))
            self.writer.announce(tx, changes)
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
            with self.writer.archive.write() as tx:
                for dev, spans in lost:
                    for lo, hi in spans:
                        tx.add_lost(dev.site, dev.device, lo, hi, at)
                    log.warning("events_lost", site=dev.site, device=dev.device, spans=spans[:5])
                    changes.devices.add(dev.key)
        return changes
