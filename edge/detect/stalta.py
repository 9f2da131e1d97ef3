"""Seismic trigger: recursive STA/LTA (Withers et al. 1998), streaming.

Exactly the recursion of ObsPy's ``recursive_sta_lta``: short- and long-term averages of
the squared signal as exponential filters with ``1/nsta`` and ``1/nlta`` weights, starting
at the second sample, the first ``nlta`` ratios forced to zero while the long window
fills. The trigger turns on when the ratio reaches ``on`` and stays on while it is at or
above ``off`` (as ObsPy's ``trigger_onset``). A ratio, not an amplitude: it adapts to the
site's background noise, so a truck passing every day does not need a hand-tuned
threshold.
"""

from __future__ import annotations


class StaLtaTrigger:
    __slots__ = ("clta", "count", "csta", "lta", "nlta", "off", "on", "ratio", "sta", "triggered")

    def __init__(self, nsta: int, nlta: int, on: float, off: float) -> None:
        if not 0 < nsta < nlta:
            raise ValueError("need 0 < nsta < nlta")
        self.csta = 1.0 / nsta
        self.clta = 1.0 / nlta
        self.nlta = nlta
        self.on = on
        self.off = off
        self.sta = 0.0
        self.lta = 1e-99  # as ObsPy: no division by zero on a dead-flat start
        self.count = 0
        self.ratio = 0.0
        self.triggered = False

    @property
    def ready(self) -> bool:
        """False while the long window fills: no trigger is possible during warm-up."""
        return self.count >= self.nlta

    def step(self, x: float) -> bool:
        """Feed one (filtered) sample; return whether the trigger is on."""
        count = self.count
        self.count = count + 1
        if count == 0:
            return False  # ObsPy's recursion starts at the second sample
        sq = x * x
        csta, clta = self.csta, self.clta
        sta = self.sta = csta * sq + (1.0 - csta) * self.sta
        lta = self.lta = clta * sq + (1.0 - clta) * self.lta
        if count < self.nlta:
            return False
        # A long dead-flat input decays lta to exactly 0.0 (C would give NaN; Python raises).
        ratio = self.ratio = sta / lta if lta > 0.0 else 0.0
        if self.triggered:
            self.triggered = ratio >= self.off
        else:
            self.triggered = ratio >= self.on
        return self.triggered
