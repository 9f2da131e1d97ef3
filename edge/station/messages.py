"""One MQTT message in, one typed fact out (or the reason it is dropped). Pure.

Lenient where the API says so (a device may add fields), strict where a wrong value
would mislead the board: the topic's site and device must be the payload's, ids and
seqs have their types and bounds, sizes are bounded. Commands this or another control
room sent (``ack``, ``resend``) are heard but never taken as anything: only the device's
receipt on ``…/acked`` says an ack was recorded. Anything retained on a topic the device
never retains (``events``, ``acked``, ``ack``, ``resend``, ``heartbeat``) is dropped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.payloads import SEQ_MAX
from edge.station.alarms import EventFacts, Receipt
from edge.topics import parse_device_topic

MAX_EVENT_BYTES = 64 * 1024
MAX_OTHER_BYTES = 64 * 1024
MAX_RECEIPT_BYTES = 4096
KIND_HAZARD = {"smoke": "fire", "water_level": "flood", "vibration": "earthquake"}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class _EventHead(_Lenient):
    id: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=1, le=SEQ_MAX)
    site: str = Field(max_length=128)
    device: str = Field(max_length=128)
    sensor: str = Field(min_length=1, max_length=128)
    kind: str = Field(default="", max_length=64)
    hazard: str | None = Field(default=None, max_length=64)
    state: str = Field(max_length=32)
    severity: str = Field(default="info", max_length=32)
    ts: str = Field(max_length=64)
    drill: bool = False
    test: bool = False
    requires_ack: bool = False
    message: str = Field(default="", max_length=4096)
    zone: str | None = Field(default=None, max_length=128)
    place: str = Field(default="", max_length=256)


class _ReceiptBody(_Lenient):
    event_id: str = Field(min_length=1, max_length=256)
    by: str = Field(max_length=256)
    ts: str = Field(max_length=64)
    accepted: bool
    reason: str | None = Field(default=None, max_length=1024)


@dataclass(frozen=True, slots=True)
class EventMsg:
    site: str
    device: str
    facts: EventFacts
    payload: dict[str, Any]
    raw: bytes
    sent: str | None
    """The device's ``sent`` user property: repeat | resend | None (first delivery)."""
    from_state: bool = False
    """Heard on the retained ``state/{sensor}`` topic (the sensor's last real event)."""


@dataclass(frozen=True, slots=True)
class StatusMsg:
    site: str
    device: str
    state: str
    payload: dict[str, Any]
    retained: bool
    reason: str | None = None
    """running | stopped | lost; None from an older device (or a value we do not know)."""


@dataclass(frozen=True, slots=True)
class HeartbeatMsg:
    site: str
    device: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReceiptMsg:
    site: str
    device: str
    receipt: Receipt
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Heard:
    """Traffic that proves the device is there but carries nothing to keep (a reading)."""

    site: str
    device: str


@dataclass(frozen=True, slots=True)
class Dropped:
    reason: str
    site: str | None = None
    device: str | None = None
    topic: str = ""
    expected: bool = False
    """Traffic that is normal under the prefix (acks, resends): not worth a warning."""


Fact = EventMsg | StatusMsg | HeartbeatMsg | ReceiptMsg | Heard | Dropped

DEVICE_RETAINED = ("status", "state/")


def parse(  # noqa: C901 (one branch per topic of the API)
    prefix: str, topic: str, payload: bytes, *, retained: bool, user: dict[str, str]
) -> Fact:
    parsed = parse_device_topic(prefix, topic)
    if parsed is None:
        return Dropped("not a device topic", topic=topic)
    site, device, rest = parsed
    if rest in ("ack", "resend"):
        return Dropped(
            "a command to the device, never taken as anything", site, device, topic, True
        )
    if retained and not rest.startswith(DEVICE_RETAINED):
        return Dropped(f"retained on {rest}: the device never retains it", site, device, topic)
    limit = MAX_RECEIPT_BYTES if rest == "acked" else MAX_EVENT_BYTES
    if len(payload) > limit:
        return Dropped(f"too large ({len(payload)} bytes, at most {limit})", site, device, topic)
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return Dropped("not JSON", site, device, topic)
    if not isinstance(data, dict):
        return Dropped("not a JSON object", site, device, topic)
    if rest == "events" or rest.startswith("state/"):
        return _event(site, device, rest, data, payload, user, topic)
    if rest == "status":
        state = data.get("state")
        if state not in ("online", "offline"):
            return Dropped("status without online/offline", site, device, topic)
        reason = data.get("reason")
        known = reason if reason in ("running", "stopped", "lost") else None
        return StatusMsg(site, device, str(state), data, retained, known)
    if rest == "heartbeat":
        return HeartbeatMsg(site, device, data)
    if rest == "acked":
        try:
            body = _ReceiptBody.model_validate(data)
        except ValidationError as exc:
            return Dropped(f"receipt: {_first(exc)}", site, device, topic)
        receipt = Receipt(body.event_id, body.by, body.ts, body.accepted, body.reason)
        return ReceiptMsg(site, device, receipt, data)
    if rest.startswith("reading/"):
        return Heard(site, device)
    return Dropped("unknown topic", site, device, topic)


def _event(
    site: str,
    device: str,
    rest: str,
    data: dict[str, Any],
    raw: bytes,
    user: dict[str, str],
    topic: str,
) -> Fact:
    try:
        head = _EventHead.model_validate(data)
    except ValidationError as exc:
        return Dropped(f"event: {_first(exc)}", site, device, topic)
    if (head.site, head.device) != (site, device):
        return Dropped(
            f"event names {head.site}/{head.device}, published on {site}/{device}",
            site,
            device,
            topic,
        )
    ack_word = user.get("ack")
    facts = EventFacts(
        id=head.id,
        seq=head.seq,
        site=site,
        device=device,
        sensor=head.sensor,
        state=head.state,
        hazard=head.hazard or KIND_HAZARD.get(head.kind, "device"),
        severity=head.severity,
        ts=head.ts,
        drill=head.drill,
        test=head.test,
        requires_ack=head.requires_ack,
        message=head.message,
        zone=head.zone,
        place=head.place,
        ack_word=ack_word if ack_word in ("open", "closed") else None,
        **reading(data),
    )
    return EventMsg(site, device, facts, data, raw, user.get("sent"), rest.startswith("state/"))


def reading(data: dict[str, Any]) -> dict[str, Any]:
    """Stage, value and unit as the board shows them; anything odd is left out, never a
    reason to drop the event."""
    stage, value, unit = data.get("stage"), data.get("value"), data.get("unit")
    number = isinstance(value, int | float) and not isinstance(value, bool)
    finite = number and math.isfinite(float(value))  # type: ignore[arg-type]
    return {
        "stage": stage[:64] if isinstance(stage, str) else None,
        "value": float(value) if finite else None,  # type: ignore[arg-type]
        "unit": unit[:16] if isinstance(unit, str) else "",
    }


def _first(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "payload"
    return f"{where}: {err['msg']}"
