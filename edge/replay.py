"""Replay: run a recorded trace through one sensor's detection, exactly as configured;
or one trace a member through a zone's members and the zone (:func:`replay_zone`).

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

import heapq
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from edge.config import SensorConfig, SiagaConfig
from edge.detect.build import machine_for, zone_for
from edge.detect.types import State, Transition
from edge.detect.zones import ZoneSet
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


RATE_TOLERANCE = 0.1
"""How far a trace's sample rate may stray from ``sample_hz`` before replay says so."""


def rate_mismatch(cfg: SensorConfig, samples: Sequence[tuple[float, float]]) -> str | None:
    """Why this trace does not replay as the sensor would see it, or None.

    The high-pass filter and the STA/LTA windows count samples at the configured
    ``sample_hz``; a trace recorded at another rate stretches or squeezes them in time
    (a 20 Hz trace on a 100 Hz sensor: a 0.2 s short window becomes 1 s, the warm-up 10 s),
    so the events are not what the sensor would send. Only for ``sta_lta`` sensors: every
    other rule counts in seconds on the trace's own timestamps.
    """
    if cfg.sta_lta is None or len(samples) < 3:
        return None
    steps = sorted(b[0] - a[0] for a, b in pairwise(samples))
    median = steps[len(steps) // 2]
    rate = 1.0 / median
    if abs(rate - cfg.sample_hz) <= RATE_TOLERANCE * cfg.sample_hz:
        return None
    factor = cfg.sample_hz / rate
    return (
        f"{cfg.id}: the trace is sampled at {rate:.4g} Hz but the sensor at sample_hz "
        f"{cfg.sample_hz:g}: its high-pass and STA/LTA count samples, so sta_s, lta_s and "
        f"the warm-up last {factor:.3g} times as long here as on the sensor; resample the "
        f"trace to {cfg.sample_hz:g} Hz (or replay it with sample_hz = {rate:.4g})"
    )


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


@dataclass(frozen=True, slots=True)
class ZoneReplay:
    zone: str
    events: list[tuple[float, Event]]
    """``(t_s, event)`` in order: the zone's and its members', numbered together."""
    end_t_s: float
    """The last sample's ``t_s`` of any member: the replay's horizon."""
    pending: dict[str, Pending]
    """Per member, what it was still waiting for when its trace ended."""


def zone_transitions(
    config: SiagaConfig, zone_id: str, traces: Mapping[str, Sequence[tuple[float, float]]]
) -> tuple[list[Transition], float, dict[str, Pending]]:
    """Each member on its own trace, then the zone on their transitions, in time order.

    The members' machines do not depend on one another, so each runs over its whole trace
    first (its deadlines at their own times, nothing after its last sample); their
    transitions, merged by time (members in config order at equal times), then go through
    the zone as the daemon would feed them. The zone's own deadlines are processed up to
    the last sample of any member, and no further.
    """
    zone = config.zone(zone_id)
    members = [m for m in zone.members if m in traces]
    zones = ZoneSet(
        [zone_for(config, zone)],
        [m for m in zone.members if config.sensor(m).latch] + ([zone.id] if zone.latch else []),
    )
    per_member: list[list[tuple[float, int, Transition]]] = []
    pending: dict[str, Pending] = {}
    end = 0.0
    for rank, member in enumerate(members):
        trs, last, nxt = transitions(config, member, traces[member])
        per_member.append([(tr.t, rank, tr) for tr in trs])
        end = max(end, last)
        if nxt is not None:
            pending[member] = nxt
    out = zones.start(0.0)
    for _, _, tr in heapq.merge(*per_member, key=lambda item: (item[0], item[1])):
        out += zones.feed(tr)
    out += zones.tick(end)
    return out, end, pending


def replay_zone(
    config: SiagaConfig, zone_id: str, traces: Mapping[str, Sequence[tuple[float, float]]]
) -> ZoneReplay:
    """Run each member of ``zone_id`` on its trace (``traces``: member -> samples) and the
    zone on them; the events of the zone and of its members, numbered as one device would.

    Raises KeyError when the config has no such zone.
    """
    trs, end, pending = zone_transitions(config, zone_id, traces)
    builder = EventBuilder(config)
    events = [
        (
            tr.t,
            builder.sensor_event(
                tr, seq=seq, event_id=event_id(config, tr.sensor, seq), wall=EPOCH + tr.t
            ),
        )
        for seq, tr in enumerate(trs, start=1)
    ]
    return ZoneReplay(zone=zone_id, events=events, end_t_s=end, pending=pending)
