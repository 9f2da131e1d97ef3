"""Rebuild edge/data/quake.csv, the demo's earthquake, from ObsPy's bundled real record.

    PYTHONPATH=. python bench/make_quake_trace.py [OUT.csv]

``obspy.read()`` with no arguments returns ObsPy's example stream (no download): station
RJOB of the Bavarian network (BW), 2009-08-24 00:20:03 UTC, 30 s at 100 Hz, three
components. The vertical (EHZ) is taken, its mean removed, and it is scaled so its peak
is PEAK_G. Those are velocity counts scaled, not a true acceleration: the shape of a real
quake (quiet, P onset, strong shaking, coda) at an amplitude the demo config's
getar-fondasi sensor (STA/LTA on the 1 Hz high-passed signal, alarm at 0.05 g) reacts to.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import obspy

from edge.trace import write_trace

PEAK_G = 0.15
DECIMALS = 4
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "edge" / "data" / "quake.csv"


def quake_samples() -> tuple[list[tuple[float, float]], str]:
    trace = obspy.read().select(component="Z")[0]
    data = trace.data.astype(np.float64)
    data -= data.mean()
    data *= PEAK_G / float(np.abs(data).max())
    dt = float(trace.stats.delta)
    samples = [(i * dt, round(float(x), DECIMALS)) for i, x in enumerate(data)]
    return samples, f"{trace.id} {trace.stats.starttime} {trace.stats.sampling_rate:g} Hz"


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    samples, source = quake_samples()
    comments = [
        "A real earthquake record, for the demo scenario's getar-fondasi sensor (unit: g).",
        f"Source: ObsPy's bundled example stream, obspy.read() with no arguments: {source},",
        f"30 s, vertical component. Mean removed, scaled so the peak |value| is {PEAK_G} g.",
        "NOTE: these are the seismometer's velocity counts scaled, not a true acceleration.",
        "DC offset 0 g: the sensor's calibration maps ADC fraction 0.5 to 0 g.",
        "Made by bench/make_quake_trace.py; rerun it rather than editing this file.",
    ]
    write_trace(out, samples, comments=comments, decimals=DECIMALS)
    peak = max(abs(v) for _, v in samples)
    print(f"wrote {out}: {len(samples)} samples, peak {peak:.4f} g")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
