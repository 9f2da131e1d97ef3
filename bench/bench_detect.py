"""Detection throughput: samples per second through each detector, pure Python.

    PYTHONPATH=. python -m bench.bench_detect [--samples 200000] [--repeats 5] [--profile]

Each detector runs the example config's sensor through :class:`SensorMachine` exactly as
the daemon does (supervision, classification, debounce, deadlines), on a deterministic
signal that crosses its thresholds now and then:

- threshold + debounce: ``air-selokan`` without its rate rule, a 10-minute tide between
  0.3 and 1.5 m with 1 cm noise at 2 Hz (warning, alarm, clear every cycle);
- rate of rise: ``air-selokan`` as configured (least-squares over 120 s = 240 points);
- STA/LTA: ``getar-fondasi`` (1 Hz high-pass, 0.2/2.0 s, on 4, off 1.5) on the bundled
  quake record (edge/data/quake.csv) played end to end, at 100 Hz;
- pulse density: ``getar-pagar`` (2 s window, 5 / 20) on a vibration switch pulsing at
  0.5/s with a 3 s burst at 20/s every minute.

Paths: ``sample`` (one call per reading, as the daemon's core thread does), its batch
form ``sample_many`` (a replay), and ``sample`` with the short path switched off
(``fast_path = False``: every reading through tick, supervision, debounce and settle, as
before the short path existed). For STA/LTA the filter and trigger alone are timed as
well, and ObsPy's C ``recursive_sta_lta`` on the same filtered data is the reference
the ratio column compares with. Medians over the repeats;
a fresh machine each repeat. Writes bench/results/detect.json.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import machine_info, table
from edge.config import SensorConfig, load_config
from edge.detect.build import classifier_for, machine_for
from edge.detect.classify import Seismic
from edge.detect.highpass import HighPass
from edge.detect.stalta import StaLtaTrigger
from edge.trace import load_trace

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "edge" / "data" / "config.example.toml"
QUAKE = ROOT / "edge" / "data" / "quake.csv"
RESULT = ROOT / "bench" / "results" / "detect.json"
TARGET_STA_LTA = 200_000.0

Samples = list[tuple[float, float]]


def tide(n: int, hz: float, seed: int) -> Samples:
    rng = random.Random(seed)
    return [
        (i / hz, 0.9 + 0.6 * math.sin(2 * math.pi * i / hz / 600.0) + rng.gauss(0, 0.01))
        for i in range(n)
    ]


def quake(n: int) -> Samples:
    record = [v for _, v in load_trace(QUAKE)]
    return [(i / 100.0, record[i % len(record)]) for i in range(n)]


def pulses(n: int, seed: int) -> Samples:
    """Rising edges only, as the adapter sends them: value 1.0 at each pulse."""
    rng = random.Random(seed)
    t, out = 0.0, []
    while len(out) < n:
        burst = (t % 60.0) < 3.0
        t += rng.expovariate(20.0 if burst else 0.5)
        out.append((t, 1.0))
    return out


def without_rate(cfg: SensorConfig) -> SensorConfig:
    return cfg.model_copy(update={"rate_alarm_per_min": None})


def run_sample(cfg: SensorConfig, samples: Samples, *, fast_path: bool = True) -> int:
    machine = machine_for(cfg)
    machine.fast_path = fast_path
    events = len(machine.start(0.0))
    sample = machine.sample
    for t, v in samples:
        events += len(sample(t, v))
    return events


def run_many(cfg: SensorConfig, samples: Samples) -> int:
    machine = machine_for(cfg)
    return len(machine.start(0.0)) + len(machine.sample_many(samples))


def run_core(cfg: SensorConfig, samples: Samples) -> int:
    """High-pass and STA/LTA only: what the recursion itself costs in Python."""
    assert cfg.sta_lta is not None
    s = cfg.sta_lta
    highpass = HighPass(s.highpass_hz, cfg.sample_hz)
    trigger = StaLtaTrigger(
        round(s.sta_s * cfg.sample_hz), round(s.lta_s * cfg.sample_hz), s.on, s.off
    )
    hp, step = highpass.step, trigger.step
    return sum(1 for _, v in samples if step(hp(v)))


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def obspy_reference(cfg: SensorConfig, samples: Samples, repeats: int) -> list[float] | None:
    try:
        import numpy as np
        from obspy.signal.trigger import recursive_sta_lta
    except ImportError:
        return None
    assert cfg.sta_lta is not None
    s = cfg.sta_lta
    filtered = np.array(HighPass(s.highpass_hz, cfg.sample_hz).run([v for _, v in samples]))
    nsta, nlta = round(s.sta_s * cfg.sample_hz), round(s.lta_s * cfg.sample_hz)
    return timed(lambda: recursive_sta_lta(filtered, nsta, nlta), repeats)


def profile(cfg: SensorConfig, samples: Samples, label: str) -> str:
    """cProfile of the full path and of the short path, ten costliest functions each."""
    out = []
    for fast_path in (False, True):
        prof = cProfile.Profile()
        prof.enable()
        run_sample(cfg, samples, fast_path=fast_path)
        prof.disable()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(10)
        name = "short path on" if fast_path else "full path only"
        out.append(f"--- cProfile, {label}, {name} ---\n" + text.getvalue())
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile the STA/LTA path")
    args = parser.parse_args(argv)
    n, repeats = args.samples, args.repeats

    config = load_config(EXAMPLE)
    gauge, seismo, switch = (
        config.sensor("air-selokan"),
        config.sensor("getar-fondasi"),
        config.sensor("getar-pagar"),
    )
    assert isinstance(classifier_for(seismo), Seismic)
    workloads: list[tuple[str, SensorConfig, Samples]] = [
        ("threshold + debounce", without_rate(gauge), tide(n, 2.0, 1)),
        ("rate of rise", gauge, tide(n, 2.0, 2)),
        ("STA/LTA", seismo, quake(n)),
        ("pulse density", switch, pulses(n, 3)),
    ]
    rows: list[list[Any]] = []
    results: list[dict[str, Any]] = []

    def record(detector: str, path: str, seconds: list[float], events: int | None) -> float:
        rates = [n / s for s in seconds]
        median = statistics.median(rates)
        results.append(
            {
                "detector": detector,
                "path": path,
                "samples": n,
                "repeats": repeats,
                "samples_per_s_median": round(median),
                "samples_per_s_min": round(min(rates)),
                "samples_per_s_max": round(max(rates)),
                "us_per_sample_median": round(1e6 / median, 3),
                "events": events,
            }
        )
        return median

    reference = obspy_reference(seismo, workloads[2][2], repeats)
    obspy_rate = None if reference is None else n / statistics.median(reference)
    for detector, cfg, samples in workloads:
        events = run_many(cfg, samples)
        assert events == run_sample(cfg, samples), f"{detector}: batch and per-sample differ"
        paths: list[tuple[str, Callable[[], object]]] = [
            ("sample", lambda cfg=cfg, samples=samples: run_sample(cfg, samples)),
            ("sample_many", lambda cfg=cfg, samples=samples: run_many(cfg, samples)),
            (
                "sample, full path only",
                lambda cfg=cfg, samples=samples: run_sample(cfg, samples, fast_path=False),
            ),
        ]
        if cfg is seismo:
            paths.append(("filter + trigger only", lambda: run_core(seismo, workloads[2][2])))
        for path, fn in paths:
            median = record(detector, path, timed(fn, repeats), events)
            vs_obspy = f"1/{obspy_rate / median:,.0f}" if cfg is seismo and obspy_rate else "-"
            rows.append([detector, path, f"{median:,.0f}", f"{1e6 / median:.2f}", vs_obspy])
    if obspy_rate is not None:
        assert reference is not None
        record("STA/LTA", "ObsPy recursive_sta_lta (C, numpy array)", reference, None)
        rows.append(
            ["STA/LTA", "ObsPy C reference", f"{obspy_rate:,.0f}", f"{1e6 / obspy_rate:.4f}", "1"]
        )

    headers = ["detector", "path", "samples/s (median)", "µs/sample", "speed vs ObsPy C"]
    printed = table(headers, rows)
    print(f"{n:,} samples per run, median of {repeats} runs, Python {sys.version.split()[0]}")
    print(printed)
    targets: dict[str, bool] = {}
    for path in ("sample", "sample_many"):
        rate = next(
            r["samples_per_s_median"]
            for r in results
            if r["detector"] == "STA/LTA" and r["path"] == path
        )
        targets[f"STA/LTA {path} >= {TARGET_STA_LTA:,.0f} samples/s"] = rate >= TARGET_STA_LTA
        verdict = "meets" if rate >= TARGET_STA_LTA else "is BELOW"
        print(f"STA/LTA {path}: {rate:,} samples/s {verdict} the {TARGET_STA_LTA:,.0f} target")
    profiles = profile(seismo, workloads[2][2][: n // 4], "STA/LTA") if args.profile else None
    if profiles:
        print(profiles)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": "bench_detect",
        "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "PYTHONPATH=. python -m bench.bench_detect",
        "machine": machine_info(),
        "target_sta_lta_samples_per_s": TARGET_STA_LTA,
        "targets": targets,
        "results": results,
        "obspy_reference_samples_per_s": None if obspy_rate is None else round(obspy_rate),
        "table": printed,
        "profile": profiles,
    }
    RESULT.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"wrote {RESULT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
