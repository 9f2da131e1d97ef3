"""How a zone's detectors decide together: the rule protocol, its verdict, and ``any``.

A rule sees only its voting members' transitions (manual call points bypass every rule,
see :mod:`edge.detect.zones`) and answers, at a time, whether the zone is raised and why.
Rules take timestamps and never read the clock; ``deadline`` says when time alone can
change their answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from edge.detect.types import Reason, State, Transition

HAZARD_STATES = (State.WARNING, State.ALARM)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A raised zone: its state, why, since when, and which members made it so."""

    state: State
    reason: Reason
    members: tuple[str, ...]
    onset: float | None = None
    stage: str | None = None
    value: float | None = None
    threshold: float | None = None


class Rule(Protocol):
    def member(self, t: float, tr: Transition) -> None:
        """A voting member changed state at ``t`` (``tr.state`` is its new state)."""
        ...

    def advance(self, t: float) -> None:
        """Time has passed up to ``t`` (called at every deadline, in order)."""
        ...

    def verdict(self, t: float) -> Verdict | None:
        """The zone's raised state at ``t``, or None when the rule does not raise it."""
        ...

    def stuck(self) -> tuple[str, ...]:
        """Members that no longer vote because their trigger outlasted the maximum."""
        ...

    def deadline(self, now: float) -> float | None:
        """The next time after ``now`` at which time alone changes the answer."""
        ...

    def can_decide(self, healthy: Iterable[str]) -> bool:
        """Whether these working members could still raise the zone on their own."""
        ...


_RANK = {State.WARNING: 1, State.ALARM: 2}


class AnyRule:
    """``any``: the zone shows its worst member (today's behaviour of a lone sensor).

    Its reason, stage, value and threshold are that member's; of two members in the same
    state the first there decides (the zone does not flip between them).
    """

    def __init__(self) -> None:
        self._raised: dict[str, Transition] = {}

    def member(self, t: float, tr: Transition) -> None:
        if tr.state in HAZARD_STATES:
            self._raised[tr.sensor] = tr
        else:
            self._raised.pop(tr.sensor, None)

    def advance(self, t: float) -> None:
        return None

    def verdict(self, t: float) -> Verdict | None:
        if not self._raised:
            return None
        worst = max(self._raised.values(), key=lambda tr: (_RANK[tr.state], -tr.t))
        return Verdict(
            worst.state,
            worst.reason,
            (worst.sensor,),
            onset=worst.t if worst.onset is None else worst.onset,
            stage=worst.stage,
            value=worst.value,
            threshold=worst.threshold,
        )

    def stuck(self) -> tuple[str, ...]:
        return ()

    def deadline(self, now: float) -> float | None:
        return None

    def can_decide(self, healthy: Iterable[str]) -> bool:
        return any(True for _ in healthy)
