"""Turning the core's transitions into MQTT API events (id, seq, message, severity)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from edge.clock import iso_ms
from edge.config import DEVICE_SENSOR, SensorConfig, SiagaConfig
from edge.detect.types import Reason, State, Transition
from edge.messages import describe, device_message
from edge.payloads import SEVERITY, Event, EventKind, Hazard

REQUIRES_ACK = frozenset({State.ALARM, State.FAULT})


def new_event_id() -> str:
    return str(uuid.uuid4())


class EventBuilder:
    """Knows the site, the sensors and the language; knows nothing of time or storage."""

    def __init__(self, config: SiagaConfig) -> None:
        self.config = config
        self.sensors: dict[str, SensorConfig] = {s.id: s for s in config.sensors}

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
        """``test``: the sensor is in walk test; the event says so and never needs an ack."""
        cfg = self.sensors[tr.sensor]
        return Event(
            id=event_id,
            seq=seq,
            site=self.config.site.id,
            device=self.config.site.device,
            sensor=tr.sensor,
            kind=EventKind(cfg.kind.value),
            hazard=cfg.hazard,
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
            requires_ack=tr.state in REQUIRES_ACK and not test,
            message=describe(
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
            ),
        )

    def sensor_build(self, tr: Transition, wall: float, *, drill: bool) -> Callable[[int], Event]:
        """The builder the store calls with the event's seq, inside its commit."""
        return lambda seq: self.sensor_event(
            tr, seq=seq, event_id=new_event_id(), wall=wall, drill=drill
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
    ) -> Event:
        """An event about the device itself (sensor ``_device``); a drill's start and end
        are such events, flagged as the drill's."""
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
            requires_ack=state in REQUIRES_ACK,
            message=device_message(self.config.site.language.value, reason, detail),
        )
