"""A drill's life on a running daemon: start, feed, report, end.

The scenario itself is played by the pure :class:`edge.drill.Drill` into machines of its
own. The runner keeps the one drill that may run, its events for ``siaga-edge drill``,
and the audit trail; at the end it closes the drill's alarms still waiting for an ack
(a finished drill must not repeat them for ever). It returns what the loop must emit:
the drill's transitions and its start and end markers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from edge import logs, messages
from edge.config import SiagaConfig
from edge.control import ControlError
from edge.detect.build import zones_for
from edge.detect.machine import SensorMachine
from edge.detect.types import Transition
from edge.detect.zones import ZoneSet
from edge.drill import Drill, DrillError
from edge.outbox import STORE_ERRORS, Outbox
from edge.payloads import Event
from edge.simulate.scenario import Scenario, ScenarioError

log = logs.get("drills")

DRILL_CLOSED_BY = "(drill ended)"  # who acknowledges the drill events still open at its end
DRILL_TICK_S = 0.05  # a drill feeds its machines in batches at most this often


@dataclass(frozen=True, slots=True)
class Started:
    answer: dict[str, Any]
    transitions: list[Transition]
    marker: str


class DrillRunner:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.drill: Drill | None = None
        self.count = 0
        self.events: list[Event] = []  # the last drill's events, for `siaga-edge drill`
        self.next_at: float | None = None
        self.zones = ZoneSet()  # the drill's own: its votes never mix with the real ones

    @property
    def machines(self) -> dict[str, SensorMachine]:
        return {} if self.drill is None else self.drill.machines

    def start(
        self,
        request: dict[str, Any],
        who: str,
        config: SiagaConfig,
        now: float,
        present: Sequence[Transition] = (),
    ) -> Started:
        """``present``: the real sensors' states now; the drill's zones count them for the
        members the scenario does not play, so a drill votes as a real event would."""
        if self.drill is not None:
            raise ControlError(f"a drill is already running ({self.drill.name})")
        try:
            scenario = Scenario.model_validate(request.get("scenario"))
            traces = {
                str(name): [(float(t), float(v)) for t, v in samples]
                for name, samples in dict(request.get("traces") or {}).items()
            }
            drill = Drill(scenario, traces, config, name=str(request.get("name") or "-"))
        except (ValidationError, ScenarioError, DrillError, KeyError, TypeError, ValueError) as exc:
            raise ControlError(f"drill refused: {exc}") from None
        self.zones = zones_for(config)
        self.zones.start(now)
        for tr in present:
            if tr.sensor not in drill.sensors:
                self.zones.observe(tr)
        self.drill = drill
        self.count += 1
        self.events = []
        self.next_at = now
        sensors = list(drill.sensors)
        self.outbox.audit(
            "drill_started",
            f"scenario={drill.name} sensors={', '.join(sensors)} "
            f"duration_s={drill.duration_s:g} by {who}",
        )
        log.warning("drill_started", scenario=drill.name, sensors=sensors, by=who)
        return Started(
            answer={
                "drill": self.count,
                "name": drill.name,
                "duration_s": drill.duration_s,
                "sensors": sensors,
            },
            transitions=self.zones.feed_many(drill.start(now)),
            marker=messages.drill_started(
                config.site.language.value, drill.name, drill.duration_s, sensors
            ),
        )

    def step(self, now: float) -> tuple[list[Transition], bool]:
        """Feed what is due; (transitions, whether the drill has run to its end)."""
        drill = self.drill
        if drill is None or self.next_at is None:
            return [], False
        if now < self.next_at:  # between batches, only a deadline (a debounce) may be due
            out: list[Transition] = []
            for machine in drill.machines.values():
                due = machine.deadline()
                if due is not None and due <= now:
                    out += self.zones.feed_many(machine.tick(now))
            return out + self.zones.tick(now), False
        out = self.zones.feed_many(drill.advance(now)) + self.zones.tick(now)
        if drill.finished(now):
            return out, True
        self.next_at = max(drill.next_due(), now + DRILL_TICK_S)
        return out, False

    def wake_at(self) -> float | None:
        if self.drill is None or self.next_at is None:
            return None
        deadlines = [d for m in self.drill.machines.values() if (d := m.deadline()) is not None]
        zone_due = self.zones.deadline()
        return min([self.next_at, *deadlines, *([zone_due] if zone_due is not None else [])])

    def touches(self, sensors: list[str]) -> bool:
        return self.drill is not None and bool(set(self.drill.sensors) & set(sensors))

    def end(self, how: str, detail: str, language: str) -> str | None:
        """End the drill (audited); the end marker's text, or None if none was running."""
        drill, self.drill, self.next_at = self.drill, None, None
        if drill is None:
            return None
        text = f"scenario={drill.name} how={how} samples={drill.samples_fed} {detail}".strip()
        self.outbox.audit("drill_ended", text)
        closed = 0
        try:
            closed = self.outbox.close_drill(DRILL_CLOSED_BY)
        except STORE_ERRORS as exc:  # they repeat until acked by hand
            log.error("drill_close_failed", error=str(exc))
        log.warning("drill_ended", scenario=drill.name, how=how, detail=detail, closed=closed)
        return messages.drill_ended(language, how, drill.name, closed)

    def status(self, now: float, since: int = 0) -> dict[str, Any]:
        drill = self.drill
        return {
            "drill": self.count,
            "running": drill is not None,
            "name": None if drill is None else drill.name,
            "elapsed_s": None if drill is None else round(drill.elapsed(now), 3),
            "duration_s": None if drill is None else drill.duration_s,
            "events": [e.model_dump(mode="json", by_alias=True) for e in self.events[since:]],
            "next": len(self.events),
        }
