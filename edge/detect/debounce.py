"""Delay-on / delay-off debounce over ranked levels, on the caller's timestamps.

A level is confirmed only when the input has been *at least that bad* continuously for
``delay_on`` (going up) or *at most that bad* continuously for ``delay_off`` (going down).
Tracking each level separately means noise between warning and alarm cannot keep
restarting the warning timer, and a confirmed change can never be undone sooner than the
opposite delay.

Every time comparison is written ``since + delay <= t``, the same expression
:meth:`Debouncer.deadline` returns, so ticking at a deadline always completes it (``t -
since >= delay`` can disagree with ``since + delay`` in the last bit of a float).
"""

from __future__ import annotations

from edge.detect.types import Level

_Entries = dict[int, tuple[float, Level]]


class Debouncer:
    __slots__ = ("_down", "_up", "current", "delay_off", "delay_on", "onset")

    def __init__(self, delay_on: float, delay_off: float, initial: Level) -> None:
        self.delay_on = delay_on
        self.delay_off = delay_off
        self.current = initial
        self.onset: float | None = None  # when the confirmed level's condition began
        # order -> (since, level): the input has been >= order (up) / <= order (down) since.
        self._up: _Entries = {}
        self._down: _Entries = {}

    def feed(self, t: float, level: Level) -> Level | None:
        """Take the input's level at ``t``; return the newly confirmed level, if any."""
        order, cur = level.order, self.current.order
        # "At least this bad since" survives a drop to a lesser level that is still at least
        # as bad as the current one, and symmetrically going down: inherit the earliest time.
        if self._up:
            self._up, since_up = _prune_above(self._up, order)
        else:
            since_up = t
        if self._down:
            self._down, since_down = _prune_below(self._down, order)
        else:
            since_down = t
        if order > cur and order not in self._up:
            self._up[order] = (min(t, since_up), level)
        elif order < cur and order not in self._down:
            self._down[order] = (min(t, since_down), level)
        return self.poll(t) if self._up or self._down else None

    def poll(self, t: float) -> Level | None:
        """Confirm whatever has now held long enough; time alone can complete a delay."""
        on, off = self.delay_on, self.delay_off
        ripe_up = [o for o, (since, _) in self._up.items() if since + on <= t]
        if ripe_up:
            return self._confirm(*self._up[max(ripe_up)])
        ripe_down = [o for o, (since, _) in self._down.items() if since + off <= t]
        if ripe_down:
            return self._confirm(*self._down[min(ripe_down)])
        return None

    @property
    def pending(self) -> bool:
        """True while the input differs from the confirmed level."""
        return bool(self._up or self._down)

    def deadline(self) -> float | None:
        nxt = self.next_change()
        return None if nxt is None else nxt[0]

    def next_change(self) -> tuple[float, Level] | None:
        """When, and to what, the confirmed level changes if the input stays as it is."""
        best: tuple[float, Level] | None = None
        for since, level in self._up.values():
            if best is None or since + self.delay_on < best[0]:
                best = (since + self.delay_on, level)
        for since, level in self._down.values():
            if best is None or since + self.delay_off < best[0]:
                best = (since + self.delay_off, level)
        return best

    def interrupt(self) -> None:
        """Forget every running delay; the confirmed level stays (continuity was broken)."""
        self._up = {}
        self._down = {}

    def _confirm(self, since: float, level: Level) -> Level:
        self.current = level
        self.onset = since
        self._up = {o: v for o, v in self._up.items() if o > level.order}
        self._down = {o: v for o, v in self._down.items() if o < level.order}
        return level


def _prune_above(entries: _Entries, order: int) -> tuple[_Entries, float]:
    """Drop the "at least this bad" entries the input no longer meets; earliest dropped."""
    kept: _Entries = {}
    earliest = float("inf")
    for o, entry in entries.items():
        if o <= order:
            kept[o] = entry
        elif entry[0] < earliest:
            earliest = entry[0]
    return kept, earliest


def _prune_below(entries: _Entries, order: int) -> tuple[_Entries, float]:
    """Drop the "at most this bad" entries the input no longer meets; earliest dropped."""
    kept: _Entries = {}
    earliest = float("inf")
    for o, entry in entries.items():
        if o >= order:
            kept[o] = entry
        elif entry[0] < earliest:
            earliest = entry[0]
    return kept, earliest
