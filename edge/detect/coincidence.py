"""Weighted k-of-n coincidence over members' trigger states: ObsPy's ``coincidence_trigger``,
streaming.

ObsPy (``obspy.signal.trigger.coincidence_trigger``) takes every station's triggers as
intervals ``[on, off]`` (``off`` cut to ``on + max_trigger_length``), sorts them by
``on`` and grows a chain from each: a later trigger joins while its ``on`` is at most the
chain's latest ``off`` plus ``trigger_off_extension``, a station counts once, and the
chain is an event when the weights of its stations reach ``thr_coincidence_sum``; the
event's time is the chain's first ``on``. Here the same chain is grown as triggers
arrive, which is what a device can know:

- a member's vote starts when it enters the triggered state and ends when it leaves it,
  or ``max_length_s`` after it started, whichever is first; a member cut at the maximum
  is *stuck*: it stops voting until it leaves the triggered state, and :meth:`stuck`
  names it so the zone reports a fault;
- every trigger starts a chain, and joins every open chain its member is not in yet; a
  chain stays open while a trigger that joined it runs, or until ``extension_s`` after
  the last of them ended (a member's re-trigger does not join a chain it is in, so one
  chattering member cannot keep a chain open and let votes pile up over minutes);
- the zone is raised from the moment a chain's weights reach ``threshold`` until every
  chain that reached it has closed; the verdict's ``onset`` is the first such chain's
  first trigger, ObsPy's event time.

Where ObsPy and this differ: ObsPy may report one episode twice, when a chain grown from
a later trigger ends later than the first (its "subset" rule compares end times); a zone
is one state and raises once. ObsPy may start a new trigger inside one it cut at the
maximum length, when the ratio dips below ``on`` and rises again without falling below
``off``; a member's states never show that, so here a stuck member votes again only
after it has left the triggered state. And a member's release comes with the first
sample below ``off``, one sample after ObsPy's ``off`` (the last sample at or above it),
so a trigger starting within one sample period of a chain's end may join it here and not
there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from edge.detect.rules import Verdict
from edge.detect.types import Reason, State, Transition

_INF = float("inf")


@dataclass(slots=True)
class Chain:
    """The chain grown from one trigger: who joined (in order, with weight), whose joined
    trigger still runs, and the latest end of those that ended."""

    first_onset: float
    weights: dict[str, float] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)
    off: float = -_INF

    @property
    def total(self) -> float:
        return sum(self.weights.values())

    def join(self, member: str, weight: float) -> None:
        """A trigger starting while the chain is open; a member's re-trigger does not join
        a chain it is already in (ObsPy: "skip retriggering of already present station")."""
        if member not in self.weights:
            self.weights[member] = weight
            self.running.add(member)

    def end(self, member: str, t: float) -> None:
        if member in self.running:
            self.running.discard(member)
            self.off = max(self.off, t)

    def open_at(self, t: float, extension_s: float) -> bool:
        return bool(self.running) or t < self.off + extension_s

    def closes_at(self, extension_s: float) -> float | None:
        return None if self.running else self.off + extension_s


class CoincidenceVote:
    """One level's coincidence: which members are triggered, the open chains, who is stuck.

    As ObsPy, every trigger starts a chain of its own and joins every open chain its
    member is not in yet; the zone is raised while any chain whose weights reached the
    threshold is open, and its onset is the first such chain's first trigger (ObsPy's
    event time: the chains are in onset order).
    """

    def __init__(
        self,
        weights: Mapping[str, float],
        threshold: float,
        *,
        extension_s: float = 0.0,
        max_length_s: float = _INF,
    ) -> None:
        self.weights = dict(weights)
        self.threshold = threshold
        self.extension_s = extension_s
        self.max_length_s = max_length_s
        self.chains: list[Chain] = []
        self._on: dict[str, float] = {}
        self._cut: set[str] = set()

    @property
    def raised(self) -> Chain | None:
        """The first open chain whose weights reach the threshold, if any."""
        for chain in self.chains:
            if chain.total >= self.threshold:
                return chain
        return None

    def on(self, t: float, member: str) -> None:
        if member in self._on:
            return
        self._close(t)
        self._on[member] = t
        weight = self.weights[member]
        for chain in self.chains:
            chain.join(member, weight)
        chain = Chain(t)
        chain.join(member, weight)
        self.chains.append(chain)

    def off(self, t: float, member: str) -> None:
        since = self._on.pop(member, None)
        if since is None:
            return
        if member in self._cut:
            self._cut.discard(member)  # its vote ended at the maximum length already
        else:
            for chain in self.chains:
                chain.end(member, t)
        self._close(t)

    def advance(self, t: float) -> None:
        for member, since in self._on.items():
            end = since + self.max_length_s
            if member not in self._cut and end <= t:
                self._cut.add(member)
                for chain in self.chains:
                    chain.end(member, end)
        self._close(t)

    def stuck(self) -> set[str]:
        return set(self._cut)

    def deadline(self, now: float) -> float | None:
        times = [since + self.max_length_s for m, since in self._on.items() if m not in self._cut]
        times += [
            c for chain in self.chains if (c := chain.closes_at(self.extension_s)) is not None
        ]
        later = [x for x in times if x > now]
        return min(later) if later else None

    def _close(self, t: float) -> None:
        self.chains = [c for c in self.chains if c.open_at(t, self.extension_s)]


class CoincidenceRule:
    """``coincidence``: the zone warns when the members' triggers coincide, and alarms when
    their alarms do.

    Each level is its own vote: a member in ``warning`` or ``alarm`` is triggered, a
    member in ``alarm`` also votes for the alarm. So one member's alarm (a door slammed
    next to one accelerometer reaches 0.08 g there and nowhere else) raises nothing, and
    the zone alarms only when ``threshold`` worth of members agree the shaking is strong.
    The verdict's value is the chain's sum of weights, its threshold the threshold.
    """

    def __init__(
        self,
        weights: Mapping[str, float],
        threshold: float,
        *,
        extension_s: float = 0.0,
        max_length_s: float = _INF,
    ) -> None:
        self.weights = dict(weights)
        self.threshold = threshold
        self.levels = {
            state: CoincidenceVote(
                weights, threshold, extension_s=extension_s, max_length_s=max_length_s
            )
            for state in (State.WARNING, State.ALARM)
        }

    def member(self, t: float, tr: Transition) -> None:
        self.advance(t)
        triggered = {
            State.WARNING: tr.state in (State.WARNING, State.ALARM),
            State.ALARM: tr.state is State.ALARM,
        }
        for state, vote in self.levels.items():
            if triggered[state]:
                vote.on(t, tr.sensor)
            else:
                vote.off(t, tr.sensor)

    def advance(self, t: float) -> None:
        for vote in self.levels.values():
            vote.advance(t)

    def verdict(self, t: float) -> Verdict | None:
        for state in (State.ALARM, State.WARNING):
            chain = self.levels[state].raised
            if chain is not None:
                return Verdict(
                    state,
                    Reason.COINCIDENCE,
                    tuple(chain.weights),
                    onset=chain.first_onset,
                    value=chain.total,
                    threshold=self.threshold,
                )
        return None

    def stuck(self) -> tuple[str, ...]:
        cut = set().union(*(vote.stuck() for vote in self.levels.values()))
        return tuple(m for m in self.weights if m in cut)

    def deadline(self, now: float) -> float | None:
        times = [d for v in self.levels.values() if (d := v.deadline(now)) is not None]
        return min(times) if times else None

    def can_decide(self, healthy: Iterable[str]) -> bool:
        return sum(self.weights[m] for m in healthy) >= self.threshold
