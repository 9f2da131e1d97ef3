"""Shared plumbing of the benchmarks: machine facts, statistics, result files, configs.

Nothing here is timed. Every benchmark starts its own mosquitto on a free loopback port
(:class:`edge.localbroker.Mosquitto`); all traffic is to 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
EXAMPLE_CONFIG = ROOT / "edge" / "data" / "config.example.toml"
DEMO_SCENARIO = ROOT / "edge" / "data" / "demo-scenario.toml"
SITE, DEVICE = "lapas", "pi-a"


# ---------------------------------------------------------------------- machine


def _first_line(cmd: Sequence[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.machine()


def machine_info() -> dict[str, Any]:
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    mem_kb = 0
    try:
        match = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        mem_kb = int(match.group(1)) if match else 0
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "mem_total_mb": mem_kb // 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "paho_mqtt": _version("paho-mqtt"),
        "gpiozero": _version("gpiozero"),
        "pydantic": _version("pydantic"),
        "structlog": _version("structlog"),
        "mosquitto": _first_line([mosquitto, "-h"]),
        "sqlite": sqlite3.sqlite_version,
        "loadavg_at_start": os.getloadavg(),
    }


# ---------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 / max / mean of latencies given in seconds, in milliseconds."""
    if not seconds:
        return {"n": 0}
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p90_ms": round(percentile(ms, 90), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("inf")


# ---------------------------------------------------------------------- output


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (also readable on a terminal)."""
    cells = [[str(h) for h in headers]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10000:
        return f"{value:,}"
    return str(value)


def write_result(name: str, data: dict[str, Any], tables: dict[str, str]) -> Path:
    """bench/results/<name>.json with the machine facts, the data and the printed tables."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    doc = {
        "benchmark": name,
        "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": f"PYTHONPATH=. python -m bench.{name}",
        "machine": machine_info(),
        **data,
        "tables": tables,
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return path


_DEVNULL: list[io.TextIOBase] = []


def quiet_logs(level: str = "info") -> None:
    """structlog as in production (JSON lines, every field rendered) into /dev/null."""
    from edge import logs

    if not _DEVNULL:
        _DEVNULL.append(open(os.devnull, "w"))  # noqa: SIM115  # lives as long as the run
    logs.configure(level, "json", stream=_DEVNULL[0])


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.001) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def python() -> str:
    return sys.executable


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if "PYTHONPATH" in env else "")
    env.pop("NOTIFY_SOCKET", None)
    env.pop("WATCHDOG_USEC", None)
    env.update(extra)
    return env


# ---------------------------------------------------------------------- configs


def smoke_sensor(
    sensor_id: str = "smoke-1",
    pin: str = "GPIO17",
    *,
    delay_on_s: float = 0.0,
    delay_off_s: float = 0.0,
) -> dict[str, Any]:
    """A digital smoke detector (active low) whose chatter check allows fast bench cycles."""
    return {
        "id": sensor_id,
        "kind": "smoke",
        "name": "Dapur",
        "location": "Blok A",
        "input": {"type": "digital", "pin": pin, "active_low": True},
        "delay_on_s": delay_on_s,
        "delay_off_s": delay_off_s,
        "fault": {"chatter_per_s": 10_000.0},
    }


def config_dict(
    broker_url: str,
    store: Path,
    sensors: list[dict[str, Any]],
    *,
    site: str = SITE,
    device: str = DEVICE,
    mqtt: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "site": {"id": site, "device": device},
        "mqtt": {"url": broker_url, "keepalive_s": 15, **(mqtt or {})},
        "storage": {"path": str(store), "allow_volatile": True},
        "heartbeat": {"interval_s": 3600},
        "alerts": {"repeat_s": 3600},
        "sensors": sensors,
    }


def build_config(data: dict[str, Any]) -> Any:
    from edge.config import validate_config

    return validate_config(data, Path("bench-config.toml"))


def toml_text(data: dict[str, Any]) -> str:
    """A config dict as TOML, for the daemon run as a process."""
    import tomlkit

    return tomlkit.dumps(data)


# ---------------------------------------------------------------------- outbox


def prefill_outbox(path: Path, count: int, *, site: str = SITE, device: str = DEVICE) -> float:
    """``count`` undelivered events in a fresh outbox, through ``Outbox.append``.

    Only the fsync is skipped while filling (``synchronous=OFF``); the store on disk is what
    the daemon would have written itself while the broker was down. Returns the seconds taken.
    """
    from edge.clock import iso_ms
    from edge.detect.types import Reason, State
    from edge.outbox import Outbox
    from edge.payloads import SEVERITY, Event, EventKind, Hazard

    t0 = time.monotonic()
    outbox = Outbox(path)
    outbox.db.execute("PRAGMA synchronous=OFF")
    base = 1_741_659_245.0
    states = (State.ALARM, State.NORMAL)
    for i in range(count):
        state = states[i % 2]

        def build(seq: int, state: State = state) -> Event:
            return Event(
                id=f"00000000-0000-4000-8000-{seq:012d}",
                seq=seq,
                site=site,
                device=device,
                sensor="smoke-1",
                kind=EventKind.SMOKE,
                hazard=Hazard.FIRE,
                state=state,
                previous=State.NORMAL if state is State.ALARM else State.ALARM,
                severity=SEVERITY[state],
                reason=Reason.CONTACT if state is State.ALARM else Reason.CLEARED,
                ts=iso_ms(base + seq),
                requires_ack=False,
                message="KEBAKARAN: asap terdeteksi di Dapur, Blok A",
            )

        outbox.append(build)
    outbox.close()
    return time.monotonic() - t0
