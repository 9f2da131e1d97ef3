"""Replay: run a recorded trace through one sensor's detection, exactly as configured.

Pure: no MQTT, no GPIO, no clock, no files. The trace's own timestamps are the machine's
time; the machine starts at ``t_s = 0`` (the trace's start, as cli.md defines ``t_s``),
so a trace whose first sample comes late shows what the sensor would have shown: a
``no_data`` fault if the silence is longer than ``fault.no_data_s``.

Every deadline between two samples is processed at its own time (a smoke alarm confirmed
3 s after the contact closed appears at that instant, not at the next sample). After the
last sample nothing more is invented: the trace is all we know, and ticking on would
either show a clear on data nobody recorded or a ``no_data`` fault the sensor never had.
What the machine was still waiting for at the end is reported separately
(:attr:`Replay.pending`) so a technician sees "alarm would clear at 75.0 s if the input
stayed as it was".

Events are built with :class:`edge.events.EventBuilder`, so they are the MQTT API's
events: ``seq`` from 1, ``id`` a uuid5 of the site, device, sensor and ``seq`` (the same
replay gives the same ids), ``ts`` the fixed :data:`EPOCH` plus ``t_s``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from edge.config import SiagaConfig
from edge.detect.build import machine_for
from edge.detect.types import State, Transition
from edge.events import EventBuilder
from edge.payloads import Event

EPOCH = 1_735_689_600.0
"""2025-01-01T00:00:00Z: replayed events are stamped this plus their ``t_s``."""
NAMESPACE = uuid.UUID("6d1f3c2e-8b4a-5e0f-9c7d-2a1b3c4d5e6f")


@dataclass(frozen=True, slots=True)
class Pending:
    """A change the machine was waiting for when the trace ended."""

    t_s: float
    state: State
    stage: str | None


@dataclass(frozen=True, slots=True)
class Replay:
    sensor: str
    events: list[tuple[float, Event]]
    """``(t_s, event)`` in order, the startup event first."""
    end_t_s: float
    """The last sample's ``t_s``: the replay's horizon."""
    pending: Pending | None


def event_id(config: SiagaConfig, sensor: str, seq: int) -> str:
    site = config.site
    return str(uuid.uuid5(NAMESPACE, f"{site.id}/{site.device}/{sensor}/{seq}"))


def transitions(
    config: SiagaConfig, sensor: str, samples: Sequence[tuple[float, float]]
) -> tuple[list[Transition], float, Pending | None]:
    """The core's view: every transition, the horizon and what was pending at it."""
    cfg = config.sensor(sensor)
    machine = machine_for(cfg)
    out = machine.start(0.0)
    out += machine.sample_many(samples)
    end = samples[-1][0] if samples else 0.0
    nxt = machine.pending_change()
    pending = None if nxt is None else Pending(*nxt)
    return out, end, pending


def replay(config: SiagaConfig, sensor: str, samples: Sequence[tuple[float, float]]) -> Replay:
    """Run ``samples`` (``t_s, value`` in the sensor's unit) through ``sensor``'s detection.

    Raises KeyError when the config has no such sensor.
    """
    trs, end, pending = transitions(config, sensor, samples)
    builder = EventBuilder(config)
    events = [
        (
            tr.t,
            builder.sensor_event(
                tr, seq=seq, event_id=event_id(config, sensor, seq), wall=EPOCH + tr.t
            ),
        )
        for seq, tr in enumerate(trs, start=1)
    ]
    return Replay(sensor=sensor, events=events, end_t_s=end, pending=pending)
