"""The board's queue order and what each row shows, as pure functions of the alarm view.

**Order** (each part a reason a control room gave us):

1. **Unacknowledged first, then pending, then confirmed.** The queue is the work still to
   do: an alarm nobody has taken is the next thing an operator must act on; one the
   device confirmed is being handled and moves down, but stays in sight until closed.
2. **Hazard class**: fire, gas and earthquake (life at risk within minutes, people to
   move at once) above flood (rises over tens of minutes, warnings come first) above
   intrusion and tamper (police matters, no one burning) above faults and silent sites
   (the equipment, not the people). A sensor's fault is a fault whatever its hazard.
3. **Still active before cleared**: a cleared alarm not yet closed is history to file.
4. **Oldest first**: within the same class, the one that has waited longest.

Ageing: an unacknowledged real alarm turns yellow after :data:`YELLOW_S` and red after
:data:`RED_S`, counted from when it last needed an ack (its first event, or the new trouble
that re-opened it after an ack).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

YELLOW_S = 60.0
RED_S = 180.0
HAZARD_CLASS = {"fire": 0, "gas": 0, "earthquake": 0, "flood": 1, "intrusion": 2, "tamper": 2}
FAULT_CLASS = 3
ACK_RANK = {"none": 0, "pending": 1, "confirmed": 2}
NO_ACK_RANK = 2
"""An alarm the device asks no ack for is no work left to do: it sorts with the confirmed."""


def hazard_class(view: dict[str, Any]) -> int:
    if view.get("severity") not in ("critical", "warning"):
        return FAULT_CLASS
    return HAZARD_CLASS.get(str(view.get("hazard")), FAULT_CLASS)


def needs_ack_since(view: dict[str, Any]) -> str:
    """When the alarm last started needing an acknowledgement (ISO time)."""
    return str(view["first_at"] if not view.get("acked_at") else view["last_at"])


def queue_key(view: dict[str, Any]) -> list[Any]:
    """Sort key (a JSON list, so the page sorts by the very same key)."""
    return [
        ACK_RANK.get(str(view.get("ack")), 0) if view.get("ack_needed", True) else NO_ACK_RANK,
        hazard_class(view),
        0 if view.get("active") else 1,
        str(view.get("first_at", "")),
        str(view.get("alarm_id", "")),
    ]


def age_level(view: dict[str, Any], now: float) -> str:
    """``""``, ``"yellow"`` or ``"red"``: how long a real alarm has waited for an ack."""
    if view.get("ack") != "none" or view.get("closed") or view.get("drill") or view.get("test"):
        return ""
    if not view.get("ack_needed", True):
        return ""  # nothing the device asked for: nothing to wait on
    waited = now - _epoch(needs_ack_since(view))
    return "red" if waited >= RED_S else "yellow" if waited >= YELLOW_S else ""


def place_of(view: dict[str, Any], configured: str | None = None) -> str:
    """Where, from structured data only, never from the device's sentence (whose shape
    differs by state, zone and language, and where " di " also begins "di luar
    jangkauan"): the station's ``[[sites]] places`` for the sensor, else the event's own
    ``place`` (the device's name and location for the sensor or zone), else the sensor
    id (an older device sends no ``place``)."""
    if configured:
        return configured
    if view.get("place"):
        return str(view["place"])
    return str(view.get("sensor") or "")


def panel(view: dict[str, Any]) -> str:
    """``real`` or ``drill``: drills and walk tests never share the real queue."""
    return "drill" if view.get("drill") or view.get("test") else "real"


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
