"""Zones: sensors of one hazard deciding together, on their transitions and timestamps.

A :class:`Zone` turns its members' transitions into the zone's own. Its rules, in order:

1. A manual call point (a member with ``manual = true``) in ``alarm`` puts the zone in
   ``alarm`` at once (reason ``manual``), whatever the rule and whatever else is going on.
2. Otherwise the zone's rule decides over the other members (:mod:`edge.detect.rules`
   ``any``, :mod:`edge.detect.coincidence`, :mod:`edge.detect.twodetector`): ``alarm``
   or ``warning`` with the rule's reason, onset and the members that made it.
3. Otherwise, when a member's trigger outlasted the rule's maximum length, the zone is
   ``fault`` (reason ``stuck_trigger``, the stuck members named): it no longer votes.
4. Otherwise, when the members that work (``normal``, ``warning`` or ``alarm``, not stuck)
   could not raise the zone on their own: ``starting`` if the members still starting
   would make up the difference, ``disabled`` if only disabled members are missing, else
   ``fault`` (reason ``quorum``, the members at fault named): the place is not watched
   by the zone, even though some of its sensors are.
5. Otherwise ``normal`` (reason ``startup`` the first time, ``cleared`` after).

A transition is published when the zone's shown ``(state, stage)`` changes. Time never
runs backwards: an input stamped before the last instant processed counts as at it.

:class:`ZoneSet` is the one thing the daemon talks to: every sensor transition goes
through :meth:`ZoneSet.feed`, which returns what is to be published (the member's own
transition tagged with its zone and passed through its latch, then the zone's), plus
:meth:`ZoneSet.tick` at :meth:`ZoneSet.deadline` and :meth:`ZoneSet.acknowledge` when an
alarm is acknowledged, and :meth:`ZoneSet.observe` to tell rebuilt zones (a reload) the
members' present states.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from edge.detect.latch import Latch
from edge.detect.rules import Rule, Verdict
from edge.detect.types import Reason, State, Transition

_MAX_DEADLINES_PER_TICK = 100_000
WORKING = frozenset({State.NORMAL, State.WARNING, State.ALARM})


@dataclass(frozen=True, slots=True)
class _Shown:
    state: State
    reason: Reason
    members: tuple[str, ...] = ()
    onset: float | None = None
    stage: str | None = None
    value: float | None = None
    threshold: float | None = None


class Zone:
    def __init__(
        self,
        zone_id: str,
        rule: Rule,
        detectors: Sequence[str],
        call_points: Sequence[str] = (),
    ) -> None:
        self.zone_id = zone_id
        self.rule = rule
        self.detectors = tuple(detectors)
        self.call_points = tuple(call_points)
        self.members = frozenset(self.detectors) | frozenset(self.call_points)
        self.states: dict[str, State] = dict.fromkeys(self.members, State.STARTING)
        self.state = State.STARTING
        self.stage: str | None = None
        self._pressed: dict[str, float] = {}
        self._now: float | None = None

    def start(self, t: float) -> list[Transition]:
        self._now = t
        return [self._transition(t, _Shown(State.STARTING, Reason.STARTUP), State.STARTING)]

    def feed(self, tr: Transition) -> list[Transition]:
        """A member's transition; anything else is ignored."""
        if tr.sensor not in self.members:
            return []
        out = self.tick(tr.t)
        t = tr.t if self._now is None else max(tr.t, self._now)
        self._now = t
        self.states[tr.sensor] = tr.state
        if tr.sensor in self.call_points:
            if tr.state is State.ALARM:
                self._pressed.setdefault(tr.sensor, t)
            else:
                self._pressed.pop(tr.sensor, None)
        else:
            self.rule.member(t, tr)
        return out + self._settle(t)

    def tick(self, t: float) -> list[Transition]:
        """Let time pass up to ``t``; every deadline on the way is processed at its time."""
        out: list[Transition] = []
        for _ in range(_MAX_DEADLINES_PER_TICK):
            due = self.deadline()
            if due is None or due > t:
                break
            out += self._evaluate(due)
        if self._now is None or t > self._now:
            out += self._evaluate(t)
        return out

    def deadline(self) -> float | None:
        now = self._now
        if now is None:
            return None
        return self.rule.deadline(now)

    # ------------------------------------------------------------------ internals

    def _evaluate(self, t: float) -> list[Transition]:
        self._now = t
        self.rule.advance(t)
        return self._settle(t)

    def _decide(self, t: float) -> _Shown:
        if self._pressed:
            first = min(self._pressed, key=lambda m: self._pressed[m])
            return _Shown(State.ALARM, Reason.MANUAL, (first,), onset=self._pressed[first])
        verdict = self.rule.verdict(t)
        if verdict is not None:
            return _from_verdict(verdict)
        stuck = self.rule.stuck()
        if stuck:
            return _Shown(State.FAULT, Reason.STUCK_TRIGGER, stuck)
        # A zone of call points alone is watched by them.
        pool = self.detectors or self.call_points
        working = [m for m in pool if self.states[m] in WORKING]
        if self.rule.can_decide(working):
            return _Shown(State.NORMAL, Reason.CLEARED)
        waiting = [m for m in pool if self.states[m] is State.STARTING]
        if waiting and self.rule.can_decide(working + waiting):
            return _Shown(State.STARTING, Reason.STARTUP, tuple(waiting))
        missing = tuple(m for m in pool if self.states[m] not in WORKING)
        if all(self.states[m] is State.DISABLED for m in missing):
            return _Shown(State.DISABLED, Reason.STARTUP, missing)
        failed = tuple(m for m in missing if self.states[m] is not State.STARTING)
        return _Shown(State.FAULT, Reason.QUORUM, failed)

    def _settle(self, t: float) -> list[Transition]:
        shown = self._decide(t)
        if (shown.state, shown.stage) == (self.state, self.stage):
            return []
        previous = self.state
        if shown.state is State.NORMAL and previous is State.STARTING:
            shown = replace(shown, reason=Reason.STARTUP)
        self.state, self.stage = shown.state, shown.stage
        return [self._transition(t, shown, previous)]

    def _transition(self, t: float, shown: _Shown, previous: State) -> Transition:
        return Transition(
            t,
            self.zone_id,
            shown.state,
            previous,
            shown.reason,
            stage=shown.stage,
            value=shown.value,
            threshold=shown.threshold,
            onset=shown.onset,
            zone=self.zone_id,
            members=shown.members,
        )


def _from_verdict(v: Verdict) -> _Shown:
    return _Shown(v.state, v.reason, v.members, v.onset, v.stage, v.value, v.threshold)


class ZoneSet:
    """Every zone and latch of a config: what stands between the sensors and the events."""

    def __init__(self, zones: Iterable[Zone] = (), latching: Iterable[str] = ()) -> None:
        self.zones = {z.zone_id: z for z in zones}
        self.membership: dict[str, str] = {
            m: z.zone_id for z in self.zones.values() for m in sorted(z.members)
        }
        self.latches = {ident: Latch(ident) for ident in latching}

    def zone_of(self, sensor: str) -> str | None:
        """The zone ``sensor`` is a member of (at most one, the config sees to it)."""
        return self.membership.get(sensor)

    def start(self, t: float) -> list[Transition]:
        """Each zone's first transition, ``starting``: call once, when the sensors start."""
        return [x for z in self.zones.values() for tr in z.start(t) for x in self._latched(tr)]

    def feed(self, tr: Transition) -> list[Transition]:
        """A sensor's transition in; out, in order, what is to be published.

        Zone deadlines before ``tr.t`` come first, then the sensor's own transition
        (tagged with its zone, through its latch), then its zone's.
        """
        out = self.tick(tr.t)
        zone_id = self.membership.get(tr.sensor)
        own = tr if zone_id is None else replace(tr, zone=zone_id)
        out += self._latched(own)
        if zone_id is not None:
            for ztr in self.zones[zone_id].feed(tr):
                out += self._latched(ztr)
        return out

    def observe(self, tr: Transition) -> list[Transition]:
        """A member's present state, already published (after a reload rebuilt the zones):
        its zone learns it; only the zone's transitions come back, nothing of the member's.
        """
        out = self.tick(tr.t)
        zone_id = self.membership.get(tr.sensor)
        if zone_id is not None:
            for ztr in self.zones[zone_id].feed(tr):
                out += self._latched(ztr)
        return out

    def feed_many(self, transitions: Iterable[Transition]) -> list[Transition]:
        out: list[Transition] = []
        for tr in transitions:
            out += self.feed(tr)
        return out

    def tick(self, t: float) -> list[Transition]:
        """Let time pass up to ``t`` in every zone; call at :meth:`deadline` at the latest."""
        got = [tr for z in self.zones.values() for tr in z.tick(t)]
        got.sort(key=lambda tr: tr.t)
        return [x for tr in got for x in self._latched(tr)]

    def deadline(self) -> float | None:
        times = [d for z in self.zones.values() if (d := z.deadline()) is not None]
        return min(times) if times else None

    def acknowledge(self, ident: str, t: float) -> list[Transition]:
        """The alarm of sensor or zone ``ident`` was acknowledged at ``t``.

        Returns the release to publish when its condition had already cleared; nothing
        when it has not yet (the release comes with the clearing) or nothing latches.
        """
        latch = self.latches.get(ident)
        return [] if latch is None else latch.acknowledge(t)

    def _latched(self, tr: Transition) -> list[Transition]:
        latch = self.latches.get(tr.sensor)
        return [tr] if latch is None else latch.feed(tr)
