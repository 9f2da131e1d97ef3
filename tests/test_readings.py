"""``siaga-edge readings``: from a running daemon over the control socket, else the pins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from tables import gauge, sensor
from tools_support import SimulatedDaemon, cli, write_config

from edge.commands.readings import readings_table
from edge.control import sensor_reading
from edge.detect.build import machine_for
from edge.sensors import Sample

SCENARIO = """
duration_s = 60.0
[[step]]
at_s = 0.0
sensor = "gas-1"
value = 500.0
[[step]]
at_s = 0.0
sensor = "smoke-1"
value = 1.0
"""
# 500 ppm with calibration raw [0.10, 0.80] -> value [0, 1000] is ADC fraction 0.45.
GAS_RAW = 0.45
ADC_STEP_PPM = 1000.0 / 0.7 / 1024


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    tmp = tmp_path_factory.mktemp("readings")
    config_file = write_config(tmp)  # no broker: the daemon runs and watches without one
    scenario = tmp / "scenario.toml"
    scenario.write_text(SCENARIO)
    daemon = SimulatedDaemon(config_file, scenario, tmp / "daemon.log")
    yield config_file, scenario
    daemon.stop()


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def by_sensor(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["sensor"]: row for row in rows}


def test_readings_json_once_gives_one_line_per_sensor_from_the_running_daemon(
    site: tuple[Path, Path],
) -> None:
    config_file, _ = site
    result = cli("readings", "-c", str(config_file), "--json", "--once")
    assert result.returncode == 0, result.stderr
    rows = by_sensor(lines(result.stdout))
    assert set(rows) == {"smoke-1", "gas-1"}
    gas = rows["gas-1"]
    assert gas["value"] == pytest.approx(500.0, abs=2 * ADC_STEP_PPM)
    assert gas["raw"] == pytest.approx(GAS_RAW, abs=2 / 1024)
    assert (gas["unit"], gas["raw_unit"], gas["input"]) == ("ppm", "fraction", "mcp3008")
    assert (gas["warning"], gas["alarm"]) == (300.0, 600.0)
    assert gas["thresholds"] == "warn 300 · alarm 600 ppm"
    assert gas["age_s"] < 1.0


def test_readings_show_the_daemons_detection_state(site: tuple[Path, Path]) -> None:
    config_file, _ = site
    rows = by_sensor(lines(cli("readings", "-c", str(config_file), "--json", "--once").stdout))
    assert rows["smoke-1"]["state"] == "alarm"
    assert (rows["smoke-1"]["raw"], rows["smoke-1"]["value"]) == (1.0, 1.0)
    assert rows["gas-1"]["state"] == "warning"  # 500 ppm: above warning, below alarm


def test_readings_json_prints_every_sensor_at_every_refresh(site: tuple[Path, Path]) -> None:
    config_file, _ = site
    result = cli("readings", "-c", str(config_file), "--json", "--count", "3", "--interval", "0.1")
    rows = lines(result.stdout)
    assert len(rows) == 6
    assert len({row["ts"] for row in rows}) == 3


def test_readings_once_prints_a_table_of_every_sensor(site: tuple[Path, Path]) -> None:
    config_file, _ = site
    result = cli("readings", "-c", str(config_file), "--once")
    assert result.returncode == 0, result.stderr
    assert "running daemon" in result.stdout
    for text in ("smoke-1", "gas-1", "ALARM", "ppm"):
        assert text in result.stdout


def test_readings_without_a_daemon_read_simulated_pins_themselves(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO)
    result = cli(
        "readings", "-c", str(config_file), "--json", "--once", "--simulate", str(scenario)
    )
    assert result.returncode == 0, result.stderr
    gas = by_sensor(lines(result.stdout))["gas-1"]
    assert gas["value"] == pytest.approx(500.0, abs=2 * ADC_STEP_PPM)


def test_readings_exit_1_when_no_daemon_runs_and_the_pins_cannot_be_opened(
    tmp_path: Path,
) -> None:
    config_file = write_config(tmp_path)
    text = config_file.read_text().replace('pin_factory = "mock"', 'pin_factory = "lgpio"')
    config_file.write_text(text)
    result = cli("readings", "-c", str(config_file), "--once")
    assert result.returncode == 1
    assert "no daemon answers" in result.stderr


# ---------------------------------------------------------------- what a row says


def _row(cfg: Any, samples: list[tuple[float, float | None]], now: float) -> dict[str, Any]:
    machine = machine_for(cfg)
    machine.start(0.0)
    last = None
    for t, value in samples:
        machine.sample(t, value)
        last = Sample(cfg.id, t, value, value)
    machine.tick(now)
    return sensor_reading(cfg, machine, last, now)


def _age_cell(row: dict[str, Any]) -> Text:
    table = readings_table([row], "test")
    cell = table.columns[-1]._cells[0]
    assert isinstance(cell, Text)
    return cell


def test_a_row_in_fault_says_why() -> None:
    samples = [(n / 2, 0.5) for n in range(10)] + [(5 + n / 2, None) for n in range(30)]
    row = _row(gauge(), samples, 20.0)
    assert (row["state"], row["reason"]) == ("fault", "no_data")
    assert "no_data" in str(readings_table([row], "test").columns[5]._cells[0])


def test_an_hcsr04_with_no_echo_shows_the_age_of_its_last_good_sample_in_red() -> None:
    samples = [(n / 2, 0.5) for n in range(10)] + [(5 + n / 2, None) for n in range(12)]
    row = _row(gauge(), samples, 10.5)
    assert row["age_s"] == 0.0  # it keeps sampling ...
    assert row["good_age_s"] == 6.0  # ... but nothing good since 4.5 s
    cell = _age_cell(row)
    assert (str(cell), cell.style) == ("6.0 s", "bold red")


def test_a_pulse_input_shows_its_count_in_the_window() -> None:
    fence = sensor(
        kind="vibration",
        hazard="intrusion",
        input={"type": "pulse", "pin": "GPIO5"},
        pulses={"window_s": 2.0, "warning": 5, "alarm": 20},
    )
    pulses = [(0.0, 0.0)] + [(10.0 + k / 10, 1.0) for k in range(7)]
    row = _row(fence, pulses, 10.9)
    assert (row["pulses"], row["window_s"], row["hazard"]) == (7, 2.0, "intrusion")
    assert "7 / 2 s" in str(readings_table([row], "test").columns[4]._cells[0])
