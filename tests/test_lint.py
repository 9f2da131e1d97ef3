"""``check-config`` warnings: valid configs with likely mistakes (edge/lint.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tools_support import cli, write_config

from edge.calibrate import RawStats, load_state, record_stats, save_state, state_path
from edge.config import ConfigError, load_config
from edge.lint import environment, lint


def warnings_for(path: Path) -> list[str]:
    return [str(w) for w in lint(load_config(path))]


def test_a_config_without_suspicious_settings_gives_no_warning(tmp_path: Path) -> None:
    assert warnings_for(write_config(tmp_path)) == []


def test_a_threshold_inside_the_recorded_noise_is_a_warning(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    config = load_config(path)
    state = load_state(state_path(config))
    # raw 0.10..0.35 is 0..357 ppm: the warning (300 ppm) lies inside that noise band
    record_stats(state, "gas-1", RawStats(50, 0, 5.0, 0.2, 0.05, 0.10, 0.35, "2025-03-11"))
    save_state(state_path(config), state)
    got = warnings_for(path)
    assert len(got) == 1
    assert got[0].startswith("sensors[1](gas-1): configured warning 300 ppm lies INSIDE")


def test_a_smoke_detector_without_alarm_verification_is_a_warning(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace("delay_on_s = 0.2 ", "delay_on_s = 0.0 "))
    assert [w.split(":")[0] for w in warnings_for(path)] == ["sensors[0](smoke-1).delay_on_s"]


def test_a_manual_call_point_alarming_at_once_is_no_warning(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    path.write_text(
        path.read_text().replace("delay_on_s = 0.2 ", "delay_on_s = 0.0\nmanual = true ")
    )
    assert load_config(path).sensors[0].manual
    assert warnings_for(path) == []


def test_a_contact_on_an_spi0_chip_select_is_a_warning(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace('"GPIO17"', '"GPIO7"'))  # CE1; the ADC is on CE0
    got = warnings_for(path)
    assert len(got) == 1
    assert "GPIO7 is on the MCP3008's bus" in got[0]


def test_an_ultrasonic_fault_min_of_exactly_zero_is_a_warning(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    path.write_text(
        path.read_text()
        + '\n[[sensors]]\nid = "air"\nkind = "water_level"\n'
        + 'input = { type = "hcsr04", trigger = "GPIO23", echo = "GPIO24", mount_height_m = 2 }\n'
        + "warning = 0.8\nalarm = 1.2\nhysteresis = 0.05\nfault = { min = 0.0, max = 2.0 }\n"
    )
    assert [w.split(":")[0] for w in warnings_for(path)] == ["sensors[2](air).fault.min"]


def test_a_level_the_ultrasonic_sensor_cannot_see_is_an_error_not_a_warning(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path)
    path.write_text(
        path.read_text()
        + '\n[[sensors]]\nid = "air"\nkind = "water_level"\n'
        + 'input = { type = "hcsr04", trigger = "GPIO23", echo = "GPIO24", mount_height_m = 2 }\n'
        + "warning = 0.8\nalarm = 1.99\nhysteresis = 0.05\n"
    )
    with pytest.raises(ConfigError, match="cannot measure that close"):
        load_config(path)


def test_check_config_prints_warnings_on_stderr_and_still_exits_0(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace("delay_on_s = 0.2 ", "delay_on_s = 0.0 "))
    result = cli("check-config", "-c", str(path), "--quiet")
    assert result.returncode == 0
    assert result.stderr.startswith("warning: sensors[0](smoke-1).delay_on_s: 0 on a smoke")


def test_a_level_on_the_safe_side_of_the_fault_range_is_a_warning(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    path.write_text(
        path.read_text().replace("min = -50.0, max = 1200.0", "min = 400.0, max = 1200.0")
    )
    got = warnings_for(path)
    assert [w.split(":")[0] for w in got] == ["sensors[1](gas-1).warning"]
    assert "at or below fault.min (400)" in got[0]


def test_a_siaga_variable_for_a_section_that_does_not_exist_is_a_warning() -> None:
    got = [
        str(w)
        for w in environment({"SIAGA_NOPE__X": "1", "SIAGA_MQTT__URL": "mqtt://h", "HOME": "/"})
    ]
    assert got == [
        "SIAGA_NOPE__X: sets nothing: 'nope' is not a config section (alerts, control, gpio, "
        "heartbeat, homeassistant, logging, mqtt, outputs, platform, sensors, site, storage, "
        "telemetry, zones); "
        "it is ignored"
    ]


def test_the_config_path_variable_is_not_taken_for_a_section() -> None:
    assert environment({"SIAGA_EDGE_CONFIG": "/etc/siaga-edge/config.toml"}) == []
