"""The shift handover and the drill report: pure functions of what the archive holds.

**Drills.** The device marks a drill's start and end with ``_device`` events flagged
``drill`` (reason ``drill``; "Latihan: dimulai: …" / "selesai"). A drill's id is its
start marker's event id; its alarms are that device's drill alarms opened from the start
until the next marker (or now, while it runs).

**Drill report**, per alarm, measured on the station's one clock from the alarm's first
event as the station received it (the device's own ``ts`` may be skewed; the delay from
it to the station is shown apart as ``delivery_s``):

- ``first_view``: the first time a logged-in operator saw it: the alarm **shown on a
  logged-in board** (the page reports each row it rendered while visible) or its detail
  page opened, whichever came first, and by whom (an ack or close before any such report
  counts as the view: whoever acted saw it);
- ``ack``: the first operator acknowledgement (the audit), and by whom;
- ``confirmed``: the device's receipt for it (what makes it handled);
- ``close``: closed, by whom, with the note.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from statistics import median
from typing import Any

from edge.station.alarms import Alarm

START_WORDS = ("dimulai", "started")


def epoch_s(iso: str | None) -> float | None:
    if not iso:
        return None
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _after(start: str, at: str | None) -> float | None:
    t0, t1 = epoch_s(start), epoch_s(at)
    return None if t0 is None or t1 is None else round(t1 - t0, 3)


def is_start(marker: dict[str, Any]) -> bool:
    message = str(marker.get("message", "")).lower()
    return any(f": {word}" in message or message.startswith(word) for word in START_WORDS)


def drills_from(markers: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drills from their markers (oldest first): a start, ended by the device's next marker
    by seq (markers resent late arrive out of order). ``started_at``/``ended_at`` are the
    markers' own ``ts`` (when the device began and ended it); ``window_from``/
    ``window_until`` their receive times, the station's clock its alarms are on."""
    drills: list[dict[str, Any]] = []
    running: dict[tuple[str, str], dict[str, Any]] = {}
    ordered = sorted(
        markers,
        key=lambda m: (str(m["site"]), str(m["device"]), m.get("epoch", 0), m.get("seq", 0)),
    )
    for m in ordered:
        key = (str(m["site"]), str(m["device"]))
        current = running.pop(key, None)
        if current is not None:
            current["ended_at"] = m.get("ts") or m["received_at"]
            current["window_until"] = m["received_at"]
            current["end_message"] = m.get("message", "")
        if is_start(m):
            message = str(m.get("message", ""))
            drill = {
                "id": m["id"],
                "site": key[0],
                "device": key[1],
                "name": message.split(": ", 2)[-1],
                "message": message,
                "started_at": m.get("ts") or m["received_at"],
                "ended_at": None,
                "window_from": m["received_at"],
                "window_until": None,
                "end_message": None,
            }
            drills.append(drill)
            running[key] = drill
    return sorted(drills, key=lambda d: str(d["started_at"]))


def _first(rows: list[dict[str, Any]], *actions: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["action"] in actions), None)


def alarm_timing(
    alarm: Alarm,
    audit: list[dict[str, Any]],
    receipts: list[dict[str, Any]],
    first_ts: str | None = None,
) -> dict[str, Any]:
    """One alarm's response times (see the module doc); ``audit``: rows targeting it."""
    start = alarm.first_at
    ack = _first(audit, "ack")
    close = _first(audit, "close")
    # An operator who acknowledged or closed it saw it, whether or not the board's
    # report of the view came in first.
    seen = [r for r in audit if r["action"] in ("view", "ack", "close")]
    view = min(seen, key=lambda r: r["at"]) if seen else None
    took = [r for r in receipts if r["accepted"]]
    confirmed_at = (
        max((r["at"] for r in took), default=None) if alarm.ack.value == "confirmed" else None
    )
    return {
        "alarm_id": alarm.alarm_id,
        "site": alarm.site,
        "device": alarm.device,
        "sensor": alarm.sensor,
        "hazard": alarm.hazard,
        "message": alarm.message,
        "event_at": start,
        "device_ts": first_ts,
        "delivery_s": _after(first_ts, start) if first_ts else None,
        "first_view": None
        if view is None
        else {
            "at": view["at"],
            "by": view["actor"],
            "how": view["detail"].get("how", "") if view["action"] == "view" else view["action"],
            "after_s": _after(start, view["at"]),
        },
        "ack": None
        if ack is None
        else {
            "at": ack["at"],
            "by": ack["actor"],
            "note": ack["detail"].get("note", ""),
            "after_s": _after(start, ack["at"]),
        },
        "confirmed": None
        if confirmed_at is None
        else {"at": confirmed_at, "by": alarm.acked_by, "after_s": _after(start, confirmed_at)},
        "close": None
        if close is None
        else {
            "at": close["at"],
            "by": close["actor"],
            "note": close["detail"].get("note", ""),
            "after_s": _after(start, close["at"]),
        },
        "ended_by_drill": alarm.acked_by == "(drill ended)" and ack is None,
    }


def _summary(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    values = [
        r[key]["after_s"] for r in rows if r[key] is not None and r[key]["after_s"] is not None
    ]
    return {
        "count": len(values),
        "median_s": round(median(values), 3) if values else None,
        "max_s": max(values) if values else None,
    }


def drill_report(drill: dict[str, Any], timings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "drill": drill,
        "alarms": timings,
        "summary": {
            "alarms": len(timings),
            "first_view": _summary(timings, "first_view"),
            "ack": _summary(timings, "ack"),
            "confirmed": _summary(timings, "confirmed"),
            "close": _summary(timings, "close"),
            "missed": sum(1 for t in timings if t["ack"] is None),
        },
    }


def on_shift(
    audit: list[dict[str, Any]], since: str, until: str, lifetime_s: float
) -> list[dict[str, Any]]:
    """Who was logged in at some moment of the shift, from the audit's logins/logouts."""
    ended = {r["detail"].get("sid"): r["at"] for r in audit if r["action"] == "logout"}
    people: dict[str, dict[str, Any]] = {}
    t0, t1 = epoch_s(since) or 0.0, epoch_s(until) or 0.0
    for r in audit:
        if r["action"] != "login":
            continue
        start = epoch_s(r["at"]) or 0.0
        end = epoch_s(ended.get(r["detail"].get("sid"))) or start + lifetime_s
        if start < t1 and end > t0:
            who = people.setdefault(
                r["actor"], {"name": r["actor"], "role": r["detail"].get("role"), "logins": 0}
            )
            who["logins"] += 1
            who.setdefault("first_login", r["at"])
    return sorted(people.values(), key=lambda p: p["name"])


def shift_report(
    *,
    station: str,
    since: str,
    until: str,
    alarms: list[Alarm],
    sites: list[dict[str, Any]],
    audit: list[dict[str, Any]],
    drills: list[dict[str, Any]],
    lifetime_s: float,
) -> dict[str, Any]:
    """What the next shift must know: ``alarms`` open at some moment of [since, until),
    ``audit`` from (since − lifetime) to until, ``sites`` as they are now."""
    real = [a for a in alarms if not a.drill and not a.test]
    still_open = [a for a in real if not a.closed or (a.closed_at or "") >= until]
    in_shift = [r for r in audit if since <= r["at"] < until]
    notes = [
        {
            "at": r["at"],
            "by": r["actor"],
            "action": r["action"],
            "target": r["target"],
            "note": r["detail"].get("note", ""),
        }
        for r in in_shift
        if r["action"] in ("ack", "close", "note") and str(r["detail"].get("note", "")).strip()
    ]
    return {
        "station": station,
        "since": since,
        "until": until,
        "open": [a.view() for a in still_open if a.ack.value == "none"],
        "acknowledged_not_closed": [a.view() for a in still_open if a.ack.value != "none"],
        "closed_in_shift": [
            a.view() for a in real if a.closed and since <= (a.closed_at or "") < until
        ],
        "silent_sites": [s for s in sites if s.get("status") != "online"],
        "drills": [d for d in drills if since <= d["started_at"] < until],
        "notes": notes,
        "on_shift": on_shift(audit, since, until, lifetime_s),
    }
