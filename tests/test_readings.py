"""``siaga-edge readings``: from a running daemon over the control socket, else the pins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tools_support import SimulatedDaemon, cli, write_config

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
