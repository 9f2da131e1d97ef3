"""The shift handover and drill reports, read from the archive: the pages and the
``station report`` command build them the same way (the rules are in ``reports``)."""

from __future__ import annotations

from typing import Any

from edge.clock import iso_ms
from edge.station.alarms import SITE_SENSOR
from edge.station.config import StationConfig
from edge.station.web import reports
from edge.station.web.queries import BoardQueries

SHIFT_HOURS = 8.0


def drills(q: BoardQueries, now: float) -> list[dict[str, Any]]:
    """Every drill, newest first, with how many alarms it raised."""
    out = reports.drills_from(q.drill_markers())
    for d in out:
        d["alarms"] = len(
            q.drill_alarms(
                d["site"], d["device"], d["window_from"], d["window_until"] or iso_ms(now)
            )
        )
    return list(reversed(out))


def drill(q: BoardQueries, drill_id: str, now: float) -> dict[str, Any] | None:
    found = next((d for d in reports.drills_from(q.drill_markers()) if d["id"] == drill_id), None)
    if found is None:
        return None
    until = found["window_until"] or iso_ms(now)
    timings = []
    for alarm in q.drill_alarms(found["site"], found["device"], found["window_from"], until):
        sent = [a["event_id"] for a in q.acks_of(alarm.alarm_id)]
        receipts = q.receipts_of(alarm.site, alarm.device, sent)
        episode = q.episode(alarm)
        first_ts = str(episode[0]["ts"]) if episode else None
        timings.append(reports.alarm_timing(alarm, q.audit_of(alarm.alarm_id), receipts, first_ts))
    return reports.drill_report(found, timings)


def sites_now(q: BoardQueries) -> list[dict[str, Any]]:
    """Each device's status as the archive holds it; silent while its silence alarm is."""
    silent = {
        (a.site, a.device)
        for a in q.archive.alarms(open_only=True, limit=100_000)
        if a.sensor == SITE_SENSOR and a.active
    }
    rows = []
    for d in q.archive.devices():
        key = (d["site"], d["device"])
        status = "offline" if d["status"] == "offline" else "silent" if key in silent else "online"
        rows.append(
            {
                "site": d["site"],
                "device": d["device"],
                "status": status,
                "last_heard": d["last_heard"],
            }
        )
    return rows


def shift(
    q: BoardQueries,
    config: StationConfig,
    now: float,
    since: float | None = None,
    until: float | None = None,
) -> dict[str, Any]:
    """The handover for [since, until) (default: the last :data:`SHIFT_HOURS` to now)."""
    end = until if until is not None else now
    start = since if since is not None else end - SHIFT_HOURS * 3600
    lifetime = config.http.session_hours * 3600
    s, u = iso_ms(start), iso_ms(end)
    shift_drills = reports.drills_from(q.drill_markers())
    return reports.shift_report(
        station=config.station.name,
        since=s,
        until=u,
        alarms=q.alarms_in(s, u),
        sites=sites_now(q),
        audit=q.audit_between(iso_ms(start - lifetime), u),
        drills=shift_drills,
        lifetime_s=lifetime,
    )
