"""Footprint: RSS and CPU of ``siaga-edge run --simulate``, and time from start to READY.

Each daemon is a real process (``python -m edge run --simulate SCENARIO -c CONFIG``) against
a private mosquitto, with a fake ``$NOTIFY_SOCKET`` (an AF_UNIX datagram socket) that
catches ``READY=1`` as systemd would. Two configurations run side by side for the
scenario's length:

- ``full``: the example config's five sensors and the demo scenario. The 100 Hz and 5 Hz
  MCP3008 channels are read by bit-banging gpiozero's *mock* SPI pins and the HC-SR04 by
  a mock trigger pin that starts a thread per ping: a Pi with hardware SPI pays none of
  that, so its cost is measured separately (per read, in this process) and subtracted;
- ``digital``: only the digital smoke input and the pulse vibration switch (what a Pi pays
  almost exactly, the simulation there being a few pin changes).

Then ``--ready-runs`` more cold starts of the full config for the READY median, and one
``python -X importtime`` start for where start-up time goes.

    PYTHONPATH=. python -m bench.bench_footprint [--seconds 60] [--ready-runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import time
import tomllib
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from bench.common import (
    DEMO_SCENARIO,
    EXAMPLE_CONFIG,
    ROOT,
    child_env,
    python,
    table,
    write_result,
)
from edge.localbroker import Mosquitto

TARGET_RSS_MB = 45.0
TARGET_READY_S = 1.5
DIGITAL = ("smoke-dapur", "getar-pagar")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def write_configs(tmp: Path, broker_url: str) -> dict[str, tuple[Path, Path]]:
    """config + scenario for ``full`` and ``digital`` (same TOML the technicians write)."""
    import tomlkit

    base = tomllib.loads(EXAMPLE_CONFIG.read_text())
    scen = tomllib.loads(DEMO_SCENARIO.read_text())
    out: dict[str, tuple[Path, Path]] = {}
    for name, keep in (("full", None), ("digital", DIGITAL)):
        cfg = json.loads(json.dumps(base))
        cfg["site"]["device"] = f"pi-{name}"
        cfg["mqtt"]["url"] = broker_url
        cfg["storage"]["path"] = str(tmp / f"{name}.sqlite3")
        cfg["logging"] = {"level": "info", "format": "json"}
        sc = json.loads(json.dumps(scen))
        if keep is not None:
            cfg["sensors"] = [s for s in cfg["sensors"] if s["id"] in keep]
            cfg.pop("zones", None)  # their members are not all kept
            sc["step"] = [s for s in sc.get("step", []) if s["sensor"] in keep]
            sc.pop("trace", None)
        cfg_path, sc_path = tmp / f"{name}.toml", tmp / f"{name}-scenario.toml"
        cfg_path.write_text(tomlkit.dumps(cfg))
        for trace in sc.get("trace", []):
            trace["file"] = str(DEMO_SCENARIO.parent / trace["file"])
        sc_path.write_text(tomlkit.dumps(sc))
        out[name] = (cfg_path, sc_path)
    return out


class Notify:
    """A fake systemd notify socket: collects datagrams with their arrival time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)

    def wait_ready(self, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            if b"READY=1" in data.split(b"\n"):
                return time.monotonic()
        return None

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)


def start(cfg: Path, scenario: Path | None, notify: Path, log: Path) -> subprocess.Popen[bytes]:
    cmd = [python(), "-m", "edge", "run", "-c", str(cfg)]
    if scenario is not None:
        cmd[4:4] = ["--simulate", str(scenario)]
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd, env=child_env(NOTIFY_SOCKET=str(notify)), stdout=out, stderr=out, cwd=ROOT
        )


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_mb(pid: int) -> tuple[float, float]:
    text = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    hwm = int(re.search(r"VmHWM:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    return rss / 1024, hwm / 1024


def pss_mb(pid: int) -> tuple[float, float]:
    """PSS (shared library pages split between their users) and anonymous memory, in MB."""
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    pss = int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))  # type: ignore[union-attr]
    anon = int(re.search(r"^Anonymous:\s+(\d+)", text, re.M).group(1))  # type: ignore[union-attr]
    return pss / 1024, anon / 1024


def stop(proc: subprocess.Popen[bytes]) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def mock_costs() -> dict[str, float]:
    """CPU seconds per mock MCP3008 read and per mock HC-SR04 sample, in this process."""
    from gpiozero import MCP3008, Device
    from gpiozero.pins.mock import MockFactory

    from edge.simulate.mcp3008 import MockMCP3008

    factory = MockFactory()
    Device.pin_factory = factory
    chip = MockMCP3008(0, pin_factory=factory)
    chip.set_fraction(0, 0.5)
    adc = MCP3008(channel=0, pin_factory=factory)
    for _ in range(20):
        _ = adc.value
    n = 300
    c0 = time.process_time()
    for _ in range(n):
        _ = adc.value
    per_read = (time.process_time() - c0) / n
    adc.close()
    chip.close()
    Device.pin_factory = None
    return {"mcp3008_read_cpu_ms": round(per_read * 1000, 3)}


def import_profile(cfg: Path, tmp: Path) -> list[dict[str, Any]]:
    """Import time of the daemon's modules (``-X importtime``), self time summed per package."""
    proc = subprocess.run(
        [python(), "-X", "importtime", "-c", "import edge.cli, edge.commands.run, edge.daemon"],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    top: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if m:  # self time, summed per top-level package
            name = m.group(3).split(".")[0]
            top[name] = top.get(name, 0) + int(m.group(1))
    ranked = sorted(top.items(), key=lambda kv: -kv[1])[:12]
    return [{"package": k, "self_ms": round(v / 1000, 1)} for k, v in ranked]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--ready-runs", type=int, default=5)
    args = ap.parse_args(argv)
    results: dict[str, Any] = {}
    with TemporaryDirectory(prefix="siaga-fp-") as tmpname:
        tmp = Path(tmpname)
        broker = Mosquitto().start()
        try:
            configs = write_configs(tmp, broker.url)
            procs: dict[str, tuple[subprocess.Popen[bytes], Notify, float]] = {}
            for name, (cfg, sc) in configs.items():
                note = Notify(tmp / f"notify-{name}")
                t0 = time.monotonic()
                procs[name] = (start(cfg, sc, note.path, tmp / f"{name}.log"), note, t0)
            ready: dict[str, float | None] = {}
            for name, (_proc, note, t0) in procs.items():
                t = note.wait_ready(30)
                ready[name] = None if t is None else t - t0
            c0 = {n: cpu_s(p.pid) for n, (p, _, _) in procs.items()}
            w0 = time.monotonic()
            samples: dict[str, list[float]] = {n: [] for n in procs}
            while time.monotonic() - w0 < args.seconds:
                time.sleep(1.0)
                for n, (p, _, _) in procs.items():
                    if p.poll() is None:
                        samples[n].append(rss_mb(p.pid)[0])
            wall = time.monotonic() - w0
            for n, (p, note, _) in procs.items():
                alive = p.poll() is None
                c1 = cpu_s(p.pid) if alive else float("nan")
                hwm = rss_mb(p.pid)[1] if alive else float("nan")
                pss, anon = pss_mb(p.pid) if alive else (float("nan"), float("nan"))
                took = ready[n]
                results[n] = {
                    "ready_s": None if took is None else round(took, 3),
                    "cpu_percent": round(100 * (c1 - c0[n]) / wall, 1),
                    "rss_mb_median": round(statistics.median(samples[n]), 1),
                    "rss_mb_end": round(samples[n][-1], 1),
                    "rss_mb_peak": round(hwm, 1),
                    "pss_mb_end": round(pss, 1),
                    "anonymous_mb_end": round(anon, 1),
                    "exit_code": stop(p),
                    "seconds": round(wall, 1),
                }
                note.close()
            cold: list[float] = []
            cfg, sc = configs["full"]
            for i in range(args.ready_runs):
                note = Notify(tmp / f"notify-cold-{i}")
                t0 = time.monotonic()
                proc = start(cfg, sc, note.path, tmp / "cold.log")
                t = note.wait_ready(30)
                stop(proc)
                note.close()
                if t is not None:
                    cold.append(t - t0)
            results["ready_cold_s"] = [round(x, 3) for x in cold]
            results["ready_median_s"] = round(statistics.median(cold), 3) if cold else None
            results["import_profile"] = import_profile(cfg, tmp)
        finally:
            broker.close()
    costs = mock_costs()
    full = results["full"]
    # the 100 Hz and 5 Hz channels: 105 mock SPI conversions a second
    spi_pct = 105 * costs["mcp3008_read_cpu_ms"] / 10.0
    results["mock_costs"] = costs
    results["full"]["mock_spi_cpu_percent_estimate"] = round(spi_pct, 1)
    results["full"]["cpu_percent_without_mock_spi"] = round(full["cpu_percent"] - spi_pct, 1)
    rows = [
        [
            "full: 5 sensors, demo scenario",
            full["rss_mb_median"],
            full["rss_mb_peak"],
            full["pss_mb_end"],
            full["anonymous_mb_end"],
            full["cpu_percent"],
            full["cpu_percent_without_mock_spi"],
            full["ready_s"],
        ],
        [
            "digital + pulse only",
            results["digital"]["rss_mb_median"],
            results["digital"]["rss_mb_peak"],
            results["digital"]["pss_mb_end"],
            results["digital"]["anonymous_mb_end"],
            results["digital"]["cpu_percent"],
            results["digital"]["cpu_percent"],
            results["digital"]["ready_s"],
        ],
    ]
    tab = table(
        [
            "run --simulate",
            "RSS MB (median)",
            "RSS peak",
            "PSS",
            "anonymous",
            "CPU %",
            "CPU % less mock SPI",
            "READY s",
        ],
        rows,
    )
    imp = table(
        ["package", "import ms (self, summed)"],
        [[x["package"], x["self_ms"]] for x in results["import_profile"]],
    )
    print(tab)
    print(
        f"READY, {len(results['ready_cold_s'])} cold starts: median {results['ready_median_s']} s"
    )
    print(f"mock MCP3008 read: {costs['mcp3008_read_cpu_ms']} ms CPU")
    print(imp)
    targets = {
        "rss_le_45mb": max(full["rss_mb_peak"], results["digital"]["rss_mb_peak"]) <= TARGET_RSS_MB,
        "ready_le_1.5s": (results["ready_median_s"] or 99) <= TARGET_READY_S,
    }
    print("targets:", json.dumps(targets))
    write_result(
        "bench_footprint",
        {"params": vars(args), "results": results, "targets": targets},
        {"footprint": tab, "imports": imp},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
