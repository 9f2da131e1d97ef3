"""Fire-panel latching: an alarm stays until it is acknowledged *and* its condition cleared.

A smouldering fire that stops on its own must not turn silently back to "normal" before
anyone has looked. A :class:`Latch` sits on one sensor's (or zone's) stream of
transitions: once it has passed an ``alarm``, it holds every change to a milder state
until :meth:`Latch.acknowledge` has been called for that alarm; then it shows whatever
the underlying state is by then (at the acknowledgement, if the condition had already
cleared; at the clearing, if it had not). Changes within the alarm (a stage) pass.

While latched nothing milder is shown, not even a fault: the alarm already demands that
someone goes there. What was held is never lost: the release carries the underlying
state, reason and value of that moment.
"""

from __future__ import annotations

from dataclasses import replace

from edge.detect.types import State, Transition


class Latch:
    def __init__(self, ident: str) -> None:
        self.ident = ident
        self.latched = False
        self.acknowledged = False
        self._shown: tuple[State, str | None] | None = None
        self._raw: Transition | None = None

    def feed(self, tr: Transition) -> list[Transition]:
        """The underlying transition; returns what is to be shown (nothing while held)."""
        self._raw = tr
        if tr.state is State.ALARM:
            if not self.latched:
                self.latched, self.acknowledged = True, False
            return self._show(tr)
        if not self.latched:
            return self._show(tr)
        if not self.acknowledged:
            return []
        self.latched = False
        return self._show(tr)

    def acknowledge(self, t: float) -> list[Transition]:
        """The alarm was acknowledged at ``t``: release now if the condition has cleared."""
        raw = self._raw
        if not self.latched or raw is None:
            return []
        if raw.state is State.ALARM:
            self.acknowledged = True
            return []
        self.latched = False
        return self._show(replace(raw, t=max(t, raw.t)))

    def _show(self, tr: Transition) -> list[Transition]:
        shown = (tr.state, tr.stage)
        if shown == self._shown:
            return []
        previous = tr.previous if self._shown is None else self._shown[0]
        self._shown = shown
        return [replace(tr, previous=previous)]
