"""MQTT payloads: the single source of truth for what goes over the wire.

The JSON Schemas and the AsyncAPI document are generated from these models
(``siaga-edge schema``); tests validate every published message against them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from edge.detect.types import Reason, State

EVENT_SCHEMA = "siaga.event/1"
MAX_INBOUND_BYTES = 4096
MAX_RESEND_SPAN = 10_000
SEQ_MAX = 2**63 - 1  # SQLite INTEGER is signed 64-bit: a larger seq cannot be stored or asked for

IsoTime = Annotated[
    str,
    StringConstraints(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"),
    Field(description="UTC, ISO 8601 with milliseconds and Z"),
]


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
    FAULT = "fault"


class Hazard(StrEnum):
    """What an alarm means to the people who act on it; follows the sensor's config
    ``hazard``, not its kind (a vibration switch on a fence is an intrusion)."""

    FIRE = "fire"
    GAS = "gas"
    FLOOD = "flood"
    EARTHQUAKE = "earthquake"
    INTRUSION = "intrusion"
    TAMPER = "tamper"
    DEVICE = "device"


class EventKind(StrEnum):
    SMOKE = "smoke"
    WATER_LEVEL = "water_level"
    VIBRATION = "vibration"
    DEVICE = "device"


SEVERITY = {
    State.STARTING: Severity.INFO,
    State.NORMAL: Severity.INFO,
    State.DISABLED: Severity.INFO,
    State.WARNING: Severity.WARNING,
    State.ALARM: Severity.CRITICAL,
    State.FAULT: Severity.FAULT,
}


class Outbound(BaseModel):
    # Every field is always sent (defaults too): the published schema marks them required.
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


class Event(Outbound):
    """One state change of one sensor, of one zone (``sensor`` is then the zone's id and
    ``zone == sensor``), or of the device itself (sensor ``_device``)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"title": "Siaga Edge event"}
    )

    schema_: Literal["siaga.event/1"] = Field(default="siaga.event/1", alias="schema")
    id: str = Field(description="Unique per event, the same on every re-send")
    seq: int = Field(ge=1, le=SEQ_MAX, description="Per device, +1 per event, across restarts")
    site: str
    device: str
    sensor: str
    kind: EventKind
    hazard: Hazard = Field(description="What an alarm means: follows the sensor's config")
    zone: str | None = Field(
        default=None,
        description="The zone this sensor is a member of; on a zone's own event, the zone "
        "itself (then zone == sensor); null when the sensor is in no zone",
    )
    members: list[str] = Field(
        default_factory=list,
        description="On a zone's event: the members whose state made it (the voters, the "
        "detectors, the call point, the stuck or failed members); empty otherwise",
    )
    state: State
    previous: State
    stage: str | None = None
    severity: Severity
    reason: Reason
    value: float | None = None
    unit: str = ""
    threshold: float | None = None
    ts: IsoTime
    drill: bool = False
    test: bool = Field(
        default=False, description="Walk-test (commissioning) event: never real, no siren"
    )
    requires_ack: bool
    message: str
    place: str = Field(
        default="",
        description="Where, as the operators know it: the sensor's (or zone's) name and "
        "location from the device's config, the very words the message says; empty on a "
        "device event",
    )

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


class Status(Outbound):
    state: Literal["online", "offline"]
    ts: IsoTime
    version: str
    reason: Literal["running", "stopped", "lost"] = Field(
        default="running",
        description="offline: 'stopped' when the device stopped cleanly, 'lost' in its Last "
        "Will (the broker lost it: frozen, cut off, crashed); 'running' when online",
    )


class SensorHealth(Outbound):
    state: State
    stage: str | None = None
    value: float | None = None
    unit: str = ""
    age_s: float | None = Field(default=None, description="Seconds since the last sample")


class Heartbeat(Outbound):
    ts: IsoTime
    version: str
    uptime_s: float
    interval_s: float = Field(description="Silence beyond 3 intervals means the device is gone")
    sensors: dict[str, SensorHealth]
    outbox_depth: int = Field(description="Events stored but not yet acknowledged by the broker")
    oldest_undelivered_age_s: float | None
    last_seq: int
    broker_connected: bool
    unacknowledged_alarms: int = 0
    storage_ok: bool = True
    storage_error: str | None = None
    cpu_temp_c: float | None = None
    storage_durable: bool | None = Field(
        default=None, description="false: the store is on RAM or read-only (a `storage` fault)"
    )
    storage_fs: str | None = Field(default=None, description="File system type of the store")
    watchdog_armed: bool | None = Field(
        default=None, description="A hardware watchdog is armed (sysfs); null: not known"
    )
    watchdog_timeout_s: float | None = None
    clock_synced: bool | None = Field(
        default=None, description="The clock is NTP-synchronised; null: not known"
    )
    under_voltage: bool | None = Field(
        default=None, description="Under-voltage now (firmware flags); null: not a Pi"
    )
    throttled: bool | None = Field(
        default=None, description="ARM frequency capped, throttled or at the soft temp limit now"
    )
    throttled_flags: str | None = Field(
        default=None, description="The firmware's get_throttled flags, hex (vcgencmd's)"
    )
    last_alarm_latency_s: float | None = Field(
        default=None, description="Last alarm: sensor condition to broker PUBACK, minus delay_on"
    )


class Acked(Outbound):
    """The device's receipt for an ``ack`` it took or refused: the station shows an alarm
    as handled only on this word, never on its own."""

    event_id: str = Field(max_length=256, description="The event the ack named")
    by: str = Field(max_length=256, description="The operator the ack named")
    ts: IsoTime
    accepted: bool = Field(description="true: recorded (repeats stop); false: refused")
    reason: str | None = Field(default=None, description="Why it was refused, or null")


class Reading(Outbound):
    ts: IsoTime
    value: float | None
    unit: str
    raw: float | None


class Inbound(BaseModel):
    """What the device takes from the control room: strict JSON types (``"1"`` is not a
    seq), no unknown fields, bounded strings. The console checks acks with it too, so it
    never counts as acknowledged what the device will refuse."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=256, strict=True)


class Ack(Inbound):
    """The control room acknowledges an event: the device stops repeating it."""

    event_id: str = Field(min_length=1, max_length=64)
    by: str = Field(min_length=1, max_length=128, description="Operator name")
    ts: datetime | None = None


class Resend(Inbound):
    """The control room asks for stored events again, e.g. after seeing a seq gap."""

    from_seq: int = Field(ge=1, le=SEQ_MAX)
    to_seq: int = Field(ge=1, le=SEQ_MAX, description="Inclusive; not below from_seq")

    @model_validator(mode="after")
    def _ordered(self) -> Resend:
        if self.to_seq < self.from_seq:
            raise ValueError(f"to_seq ({self.to_seq}) is below from_seq ({self.from_seq})")
        return self

    def span(self) -> range:
        return range(self.from_seq, min(self.to_seq, self.from_seq + MAX_RESEND_SPAN - 1) + 1)


PAYLOADS: dict[str, type[BaseModel]] = {
    "event": Event,
    "state": Event,
    "status": Status,
    "heartbeat": Heartbeat,
    "reading": Reading,
    "ack": Ack,
    "acked": Acked,
    "resend": Resend,
}
