"""Run every benchmark (``make bench``), then refresh the tables in docs/benchmarks.md.

Each benchmark runs as its own process with its own mosquitto on a free loopback port,
prints its tables and writes ``bench/results/<name>.json``. Sample counts are chosen so
the whole run takes under 10 minutes on 2 cores (about 6.5 here); ``--quick`` is a smoke
run of about two minutes that overwrites bench/results/ with small-count numbers (and
leaves docs/benchmarks.md alone): run the full suite before committing results.

    python bench/run_all.py [--quick] [--only latency drain ...]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- BEGIN GENERATED: bench/run_all.py -->", "<!-- END GENERATED -->"
TIMEOUT_S = 420  # one benchmark; the whole run is bounded by the sum

# name -> (module, full args, quick args, result file)
SUITE: dict[str, tuple[str, list[str], list[str], str]] = {
    "detect": (
        "bench.bench_detect",
        ["--samples", "100000", "--repeats", "3"],
        ["--samples", "20000", "--repeats", "1"],
        "detect.json",
    ),
    "throughput": (
        "bench.bench_throughput",
        ["--samples", "200000", "--repeats", "3"],
        ["--samples", "30000", "--repeats", "1"],
        "bench_throughput.json",
    ),
    "latency": (
        "bench.bench_latency",
        ["--cycles", "1000", "--rounds", "10"],
        ["--cycles", "100", "--rounds", "2", "--delay-cycles", "5", "--analog-cycles", "20"],
        "bench_latency.json",
    ),
    "drain": (
        "bench.bench_drain",
        ["--sizes", "10000", "70000"],
        ["--sizes", "3000", "--sweep-size", "3000", "--sweep", "20:2000,50:10000"],
        "bench_drain.json",
    ),
    "footprint": (
        "bench.bench_footprint",
        ["--seconds", "60", "--ready-runs", "5"],
        ["--seconds", "10", "--ready-runs", "2"],
        "bench_footprint.json",
    ),
    "station": (
        "bench.bench_station",
        ["--events", "20000", "--alarms", "200", "--devices", "100", "--seconds", "30"],
        ["--events", "3000", "--alarms", "30", "--devices", "20", "--seconds", "5"],
        "bench_station.json",
    ),
    "fleet": (
        "bench.bench_fleet",
        ["--devices", "10", "25", "50", "--events", "1000"],
        ["--devices", "3", "6", "--events", "200"],
        "bench_fleet.json",
    ),
}


def run(name: str, quick: bool) -> dict[str, Any]:
    module, full, fast, _ = SUITE[name]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if "PYTHONPATH" in env else "")
    env["PYTHONWARNINGS"] = "ignore"
    cmd = [sys.executable, "-m", module, *(fast if quick else full)]
    print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
    t0 = time.monotonic()
    # Its own process group: on a timeout the benchmark, its daemons and its mosquitto go.
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    try:
        code = proc.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        code = -1
        print(f"{name}: timed out after {TIMEOUT_S} s", flush=True)
    return {"name": name, "exit_code": code, "seconds": round(time.monotonic() - t0, 1)}


def _load(file: str) -> dict[str, Any] | None:
    path = RESULTS / file
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def generated_section() -> str:
    """The machine, the command and every result table, from bench/results/*.json."""
    parts: list[str] = []
    machine: dict[str, Any] | None = None
    for name, (module, full, _, file) in SUITE.items():
        data = _load(file)
        if data is None:
            parts.append(f"### {name}\n\n(no result yet: run `make bench`)\n")
            continue
        machine = machine or data.get("machine")
        tables = data.get("tables") or {"table": data.get("table", "")}
        when = data.get("when_utc", "?")
        body = "\n\n".join(str(t) for t in tables.values() if t)
        targets = data.get("targets") or {}
        met = ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in targets.items())
        parts.append(
            f"### {name}\n\n`PYTHONPATH=. python -m {module} {' '.join(full)}` ({when})\n\n"
            f"{body}\n" + (f"\nTargets: {met}\n" if met else "")
        )
    head = ["Reproduce: `make bench` (or `PYTHONPATH=. python bench/run_all.py`).", ""]
    if machine:
        head += [
            f"Machine: {machine.get('nproc')} × {machine.get('cpu_model')}, "
            f"{machine.get('mem_total_mb')} MB RAM, Linux {machine.get('kernel')}; "
            f"Python {machine.get('python')}, paho-mqtt {machine.get('paho_mqtt')}, "
            f"gpiozero {machine.get('gpiozero')}, pydantic {machine.get('pydantic')}, "
            f"structlog {machine.get('structlog')}, {machine.get('mosquitto')}, "
            f"SQLite {machine.get('sqlite')}.",
            "",
        ]
    return "\n".join(head) + "\n" + "\n".join(parts)


def refresh_doc() -> None:
    if not DOC.exists():
        return
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        return
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    DOC.write_text(f"{before}{BEGIN}\n{generated_section()}\n{END}{after}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    ap.add_argument("--only", nargs="+", choices=list(SUITE), help="run only these")
    ap.add_argument("--no-doc", action="store_true", help="leave docs/benchmarks.md alone")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    runs = [run(name, args.quick) for name in (args.only or SUITE)]
    total = round(time.monotonic() - t0, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "run_all.json").write_text(
        json.dumps({"quick": args.quick, "total_s": total, "runs": runs}, indent=2) + "\n"
    )
    if not args.quick and not args.no_doc:
        refresh_doc()
    print("\n=== summary")
    for r in runs:
        print(f"{r['name']:<11} exit {r['exit_code']:>3}  {r['seconds']:>6.1f} s")
    print(f"total {total:.1f} s")
    return 0 if all(r["exit_code"] == 0 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
