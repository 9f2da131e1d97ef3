"""Turning the core's transitions into MQTT API events (id, seq, message, severity)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from edge.clock import iso_ms
from edge.config import DEVICE_SENSOR, SensorConfig, SiagaConfig, ZoneConfig, ZoneRule
from edge.detect.types import Reason, State, Transition
from edge.messages import (
    call_point_message,
    describe,
    device_message,
    member_vote,
    place_words,
    zone_message,
)
from edge.payloads import SEVERITY, Event, EventKind, Hazard

REQUIRES_ACK = frozenset({State.ALARM, State.FAULT})
ZONE_REASONS = frozenset(
    {
        Reason.COINCIDENCE,
        Reason.CONFIRMING,
        Reason.CONFIRMED,
        Reason.MANUAL,
        Reason.STUCK_TRIGGER,
        Reason.QUORUM,
    }
)
"""Reasons a zone decides itself: their value (if any) is not a member's reading."""


def new_event_id() -> str:
    return str(uuid.uuid4())


class EventBuilder:
    """Knows the site, the sensors and the language; knows nothing of time or storage."""

    def __init__(self, config: SiagaConfig) -> None:
        self.config = config
        self.sensors: dict[str, SensorConfig] = {s.id: s for s in config.sensors}
        self.zones: dict[str, ZoneConfig] = {z.id: z for z in config.zones}

    def sensor_event(
        self,
        tr: Transition,
        *,
        seq: int,
        event_id: str,
        wall: float,
        drill: bool = False,
        test: bool = False,
    ) -> Event:
        """The event of a sensor's transition, or of a zone's (its id is no sensor's).
        ``test``: the sensor is in walk test; the event says so and never needs an ack."""
        if tr.sensor in self.zones:
            return self.zone_event(tr, seq=seq, event_id=event_id, wall=wall, drill=drill)
        cfg = self.sensors[tr.sensor]
        vote = self.votes(tr)
        if vote:
            message = member_vote(
                language=self.config.site.language.value,
                hazard=cfg.hazard.value,
                name=cfg.name or cfg.id,
                location=cfg.location,
                state=tr.state,
                zone=self.zones[str(tr.zone)].name or str(tr.zone),
                drill=drill,
                test=test,
            )
        elif tr.reason is Reason.MANUAL and tr.state is State.ALARM:
            message = call_point_message(
                language=self.config.site.language.value,
                name=cfg.name or cfg.id,
                location=cfg.location,
                drill=drill,
                test=test,
            )
        else:
            message = describe(
                language=self.config.site.language.value,
                hazard=cfg.hazard.value,
                previous=tr.previous,
                state=tr.state,
                reason=tr.reason,
                name=cfg.name or cfg.id,
                location=cfg.location,
                value=tr.value,
                unit=cfg.unit,
                stage=tr.stage,
                drill=drill,
                test=test,
            )
        return Event(
            id=event_id,
            seq=seq,
            site=self.config.site.id,
            device=self.config.site.device,
            sensor=tr.sensor,
            kind=EventKind(cfg.kind.value),
            hazard=cfg.hazard,
            zone=tr.zone,
            state=tr.state,
            previous=tr.previous,
            stage=tr.stage,
            severity=SEVERITY[tr.state],
            reason=tr.reason,
            value=tr.value,
            unit=cfg.unit,
            threshold=tr.threshold,
            ts=iso_ms(wall),
            drill=drill,
            test=test,
            requires_ack=tr.state in REQUIRES_ACK and not test and not vote,
            message=message,
            place=place_words(cfg.name or cfg.id, cfg.location),
        )

    def votes(self, tr: Transition) -> bool:
        """A member's own warning or alarm in a zone that confirms (coincidence, two
        detectors): a vote, not an emergency. It names no hazard, needs no ack and sounds
        no siren; the zone's event does, if the zone confirms. A call point is never one."""
        zone = self.zones.get(tr.zone or "")
        return (
            zone is not None
            and zone.rule is not ZoneRule.ANY
            and tr.sensor != zone.id
            and tr.state in (State.WARNING, State.ALARM)
            and tr.reason is not Reason.MANUAL
        )

    def zone_event(
        self, tr: Transition, *, seq: int, event_id: str, wall: float, drill: bool = False
    ) -> Event:
        """A zone's transition as an event: ``sensor`` and ``zone`` are the zone's id, the
        kind and hazard its members', ``members`` who made it.

        A reason of the rule (``coincidence``) carries the sum of votes and the threshold,
        without unit; a member's own reason (``any``) carries that member's value and unit.
        """
        zone = self.zones[tr.sensor]
        kind = self.config.zone_kind(zone)
        unit = ""
        if tr.members and tr.reason not in ZONE_REASONS and tr.value is not None:
            unit = self.sensors[tr.members[0]].unit
        names = [self.sensors[m].name or m for m in tr.members]
        return Event(
            id=event_id,
            seq=seq,
            site=self.config.site.id,
            device=self.config.site.device,
            sensor=zone.id,
            kind=EventKind(kind.value),
            hazard=self.config.zone_hazard(zone),
            zone=zone.id,
            members=list(tr.members),
            state=tr.state,
            previous=tr.previous,
            stage=tr.stage,
            severity=SEVERITY[tr.state],
            reason=tr.reason,
            value=tr.value,
            unit=unit,
            threshold=tr.threshold,
            ts=iso_ms(wall),
            drill=drill,
            requires_ack=tr.state in REQUIRES_ACK,
            message=zone_message(
                language=self.config.site.language.value,
                hazard=self.config.zone_hazard(zone).value,
                state=tr.state,
                reason=tr.reason,
                name=zone.name or zone.id,
                location=zone.location,
                members=names,
                confirm_s=zone.confirm_s,
                confirm_by_time=zone.confirm_by_time,
                value=tr.value,
                unit=unit,
                stage=tr.stage,
                drill=drill,
            ),
            place=place_words(zone.name or zone.id, zone.location),
        )

    def sensor_build(
        self, tr: Transition, wall: float, *, drill: bool, test: bool = False
    ) -> Callable[[int], Event]:
        """The builder the store calls with the event's seq, inside its commit."""
        return lambda seq: self.sensor_event(
            tr, seq=seq, event_id=new_event_id(), wall=wall, drill=drill, test=test
        )

    def device_event(
        self,
        state: State,
        reason: Reason,
        detail: str,
        *,
        seq: int,
        event_id: str,
        wall: float,
        previous: State = State.NORMAL,
        drill: bool = False,
        test: bool = False,
    ) -> Event:
        """An event about the device itself (sensor ``_device``); a drill's or a walk
        test's start and end are such events, flagged as the drill's or the test's."""
        return Event(
            id=event_id,
            seq=seq,
            site=self.config.site.id,
            device=self.config.site.device,
            sensor=DEVICE_SENSOR,
            kind=EventKind.DEVICE,
            hazard=Hazard.DEVICE,
            state=state,
            previous=previous,
            severity=SEVERITY[state],
            reason=reason,
            ts=iso_ms(wall),
            drill=drill,
            test=test,
            requires_ack=state in REQUIRES_ACK and not test,
            message=device_message(self.config.site.language.value, reason, detail),
        )
