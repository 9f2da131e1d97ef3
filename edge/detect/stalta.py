"""Seismic trigger: recursive STA/LTA (Withers et al. 1998), streaming.

Exactly the recursion of ObsPy's ``recursive_sta_lta``: short- and long-term averages of
the squared signal as exponential filters with ``1/nsta`` and ``1/nlta`` weights, the
first ``nlta`` ratios forced to zero while the long window fills. The trigger turns on
when the ratio rises above ``on`` and stays on while it is above ``off`` (as ObsPy's
``trigger_onset``). A ratio, not an amplitude: it adapts to the site's background noise,
so a truck passing every day does not need a hand-tuned threshold.
"""

from __future__ import annotations


class StaLtaTrigger:
    def __init__(self, nsta: int, nlta: int, on: float, off: float) -> None:
        if not 0 < nsta < nlta:
            raise ValueError("need 0 < nsta < nlta")
        self.csta = 1.0 / nsta
        self.clta = 1.0 / nlta
        self.nlta = nlta
        self.on = on
        self.off = off
        self.sta = 0.0
        self.lta = 1e-99
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
        self.sta = self.csta * sq + (1.0 - self.csta) * self.sta
        self.lta = self.clta * sq + (1.0 - self.clta) * self.lta
        if count < self.nlta:
            self.ratio = 0.0
            return False
        self.ratio = self.sta / self.lta
        if self.triggered:
            self.triggered = self.ratio > self.off
        else:
            self.triggered = self.ratio > self.on
        return self.triggered
