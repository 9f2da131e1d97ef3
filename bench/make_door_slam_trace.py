"""Rebuild edge/data/door-slam.csv: one door slammed next to one accelerometer.

    PYTHONPATH=. python bench/make_door_slam_trace.py [OUT.csv]

30 s at 100 Hz of quiet background (Gaussian, 0.5 mg, seeded) with a single knock at
KNOCK_S: a 20 Hz oscillation decaying over 0.15 s with a peak of PEAK_G. That is issue
16's door slam: on the demo's getar-atap alone its STA/LTA ratio jumps far above `on`
and its peak above the 0.05 g alarm, while the other accelerometer of the zone feels
nothing; a coincidence zone must stay normal.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

from edge.trace import write_trace

HZ = 100
DURATION_S = 30.0
KNOCK_S = 12.0
KNOCK_LENGTH_S = 0.15
KNOCK_HZ = 20.0
PEAK_G = 0.08
NOISE_G = 0.0005
DECIMALS = 4
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "edge" / "data" / "door-slam.csv"


def door_slam_samples() -> list[tuple[float, float]]:
    rng = random.Random(16)
    samples = []
    for n in range(round(DURATION_S * HZ)):
        t = n / HZ
        x = rng.gauss(0.0, NOISE_G)
        since = t - KNOCK_S
        if 0.0 <= since < KNOCK_LENGTH_S:
            decay = math.exp(-since / (KNOCK_LENGTH_S / 4))
            x += PEAK_G * decay * math.sin(2 * math.pi * KNOCK_HZ * since + math.pi / 2)
        samples.append((t, round(x, DECIMALS)))
    return samples


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    samples = door_slam_samples()
    comments = [
        "A door slammed next to one accelerometer (unit: g): synthetic, for zone tests.",
        f"{DURATION_S:g} s at {HZ} Hz: Gaussian background of {NOISE_G} g, and at "
        f"{KNOCK_S:g} s one {KNOCK_HZ:g} Hz knock",
        f"decaying over {KNOCK_LENGTH_S} s, peak {PEAK_G} g.",
        "Made by bench/make_door_slam_trace.py; rerun it rather than editing this file.",
    ]
    write_trace(out, samples, comments=comments, decimals=DECIMALS)
    peak = max(abs(v) for _, v in samples)
    print(f"wrote {out}: {len(samples)} samples, peak {peak:.4f} g")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
