"""``two_detector``: a fire panel's dependency on more than one alarm signal (EN 54-2's
type B), on timestamps.

The first detector in alarm is a pre-alarm: the zone is ``warning`` with reason
``confirming`` and the operator sees which detector and that it waits for confirmation.
It becomes an alarm (reason ``confirmed``) when

- a second detector is in alarm while the first still counts: a detector's alarm counts
  from the moment it enters alarm for ``confirm_s``, or for as long as it stays in alarm
  if that is longer (smoke that set off the first detector and drifted on to the second
  is one fire, even when the first has cleared meanwhile); or
- with ``confirm_by_time`` (the default), one detector has stayed in alarm for
  ``confirm_s`` continuously: a fire seen by only one detector is still a fire, only
  ``confirm_s`` later.

A confirmed alarm holds while any detector is in alarm; when all have cleared the zone
starts afresh (the detectors of the last fire do not pre-count for the next). A
pre-alarm whose detector clears ends when its ``confirm_s`` has run out.

Only a member's ``alarm`` counts as "a detector in alarm": an analog sensor's ``warning``
level is its own event, not a vote.
"""

from __future__ import annotations

from collections.abc import Iterable

from edge.detect.rules import Verdict
from edge.detect.types import Reason, State, Transition


class TwoDetector:
    def __init__(self, detectors: Iterable[str], confirm_s: float, *, by_time: bool) -> None:
        self.detectors = tuple(detectors)
        self.confirm_s = confirm_s
        self.by_time = by_time
        self._alarm: dict[str, float] = {}
        """Detectors in alarm now, since when."""
        self._counts_until: dict[str, float] = {}
        """Every detector that entered alarm in this episode: its alarm counts until then."""
        self._entered: dict[str, float] = {}
        self._confirmed: tuple[str, ...] = ()
        self._confirmed_onset = 0.0

    def member(self, t: float, tr: Transition) -> None:
        m = tr.sensor
        if tr.state is State.ALARM:
            if m not in self._alarm:
                self._alarm[m] = t
                self._entered.setdefault(m, t)
                self._counts_until[m] = max(self._counts_until.get(m, t), t + self.confirm_s)
        else:
            self._alarm.pop(m, None)
            if not self._alarm and self._confirmed:
                self._reset()  # the confirmed fire is over
        self.advance(t)

    def advance(self, t: float) -> None:
        if self._confirmed:
            return  # a confirmed fire holds while any detector is in alarm
        for m in [m for m, until in self._counts_until.items() if until <= t]:
            if m not in self._alarm:
                del self._counts_until[m]
                del self._entered[m]
        self._confirm(t)

    def verdict(self, t: float) -> Verdict | None:
        if self._confirmed:
            return Verdict(
                State.ALARM,
                Reason.CONFIRMED,
                self._confirmed,
                onset=self._confirmed_onset,
            )
        counted = self._counted()
        if not counted:
            return None
        first = counted[0]
        return Verdict(State.WARNING, Reason.CONFIRMING, (first,), onset=self._entered[first])

    def stuck(self) -> tuple[str, ...]:
        return ()

    def deadline(self, now: float) -> float | None:
        times = [u for m, u in self._counts_until.items() if m not in self._alarm]
        if self.by_time and not self._confirmed:
            times += [since + self.confirm_s for since in self._alarm.values()]
        later = [x for x in times if x > now]
        return min(later) if later else None

    def can_decide(self, healthy: Iterable[str]) -> bool:
        return len(list(healthy)) >= (1 if self.by_time else 2)

    # ------------------------------------------------------------------ internals

    def _counted(self) -> list[str]:
        return sorted(self._counts_until, key=lambda m: self._entered[m])

    def _confirm(self, t: float) -> None:
        if self._confirmed or not self._alarm:
            return
        counted = self._counted()
        if len(counted) >= 2:
            self._confirmed = tuple(counted)
        elif self.by_time:
            held = [m for m, since in self._alarm.items() if since + self.confirm_s <= t]
            if held:
                self._confirmed = (held[0],)
        if self._confirmed:
            self._confirmed_onset = min(self._entered[m] for m in self._confirmed)

    def _reset(self) -> None:
        self._confirmed = ()
        self._counts_until.clear()
        self._entered.clear()
