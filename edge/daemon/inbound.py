"""What a message from the control room asks for, and the device's answer to an ack.

:func:`parse_inbound` is pure: bytes in, a command or the reason it was dropped out.
:func:`take_ack` records an ack in the store and says what the receipt must say; the
loop publishes that receipt on ``…/acked``: one per ack taken or refused, the only word
on which a station may show an alarm as handled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError

from edge import homeassistant, logs
from edge.clock import iso_ms
from edge.outbox import STORE_ERRORS, AckResult, Outbox
from edge.payloads import MAX_INBOUND_BYTES, Ack, Acked, Resend
from edge.topics import Topics

log = logs.get("inbound")


@dataclass(frozen=True, slots=True)
class HaBirth:
    """Home Assistant came (back) online: publish the discovery config again."""


@dataclass(frozen=True, slots=True)
class Ignored:
    """Nothing to do, and nothing wrong (Home Assistant going offline)."""


@dataclass(frozen=True, slots=True)
class Dropped:
    reason: str
    event_id: str | None = None
    """For an ack: the event it named, if it named one, so the refusal can be receipted."""
    by: str | None = None


Command = Ack | Resend | HaBirth | Ignored | Dropped


def parse_inbound(
    topic: str, payload: bytes, *, retained: bool, topics: Topics, ha_status: str | None = None
) -> Command:
    """``ha_status``: Home Assistant's status topic, when its discovery is enabled."""
    if len(payload) > MAX_INBOUND_BYTES:
        return Dropped(f"too large ({len(payload)} bytes, at most {MAX_INBOUND_BYTES})")
    if topic in (topics.ack, topics.resend):
        if retained:
            # A retained command is acted on again at every (re)subscribe: a retained
            # resend would replay its range after every reconnect while it stays retained.
            return Dropped(
                "retained: commands are never retained; clear it with "
                f"mosquitto_pub -r -n -t {topic}",
                *_named(payload) if topic == topics.ack else (None, None),
            )
        try:
            if topic == topics.ack:
                return Ack.model_validate_json(payload)
            return Resend.model_validate_json(payload)
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}"
                for e in exc.errors(include_url=False)[:3]
            )
            named = _named(payload) if topic == topics.ack else (None, None)
            return Dropped(reasons, *named)
    if ha_status is not None and topic == ha_status:
        return HaBirth() if homeassistant.is_birth(payload) else Ignored()
    return Dropped("unexpected topic")


def _named(payload: bytes) -> tuple[str | None, str | None]:
    """The event id and operator a refused ack names, when it names them as short strings."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    event_id, by = data.get("event_id"), data.get("by")
    ok_id = isinstance(event_id, str) and 0 < len(event_id) <= 64
    ok_by = isinstance(by, str) and len(by) <= 128
    return (event_id if ok_id else None), (by if ok_by else None)


@dataclass(frozen=True, slots=True)
class AckTaken:
    recorded: bool
    """Newly recorded: the siren and the repeats follow."""
    accepted: bool
    reason: str | None = None


def take_ack(outbox: Outbox, ack: Ack) -> AckTaken:
    try:
        result = outbox.ack(ack.event_id, ack.by)
    except STORE_ERRORS as exc:  # a full disk: the ack is asked for again
        log.error("ack_not_recorded", event_id=ack.event_id, by=ack.by, error=str(exc))
        return AckTaken(recorded=False, accepted=False, reason=f"not recorded: {exc}")
    if result is AckResult.RECORDED:
        log.info("event_acknowledged", event_id=ack.event_id, by=ack.by)
        return AckTaken(recorded=True, accepted=True)
    reason = "already acknowledged" if result is AckResult.ALREADY else "unknown event"
    log.info("ack_ignored", event_id=ack.event_id, reason=reason)
    return AckTaken(recorded=False, accepted=result is AckResult.ALREADY, reason=reason)


def receipt(event_id: str, by: str, wall: float, taken: AckTaken) -> bytes:
    return Acked(
        event_id=event_id, by=by, ts=iso_ms(wall), accepted=taken.accepted, reason=taken.reason
    ).to_json()
