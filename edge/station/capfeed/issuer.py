"""Alarm changes become CAP alerts inside the transaction that makes them: composed
(``edge.cap.compose``), stored in ``cap_alerts`` and queued for every partner, all or
nothing with the alarm change itself.

Why in the transaction: with several stations on one PostgreSQL, the one that commits an
alarm change is the one that composes its alert, under the device's lock, so each alert
is composed once; an identifier already stored (``{sender}.{alarm_id}.{n}``) is left
alone. A composing failure is logged and never blocks the alarm change.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from edge import logs
from edge.cap.compose import CapProfile, Moment, compose, refresh_due
from edge.cap.decode import from_xml
from edge.cap.encode import to_xml
from edge.cap.model import CapAlert, Info, parse_cap_time
from edge.cap.rules import check_alert
from edge.station.alarm_writer import device_key
from edge.station.alarms import Alarm
from edge.station.archive import Archive, Tx
from edge.station.archive import cap as tables
from edge.station.capfeed import facts

log = logs.get("station.cap")

REFRESH_MARGIN = timedelta(minutes=30)
"""An open alarm's last alert is renewed this long before it expires."""


def _history(tx: Tx, alarm_id: str) -> list[CapAlert]:
    """The alarm's alerts as ``compose`` takes them, parsing only the current chain: the
    earlier chains count (an identifier's position) but say nothing more to it."""
    count, chain = tables.chain_of(tx, alarm_id)
    alerts = [from_xml(x.encode()) for x in chain]
    if count == len(alerts):
        return alerts
    info = Info("", (), "", "", "", "", parameters=(("alarm_id", alarm_id),))
    earlier = CapAlert("", "", "", "Actual", "Cancel", "", infos=(info,))
    return [earlier] * (count - len(alerts)) + alerts


class CapIssuer:
    def __init__(self, profile: CapProfile, partners: list[str]) -> None:
        self.profile = profile
        self.partners = partners

    def serve_at(self, base_url: str) -> None:
        """The station's own URL, once it listens (when ``[cap] public_url`` is unset)."""
        self.profile = replace(self.profile, base_url=base_url.rstrip("/"))

    def changed(
        self,
        tx: Tx,
        before: Alarm | None,
        after: Alarm,
        *,
        event: dict[str, Any] | None,
        at: str,
    ) -> list[str]:
        """The alarm went from ``before`` to ``after`` at ``at`` (``event``: the payload
        just archived): the identifiers of the alerts issued for it."""
        event_id = event.get("id") if event is not None else None
        due = facts.moments(before, after, event_id if isinstance(event_id, str) else None)
        if not due:
            return []
        if event is None and after.last_event_id:
            stored = tables.event_payload(tx, after.last_event_id)
            event = json.loads(stored) if stored else None
        previous = _history(tx, after.alarm_id)
        moment_at = facts.when(at, facts.moment_time(0))
        issued = []
        for moment in due:
            alert = self._compose(after, event, moment, moment_at, previous)
            if alert is not None:
                if self._store(tx, after, alert, len(previous) + 1, moment_at):
                    issued.append(alert.identifier)
                previous.append(alert)
        return issued

    def refresh(self, archive: Archive, now: float) -> list[str]:
        """Open alarms whose last alert is about to expire get an Update (``REFRESH``)."""
        at = facts.moment_time(now)
        issued: list[str] = []
        for alarm_id in tables.refresh_candidates(archive, at + REFRESH_MARGIN):
            with archive.write() as tx:
                alarm = tx.alarm(alarm_id)
                if alarm is None or alarm.closed:
                    continue
                tx.lock(device_key(alarm.site, alarm.device))
                alarm = tx.alarm(alarm_id)
                if alarm is None or alarm.closed:
                    continue
                previous = _history(tx, alarm_id)
                if not refresh_due(previous, at, REFRESH_MARGIN):
                    continue
                stored = tables.event_payload(tx, alarm.last_event_id or "")
                event = json.loads(stored) if stored else None
                alert = self._compose(alarm, event, Moment.REFRESH, at, previous)
                if alert is not None and self._store(tx, alarm, alert, len(previous) + 1, at):
                    issued.append(alert.identifier)
        return issued

    def _compose(
        self,
        alarm: Alarm,
        event: dict[str, Any] | None,
        moment: Moment,
        at: datetime,
        previous: list[CapAlert],
    ) -> CapAlert | None:
        try:
            return compose(
                self.profile,
                facts.alarm_facts(alarm),
                facts.event_facts(event, alarm),
                moment,
                at,
                previous,
            )
        except Exception as exc:  # never let CAP stop an alarm from being recorded
            log.error(
                "cap_not_composed", alarm_id=alarm.alarm_id, moment=str(moment), error=repr(exc)
            )
            return None

    def _store(self, tx: Tx, alarm: Alarm, alert: CapAlert, n: int, at: datetime) -> bool:
        xml = to_xml(alert)
        problems = check_alert(xml)
        if problems:  # served anyway: a partner is better told imperfectly than not at all
            log.error(
                "cap_rules_broken",
                identifier=alert.identifier,
                problems=[str(p) for p in problems[:3]],
            )
        expires = alert.infos[0].expires if alert.infos else None
        text = xml.decode("utf-8")
        new = tables.add_alert(
            tx,
            identifier=alert.identifier,
            alarm_id=alarm.alarm_id,
            n=n,
            sent=alert.sent,
            sent_at=alert.sent_at,
            msg_type=alert.msg_type,
            expires_at=parse_cap_time(expires) if expires else None,
            xml=text,
        )
        if not new:
            return False
        for partner in self.partners:
            tables.enqueue(tx, partner, alert.identifier, text, at)
        log.info(
            "cap_issued",
            identifier=alert.identifier,
            alarm_id=alarm.alarm_id,
            msg_type=alert.msg_type,
            status=alert.status,
        )
        return True
