"""check-config refuses every config that could never alarm, and says what else looks
wrong so it does not scroll away: one test per case a technician was caught by.

Unreachable alarms are errors (exit 2, naming the field and why it can never fire);
merely suspicious settings are warnings, repeated at the end above ``valid, N warnings``;
a file a plain editor mangled gets a sentence a non-programmer understands.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[1] / "edge" / "data" / "config.example.toml"
BASE = EXAMPLE.read_text()


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def check(
    tmp_path: Path, text: str | bytes, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    return subprocess.run(
        [sys.executable, "-m", "edge", "check-config", "-c", str(path)],
        capture_output=True,
        text=True,
        env=clean | (env or {}),
        check=False,
    )


GAS = "sensors[1](smoke-gudang)"
WATER = "sensors[2](air-selokan)"
QUAKE = "sensors[3](getar-fondasi)"

# (case, edit of the example, the field, why it can never fire)
NEVER_ALARMS: list[tuple[str, Callable[[str], str], str, str]] = [
    (
        "calibration raw in volts for an MCP3008",
        lambda t: replace(t, "raw = [0.10, 0.80]", "raw = [0.33, 2.64]"),
        f"{GAS}.calibration.raw",
        "raw is the fraction 0..1 of its VREF",
    ),
    (
        "a threshold the ADC can never read",
        lambda t: replace(
            replace(t, "alarm = 600.0", "alarm = 1500.0"), "max = 1200.0", "max = 2000.0"
        ),
        f"{GAS}.alarm",
        "needs an ADC reading of 1.15 of full scale",
    ),
    (
        "a threshold beyond fault.max",
        lambda t: replace(t, "alarm = 600.0", "alarm = 1250.0"),
        f"{GAS}.alarm",
        "beyond fault.max (1200): the sensor is in fault before it gets there",
    ),
    (
        "a threshold above the sensor face",
        lambda t: replace(t, "alarm = 1.2  ", "alarm = 2.6  "),
        f"{WATER}.alarm",
        "above the sensor face or within 2 cm of it",
    ),
    (
        "a stage above the sensor face",
        lambda t: replace(
            t,
            "warning = 0.8                    # level (m above the bottom) for warning\n"
            "alarm = 1.2                      # level for alarm\n",
            'stages = [{ name = "Siaga II", level = 0.8, state = "warning" }, '
            '{ name = "Siaga I", level = 2.49, state = "alarm" }]\n',
        ),
        f"{WATER}.stages",
        "an HC-SR04 cannot measure that close",
    ),
    (
        "rate_arm_above above the mount height",
        lambda t: replace(
            t, "rate_window_s = 120.0", "rate_window_s = 120.0\nrate_arm_above = 3.0"
        ),
        f"{WATER}.rate_arm_above",
        "the rate alarm is never armed",
    ),
    (
        "max_distance_m shorter than the mount height",
        lambda t: replace(
            t, "mount_height_m = 2.5 }", "mount_height_m = 2.5, max_distance_m = 2.0 }"
        ),
        f"{WATER}.input.max_distance_m",
        "in fault whenever the channel is low",
    ),
    (
        "an accelerometer with no alarm",
        lambda t: replace(t, "alarm = 0.05 ", "# alarm = 0.05 "),
        f"{QUAKE}.alarm",
        "with sta_lta alone this sensor can never alarm",
    ),
    (
        # found commissioning: a replayed flood to 1.5 m gave one no_data fault and
        # nothing else, and check-config said "valid, 0 warnings"
        "no_data_s shorter than the sample period",
        lambda t: replace(t, "no_data_s = 10.0", "no_data_s = 0.1"),
        f"{WATER}.fault.no_data_s",
        "not longer than one sample period (0.5 s at sample_hz 2)",
    ),
    (
        "stuck_s shorter than the sample period",
        lambda t: replace(t, "stuck_s = 3600.0", "stuck_s = 0.2"),
        f"{GAS}.fault.stuck_s",
        "not longer than one sample period (0.2 s at sample_hz 5)",
    ),
    (
        # found commissioning: alarm = -0.05 made a door slam an alarm that never cleared
        "an accelerometer alarm peak of 0 or below",
        lambda t: replace(t, "alarm = 0.05 ", "alarm = -0.05 "),
        f"{QUAKE}.alarm",
        "alarm is a peak |acceleration|, never below 0",
    ),
    (
        "an analog sensor with only a warning",
        lambda t: replace(t, "alarm = 600.0\n", ""),
        f"{GAS}.alarm",
        "this sensor can never alarm",
    ),
]


@pytest.mark.parametrize(
    ("case", "edit", "field", "why"), NEVER_ALARMS, ids=[c[0] for c in NEVER_ALARMS]
)
def test_a_config_that_can_never_alarm_is_an_error_naming_the_field_and_why(
    tmp_path: Path, case: str, edit: Callable[[str], str], field: str, why: str
) -> None:
    result = check(tmp_path, edit(BASE))
    assert result.returncode == 2, (case, result.stderr)
    assert f"{field}: " in result.stderr and why in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# (case, edit, the warning's field, what it says)
SUSPICIOUS: list[tuple[str, Callable[[str], str], str, str]] = [
    (
        "a bare integer pin",
        lambda t: replace(t, 'pin = "GPIO5"', "pin = 26"),
        "sensors[4](getar-pagar).input.pin",
        "a bare number (26) is taken as GPIO26",
    ),
    (
        "delay_on_s far beyond any detector's need",
        lambda t: replace(t, "delay_on_s = 3.0 ", "delay_on_s = 3000.0 "),
        "sensors[0](smoke-dapur).delay_on_s",
        "an alarm must hold that long before it is reported",
    ),
    (
        "a huge heartbeat interval",
        lambda t: replace(t, "[heartbeat]\ninterval_s = 30", "[heartbeat]\ninterval_s = 86400"),
        "heartbeat.interval_s",
        "a dead device goes unnoticed for 72.0 h",
    ),
    (
        "a relative storage.path",
        lambda t: replace(
            t, 'path = "/var/lib/siaga-edge/outbox.sqlite3"', 'path = "outbox.sqlite3"'
        ),
        "storage.path",
        "is relative",
    ),
]


@pytest.mark.parametrize(
    ("case", "edit", "field", "says"), SUSPICIOUS, ids=[c[0] for c in SUSPICIOUS]
)
def test_a_suspicious_setting_is_a_warning_repeated_above_the_last_line(
    tmp_path: Path, case: str, edit: Callable[[str], str], field: str, says: str
) -> None:
    result = check(tmp_path, edit(BASE))
    assert result.returncode == 0, (case, result.stderr)
    lines = result.stderr.splitlines()
    assert lines[-1] == "valid, 1 warning"
    assert lines[-2].startswith(f"warning: {field}: ") and says in lines[-2], result.stderr
    assert lines.count(lines[-2]) == 2  # before the effective config, and at the end


def test_a_bare_pin_names_the_gpio_a_header_count_would_mean(tmp_path: Path) -> None:
    result = check(tmp_path, replace(BASE, 'pin = "GPIO5"', "pin = 15"))
    assert (
        "a bare number (15) is taken as GPIO15 (the BCM number); if you counted header pins, "
        'pin 15 is GPIO22: write "GPIO15" to say which'
    ) in result.stderr


def test_a_world_readable_tls_key_is_a_warning(tmp_path: Path) -> None:
    for name in ("ca.crt", "device.crt", "device.key"):
        (tmp_path / name).write_text("-----BEGIN-----\n")
    (tmp_path / "device.key").chmod(0o644)
    text = replace(
        BASE,
        'topic_prefix = "siaga/v1"',
        f'ca_file = "{tmp_path}/ca.crt"\ncert_file = "{tmp_path}/device.crt"\n'
        f'key_file = "{tmp_path}/device.key"\ntopic_prefix = "siaga/v1"',
    )
    result = check(tmp_path, text)
    assert result.returncode == 0, result.stderr
    assert "warning: mqtt.key_file: " in result.stderr and "world-readable" in result.stderr
    (tmp_path / "device.key").chmod(0o640)
    assert "mqtt.key_file" not in check(tmp_path, text).stderr


def test_the_last_line_counts_the_warnings_after_the_effective_config(tmp_path: Path) -> None:
    text = replace(BASE, "[heartbeat]\ninterval_s = 30", "[heartbeat]\ninterval_s = 86400")
    text = replace(text, "delay_on_s = 3.0 ", "delay_on_s = 3000.0 ")
    result = check(tmp_path, text)
    assert result.stdout.startswith("# ") and '"heartbeat"' in result.stdout
    assert result.stderr.splitlines()[-1] == "valid, 2 warnings"


def test_the_shipped_example_is_valid_with_no_warning(tmp_path: Path) -> None:
    result = check(tmp_path, BASE)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["valid, 0 warnings"]


# ---------------------------------------------------------------- plain-language errors


def test_a_byte_order_mark_gets_a_sentence(tmp_path: Path) -> None:
    result = check(tmp_path, "\ufeff".encode() + BASE.encode())
    assert result.returncode == 2
    assert "byte-order mark (BOM)" in result.stderr and "UTF-8 without BOM" in result.stderr


def test_a_decimal_comma_gets_a_sentence_with_the_fix(tmp_path: Path) -> None:
    result = check(tmp_path, replace(BASE, "alarm = 1.2  ", "alarm = 1,2  "))
    assert result.returncode == 2
    assert "writes a decimal comma" in result.stderr
    assert "use a decimal point: alarm = 1.2" in result.stderr


def test_single_brackets_for_several_sensors_get_a_sentence(tmp_path: Path) -> None:
    result = check(tmp_path, BASE.replace("[[sensors]]", "[sensors]"))
    assert result.returncode == 2
    assert "each sensor starts with [[sensors]] (two pairs of brackets)" in result.stderr


def test_single_brackets_for_one_sensor_get_a_sentence(tmp_path: Path) -> None:
    head, first = BASE.split("[[sensors]]")[:2]
    result = check(tmp_path, head + "[sensors]" + first)
    assert result.returncode == 2
    assert "sensors: write [[sensors]] (two pairs of brackets) above each sensor" in result.stderr


# ---------------------------------------------------------------- per-sensor environment


def test_a_sensor_field_can_be_set_from_the_environment(tmp_path: Path) -> None:
    result = check(tmp_path, BASE, env={"SIAGA_SENSORS__SMOKE_DAPUR__DELAY_ON_S": "5"})
    assert result.returncode == 0, result.stderr
    assert '"delay_on_s": 5.0' in result.stdout


def test_a_nested_sensor_field_can_be_set_from_the_environment(tmp_path: Path) -> None:
    env = {"SIAGA_SENSORS__AIR_SELOKAN__INPUT__MOUNT_HEIGHT_M": "2.4"}
    result = check(tmp_path, BASE, env=env)
    assert result.returncode == 0, result.stderr
    assert '"mount_height_m": 2.4' in result.stdout


def test_a_bad_sensor_value_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    result = check(tmp_path, BASE, env={"SIAGA_SENSORS__SMOKE_DAPUR__DELAY_ON_S": "soon"})
    assert result.returncode == 2
    assert "sensors[0](smoke-dapur).delay_on_s: " in result.stderr
    assert "(set by the environment variable SIAGA_SENSORS__SMOKE_DAPUR__DELAY_ON_S)" in (
        result.stderr
    )


def test_a_variable_for_a_sensor_that_does_not_exist_names_the_variable(tmp_path: Path) -> None:
    result = check(tmp_path, BASE, env={"SIAGA_SENSORS__SMOKE_X__DELAY_ON_S": "5"})
    assert result.returncode == 2
    assert "SIAGA_SENSORS__SMOKE_X__DELAY_ON_S: no sensor SMOKE_X here" in result.stderr


def test_a_zone_field_can_be_set_from_the_environment(tmp_path: Path) -> None:
    result = check(tmp_path, BASE, env={"SIAGA_ZONES__DAPUR__CONFIRM_S": "90"})
    assert result.returncode == 0, result.stderr
    assert '"confirm_s": 90.0' in result.stdout


def test_a_bad_zone_value_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    result = check(tmp_path, BASE, env={"SIAGA_ZONES__GEMPA_BLOK_A__THRESHOLD": "many"})
    assert result.returncode == 2
    assert "(set by the environment variable SIAGA_ZONES__GEMPA_BLOK_A__THRESHOLD)" in (
        result.stderr
    )


def test_a_table_from_the_environment_is_merged_into_the_files(tmp_path: Path) -> None:
    env = {"SIAGA_SENSORS__AIR_SELOKAN__FAULT": '{"min": -0.2}'}
    result = check(tmp_path, BASE, env=env)
    assert result.returncode == 0, result.stderr
    fault = next(
        s
        for s in json.loads(result.stdout.split("\n", 1)[1])["sensors"]
        if s["id"] == "air-selokan"
    )["fault"]
    assert fault["min"] == -0.2 and fault["max"] is not None


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("delay_on_s = 3.0 ", "dealy_on_s = 3.0 "), "did you mean 'delay_on_s'?"),
        (('id = "lapas-banyuwangi"', 'id = "Lapas Banyuwangi"'), "only lower-case letters"),
        (("warning = 300.0", 'warning = "300,0"'), "write decimals with a dot (300.0)"),
    ],
)
def test_pydantic_words_are_said_for_a_technician(
    tmp_path: Path, change: tuple[str, str], says: str
) -> None:
    result = check(tmp_path, replace(BASE, *change))
    assert result.returncode == 2 and says in result.stderr
