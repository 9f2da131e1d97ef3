"""Shared by the tests of the people's tools (readings, calibrate, drill, console, HA):
a config file on disk, a daemon on mock pins in a thread, a daemon as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory
from harness import ThreadedDaemon

from edge.config import load_config
from edge.simulate.mcp3008 import MockMCP3008

REPO = Path(__file__).resolve().parents[1]
GAS_IDLE_FRACTION = 0.10  # 0 ppm with the calibration below

CONFIG = """\
# A test site: one smoke detector, one gas sensor on the ADC.
[site]
id = "lapas"
device = "pi-a"
name = "Lapas Uji"

[mqtt]
url = "{url}"
keepalive_s = 5

[storage]
path = "{tmp}/outbox.sqlite3"
allow_volatile = true

[control]
socket = "{tmp}/control.sock"   # the drill and readings channel

[alerts]
repeat_s = {repeat_s}

[heartbeat]
interval_s = 1

[gpio]
pin_factory = "mock"

[outputs]
siren_pin = "GPIO27"
{extra}
# The kitchen's smoke detector: its relay closes to ground.
[[sensors]]
id = "smoke-1"
kind = "smoke"
name = "Dapur"
location = "Blok A"
input = {{ type = "digital", pin = "GPIO17", active_low = true }}
delay_on_s = 0.2                 # alarm verification
delay_off_s = 0.5

# A gas sensor through the MCP3008, calibrated to ppm.
[[sensors]]
id = "gas-1"
kind = "smoke"
name = "Gudang"
location = "Blok B"
input = {{ type = "mcp3008", channel = 1 }}
sample_hz = 10
calibration = {{ raw = [0.10, 0.80], value = [0.0, 1000.0] }}   # ADC fraction -> ppm
unit = "ppm"
warning = 300.0                  # ppm
alarm = 600.0
hysteresis = 50.0
delay_on_s = 0.3
delay_off_s = 0.5
fault = {{ no_data_s = 5.0, min = -50.0, max = 1200.0 }}
"""


def write_config(tmp: Path, url: str = "mqtt://127.0.0.1:1", **fields: Any) -> Path:
    values = {"url": url, "tmp": tmp, "repeat_s": 60, "extra": ""} | fields
    path = tmp / "config.toml"
    path.write_text(CONFIG.format(**values), encoding="utf-8")
    return path


def tool_daemon(config_file: Path, factory: MockFactory) -> ThreadedDaemon:
    """The production Daemon on gpiozero mock pins, with an emulated MCP3008 (``.adc``)."""
    adc = MockMCP3008(select=0, pin_factory=factory)
    adc.set_fraction(1, GAS_IDLE_FRACTION)
    running = ThreadedDaemon(load_config(config_file), factory, config_path=config_file)
    running.adc = adc
    return running


def cli(*args: str, timeout: float = 30, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``python -m edge ARGS`` in a subprocess, as a technician types it."""
    return subprocess.run(
        [sys.executable, "-m", "edge", *args],
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    out["PYTHONPATH"] = str(REPO)
    out.update(extra)
    return out


class SimulatedDaemon:
    """``siaga-edge run --simulate SCENARIO`` as a subprocess."""

    def __init__(self, config_file: Path, scenario: Path, log: Path) -> None:
        self.config = load_config(config_file)
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge",
                "run",
                "--simulate",
                str(scenario),
                "-c",
                str(config_file),
            ],
            cwd=REPO,
            env=env(SIAGA_LOGGING__FORMAT="json"),
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 15
        while not self.config.control.socket.exists():
            assert self.proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the daemon did not open its control socket"
            time.sleep(0.05)

    def stop(self) -> int:
        self.proc.terminate()
        code = self.proc.wait(timeout=20)
        self.log.close()
        return code
