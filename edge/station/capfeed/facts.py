"""The station's alarm, event and config as ``edge.cap.compose`` needs them, and which
CAP moments an alarm change is. Pure: values in, values out."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Literal

from edge.cap.compose import AlarmFacts, CapProfile, EventFacts, Moment, SiteFacts
from edge.station.alarms import AckState, Alarm
from edge.station.config import StationConfig

AckWord = Literal["none", "pending", "confirmed"]


def when(text: str | None, fallback: datetime) -> datetime:
    """An archive or device time (ISO 8601, ``Z`` or offset) as an aware datetime."""
    if not text:
        return fallback
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def moment_time(wall: float) -> datetime:
    return datetime.fromtimestamp(wall, UTC)


def alarm_facts(alarm: Alarm) -> AlarmFacts:
    first = when(alarm.first_at, datetime.fromtimestamp(0, UTC))
    ack: AckWord = alarm.ack.value
    return AlarmFacts(
        alarm_id=alarm.alarm_id,
        site=alarm.site,
        device=alarm.device,
        sensor=alarm.sensor,
        hazard=alarm.hazard,
        active=alarm.active,
        first_at=first,
        last_at=when(alarm.last_at, first),
        events=max(alarm.events, 1),
        severity=alarm.severity,
        ack=ack,
        acked_by=alarm.acked_by,
        acked_at=when(alarm.acked_at, first) if alarm.acked_at else None,
        closed=alarm.closed,
        closed_by=alarm.closed_by,
        closed_at=when(alarm.closed_at, first) if alarm.closed_at else None,
        close_note=alarm.close_note,
        first_event_id=alarm.first_event_id or "",
        last_event_id=alarm.last_event_id or "",
        drill=alarm.drill,
        test=alarm.test,
        silent=alarm.silent_site,
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _word(value: Any) -> str:
    return value if isinstance(value, str) else ""


def event_facts(payload: dict[str, Any] | None, alarm: Alarm) -> EventFacts:
    """The alarm's latest event from its archived payload (read leniently, as the
    station reads devices); without one (a silent site, a pruned event) from the alarm:
    a silent site is a ``fault`` of the site while it lasts."""
    last = when(alarm.last_at, datetime.fromtimestamp(0, UTC))
    if payload is None:
        state = ("fault" if alarm.active else "normal") if alarm.silent_site else alarm.state
        return EventFacts(
            id=alarm.last_event_id or alarm.alarm_id,
            seq=alarm.last_seq,
            state=state,
            ts=last,
            reason=alarm.state if alarm.silent_site else "",
            message=alarm.message,
        )
    seq = payload.get("seq")
    stage = payload.get("stage")
    return EventFacts(
        id=_word(payload.get("id")) or alarm.last_event_id or alarm.alarm_id,
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else alarm.last_seq,
        state=_word(payload.get("state")) or alarm.state,
        ts=when(_word(payload.get("ts")), last),
        stage=stage if isinstance(stage, str) and stage else None,
        reason=_word(payload.get("reason")),
        value=_number(payload.get("value")),
        unit=_word(payload.get("unit")),
        threshold=_number(payload.get("threshold")),
        message=_word(payload.get("message")),
    )


def moments(before: Alarm | None, after: Alarm, event_id: str | None) -> list[Moment]:
    """What partners may need to hear of this change, in order; ``before`` is the same
    alarm as stored before it (None: new), ``event_id`` the event just archived."""
    if after.closed:
        return [] if before is not None and before.closed else [Moment.CLOSE]
    out: list[Moment] = []
    newest = event_id is not None and after.last_event_id == event_id
    if before is None or newest or before.active != after.active:
        out.append(Moment.EVENT)
    ack_moved = (before.ack if before is not None else AckState.NONE) != after.ack
    if ack_moved and after.ack is not AckState.NONE:
        out.append(Moment.ACK)
    return out


def profile_of(config: StationConfig, base_url: str) -> CapProfile:
    return CapProfile.from_config(
        config.cap,
        station_name=config.station.name,
        base_url=base_url,
        sites=[SiteFacts(s.id, s.name, s.lat, s.lon) for s in config.sites],
        procedures={str(p.hazard): p.steps for p in config.procedures},
    )
