"""``siaga-edge calibrate``: baseline statistics, thresholds clear of the noise, calibration
points written into the config in place with every comment kept."""

from __future__ import annotations

import json
import math
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from rich.console import Console
from tools_support import cli, tool_daemon, write_config

from edge.calibrate import (
    CalibrationError,
    Point,
    RawStats,
    ValueStats,
    edit_config,
    never_closer,
    suggest,
    two_point,
)
from edge.cli import main
from edge.commands.calibrate import write_config as write_calibration
from edge.config import Calibration, Direction, Stage, StageState, load_config
from edge.trace import load_trace

NOISE_PPM = 3.0
BASE_PPM = 50.0


def stats(mean: float, std: float, lo: float, hi: float, unit: str = "ppm") -> ValueStats:
    return ValueStats(mean=mean, std=std, min=lo, max=hi, resolution=0.0, unit=unit)


def gas(tmp: Path) -> Any:
    return load_config(write_config(tmp)).sensor("gas-1")


def noisy_scenario(tmp: Path) -> Path:
    rng = random.Random(7)
    rows = [f"{i * 0.05:.2f},{BASE_PPM + rng.gauss(0, NOISE_PPM):.3f}" for i in range(400)]
    (tmp / "noise.csv").write_text("t_s,value\n" + "\n".join(rows) + "\n")
    path = tmp / "baseline.toml"
    path.write_text(
        'duration_s = 30.0\n[[trace]]\nat_s = 0.0\nsensor = "gas-1"\nfile = "noise.csv"\n'
    )
    return path


def level_scenario(tmp: Path, ppm: float) -> Path:
    path = tmp / f"at-{ppm:g}.toml"
    path.write_text(f'duration_s = 30.0\n[[step]]\nat_s = 0.0\nsensor = "gas-1"\nvalue = {ppm}\n')
    return path


def report(result: Any) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.splitlines()[-1]))


# ---------------------------------------------------------------- the arithmetic


def test_suggested_thresholds_are_k_sigma_above_a_baseline_wider_than_its_noise(
    tmp_path: Path,
) -> None:
    s = suggest(gas(tmp_path), stats(50.0, 2.0, 47.0, 53.0))
    assert s.warning == pytest.approx(62.0)  # 50 + 6 sigma
    assert s.alarm == pytest.approx(70.0)  # 50 + 10 sigma


@pytest.mark.parametrize("spike", [5.0, 40.0, 200.0])
def test_suggested_thresholds_are_never_inside_the_noise_band(tmp_path: Path, spike: float) -> None:
    s = suggest(gas(tmp_path), stats(50.0, 1.0, 48.0, 50.0 + spike))
    assert s.warning is not None and s.alarm is not None
    assert s.warning > 50.0 + spike
    assert s.alarm > s.warning


def test_a_falling_sensor_gets_thresholds_below_its_baseline(tmp_path: Path) -> None:
    cfg = gas(tmp_path).model_copy(
        update={"direction": Direction.FALLING, "warning": None, "alarm": None}
    )
    s = suggest(cfg, stats(500.0, 2.0, 495.0, 505.0))
    assert s.warning is not None and s.alarm is not None
    assert s.alarm < s.warning < 495.0


def test_a_configured_threshold_inside_the_noise_is_flagged(tmp_path: Path) -> None:
    cfg = gas(tmp_path).model_copy(update={"warning": 52.0, "alarm": 600.0})
    checks = suggest(cfg, stats(50.0, 2.0, 45.0, 55.0)).checks
    assert [ok for ok, _ in checks] == [False, True]
    assert "INSIDE" in checks[0][1]


def test_two_points_make_a_linear_calibration_ordered_by_raw() -> None:
    high = Point(raw=0.45, value=500.0, std=0.001, ts="")
    low = Point(raw=0.10, value=0.0, std=0.001, ts="")
    assert two_point(high, low, None) == Calibration(raw=(0.10, 0.45), value=(0.0, 500.0))  # type: ignore[arg-type]


def test_two_points_closer_than_the_noise_are_refused() -> None:
    a = Point(raw=0.100, value=0.0, std=0.01, ts="")
    b = Point(raw=0.120, value=50.0, std=0.01, ts="")
    with pytest.raises(CalibrationError, match="further apart"):
        two_point(a, b, None)  # type: ignore[arg-type]


def test_stats_ignore_failed_reads_and_count_them() -> None:
    raw = RawStats.of([0.1, None, 0.3], seconds=1.0)
    assert (raw.n, raw.missing, raw.mean) == (2, 1, pytest.approx(0.2))


def test_editing_the_config_changes_only_the_calibrated_lines(tmp_path: Path) -> None:
    text = write_config(tmp_path).read_text()
    new = edit_config(
        text, "gas-1", {"calibration": Calibration(raw=(0.12, 0.5), value=(0.0, 400.0))}
    )
    changed = [(a, b) for a, b in zip(text.splitlines(), new.splitlines(), strict=True) if a != b]
    assert changed == [
        (
            "calibration = { raw = [0.10, 0.80], value = [0.0, 1000.0] }   # ADC fraction -> ppm",
            "calibration = { raw = [0.12, 0.5], value = [0.0, 400.0] }   # ADC fraction -> ppm",
        )
    ]


def test_a_new_threshold_goes_inside_its_sensors_table_not_under_the_next_comment(
    tmp_path: Path,
) -> None:
    text = write_config(tmp_path).read_text().replace("alarm = 600.0\n", "")
    new = edit_config(text, "gas-1", {"alarm": 650.0})
    gas_block = new.split("[[sensors]]")[2]
    assert "alarm = 650.0" in gas_block
    assert tomllib.loads(new)["sensors"][1]["alarm"] == 650.0


# ---------------------------------------------------------------- the command


def test_calibrate_reports_the_baseline_statistics_of_a_simulated_sensor(
    tmp_path: Path,
) -> None:
    config_file = write_config(tmp_path)
    result = cli(
        "calibrate", "gas-1", "-c", str(config_file), "--seconds", "1", "--json",
        "--simulate", str(noisy_scenario(tmp_path)),
    )  # fmt: skip
    got = report(result)
    assert got["samples"] >= 8  # 10 Hz
    assert got["mean"] == pytest.approx(BASE_PPM, abs=3 * NOISE_PPM)
    assert 0 < got["std"] < 3 * NOISE_PPM
    assert got["noise"] == pytest.approx(got["max"] - got["min"])
    assert got["suggested"]["warning"] > got["max"]
    assert any("σ" in reason for reason in got["reasons"])


def test_calibrate_record_saves_a_trace_that_replay_can_load(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    trace = tmp_path / "baseline.csv"
    got = report(
        cli(
            "calibrate",
            "gas-1",
            "-c",
            str(config_file),
            "--seconds",
            "0.5",
            "--json",
            "--simulate",
            str(noisy_scenario(tmp_path)),
            "--record",
            str(trace),
        )
    )
    samples = load_trace(trace)
    assert len(samples) == got["samples"]
    assert samples[0][0] == 0.0
    assert math.isclose(sum(v for _, v in samples) / len(samples), got["mean"], abs_tol=1e-3)


def second_point_written(base: list[str], tmp_path: Path) -> dict[str, Any]:
    """The second reference, 250 ppm at the 500 ppm level, written to the config."""
    args = ["--point", "250", "--write", "--yes", "--simulate", str(level_scenario(tmp_path, 500))]
    return report(cli(*base, *args))


def test_two_points_and_write_update_the_calibration_in_place_keeping_comments(
    tmp_path: Path,
) -> None:
    config_file = write_config(tmp_path)
    before = config_file.read_text()
    base = ["calibrate", "gas-1", "-c", str(config_file), "--seconds", "0.3", "--json"]
    first = report(cli(*base, "--point", "0", "--simulate", str(level_scenario(tmp_path, 0))))
    assert "calibration_update" not in first or not first["calibration_update"]
    second = second_point_written(base, tmp_path)
    assert second["written"] is True
    after = config_file.read_text()
    calibration_line = next(x for x in after.splitlines() if x.startswith("calibration"))
    assert calibration_line.endswith("   # ADC fraction -> ppm")
    cal = load_config(config_file).sensor("gas-1").calibration
    assert cal is not None
    assert cal.value == (0.0, 250.0)
    assert cal.raw[0] == pytest.approx(0.10, abs=2 / 1024)
    assert cal.raw[1] == pytest.approx(0.45, abs=2 / 1024)
    untouched = [a for a in before.splitlines() if not a.startswith("calibration")]
    assert untouched == [a for a in after.splitlines() if not a.startswith("calibration")]


def test_calibrate_never_writes_an_invalid_config(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    staged = config_file.read_text().replace(
        "warning = 300.0                  # ppm\nalarm = 600.0\n",
        'stages = [{ name = "Siaga", level = 300.0, state = "warning" }, '
        '{ name = "Awas", level = 600.0, state = "alarm" }]\n',
    )
    config_file.write_text(staged)
    cfg = load_config(config_file).sensor("gas-1")
    quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    code = write_calibration(config_file, cfg, {"warning": 100.0}, quiet, quiet, yes=True)
    assert code == 2
    assert config_file.read_text() == staged


def test_calibrate_listens_in_on_a_running_daemon_without_stopping_it(
    tmp_path: Path, mock_factory: MockFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = write_config(tmp_path)
    running = tool_daemon(config_file, mock_factory)
    try:
        running.adc.set_fraction(1, 0.45)
        code = main(["calibrate", "gas-1", "-c", str(config_file), "--seconds", "0.6", "--json"])
        out = capsys.readouterr().out
        assert code == 0
        got = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
        assert got["raw"]["mean"] == pytest.approx(0.45, abs=2 / 1024)
        assert got["samples"] >= 4
        assert running.thread.is_alive()
        assert not running.daemon.sensors.tapping  # the tap is closed again
    finally:
        running.stop()


def test_one_point_on_an_ultrasonic_sensor_sets_its_mount_height(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    text = config_file.read_text() + (
        '\n# The drain.\n[[sensors]]\nid = "air-1"\nkind = "water_level"\n'
        'input = { type = "hcsr04", trigger = "GPIO23", echo = "GPIO24", mount_height_m = 2.5 }\n'
        'sample_hz = 4\nunit = "m"\nwarning = 0.8\nalarm = 1.2\nhysteresis = 0.05\n'
    )
    config_file.write_text(text)
    scenario = tmp_path / "level.toml"
    scenario.write_text('duration_s = 30.0\n[[step]]\nat_s = 0.0\nsensor = "air-1"\nvalue = 0.5\n')
    got = report(
        cli(
            "calibrate",
            "air-1",
            "-c",
            str(config_file),
            "--seconds",
            "1",
            "--json",
            "--point",
            "0.7",
            "--write",
            "--yes",
            "--simulate",
            str(scenario),
        )
    )
    assert got["written"] is True
    height = load_config(config_file).sensor("air-1").input.mount_height_m  # type: ignore[union-attr]
    # 0.5 m of water below a 2.5 m mount, measured as 0.7: the mount is 2.7 m (the
    # simulated echo is exact to the tick; the config keeps 3 decimals).
    assert height == pytest.approx(2.7, abs=0.002)


def test_calibrate_refuses_a_digital_sensor(tmp_path: Path) -> None:
    result = cli("calibrate", "smoke-1", "-c", str(write_config(tmp_path)), "--seconds", "1")
    assert result.returncode == 2
    assert "no analog value" in result.stderr


def test_a_calibration_point_takes_the_median_so_one_spike_does_not_move_it() -> None:
    # An HC-SR04 echo off debris, a late read: the mean moves by a fifth of the spike.
    stats = RawStats.of([2.00, 2.01, 1.99, 2.00, 2.50], seconds=1.0)
    assert stats.median == 2.00
    assert stats.mean == pytest.approx(2.10)


def test_calibrate_never_writes_thresholds_the_sensor_cannot_reach(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)  # gas-1: fault.max 1200 ppm
    before = config_file.read_text()
    cfg = load_config(config_file).sensor("gas-1")
    quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    updates = {"warning": 1000.0, "alarm": 1700.0, "hysteresis": 300.0}
    assert write_calibration(config_file, cfg, updates, quiet, quiet, yes=True) == 2
    assert config_file.read_text() == before


def test_a_record_path_that_cannot_be_written_is_refused_before_sampling(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    result = cli(
        "calibrate", "gas-1", "-c", str(config_file), "--seconds", "30",
        "--record", str(tmp_path / "no-such-dir" / "trace.csv"),
        "--simulate", str(noisy_scenario(tmp_path)),
    )  # fmt: skip
    assert result.returncode == 2
    assert "no such directory" in result.stderr
    assert "reading gas-1" not in result.stderr  # refused before any sampling


@pytest.mark.parametrize(("option", "value"), [("--seconds", "nan"), ("--seconds", "inf"),
                                               ("--seconds", "0"), ("--point", "nan")])  # fmt: skip
def test_a_number_option_that_is_not_a_finite_number_is_a_usage_error(
    tmp_path: Path, option: str, value: str
) -> None:
    result = cli("calibrate", "gas-1", "-c", str(write_config(tmp_path)), option, value)
    assert result.returncode == 2
    assert f"argument {option}:" in result.stderr


def test_a_second_point_at_the_same_level_replaces_a_mistyped_first(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    base = ["calibrate", "gas-1", "-c", str(config_file), "--seconds", "0.3", "--json"]
    at_zero = str(level_scenario(tmp_path, 0))
    report(cli(*base, "--point", "7", "--simulate", at_zero))  # a typo: it was 0
    again = report(cli(*base, "--point", "0", "--simulate", at_zero))
    assert any(note.startswith("point 1 replaced") for note in again["notes"])
    final = second_point_written(base, tmp_path)
    assert final["written"] is True
    cal = load_config(config_file).sensor("gas-1").calibration
    assert cal is not None and cal.value == (0.0, 250.0)


def test_a_simulated_run_keeps_its_baseline_apart_from_the_real_sensors(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    report(
        cli("calibrate", "gas-1", "-c", str(config_file), "--seconds", "0.3", "--json",
            "--simulate", str(noisy_scenario(tmp_path)))
    )  # fmt: skip
    store_dir = load_config(config_file).storage.path.parent
    assert (store_dir / "calibration.simulated.json").exists()
    assert not (store_dir / "calibration.json").exists()


def test_write_without_a_terminal_to_confirm_on_needs_yes_before_sampling(
    tmp_path: Path,
) -> None:
    config_file = write_config(tmp_path)
    before = config_file.read_text()
    base = ["calibrate", "gas-1", "-c", str(config_file), "--seconds", "0.3"]
    cli(*base, "--point", "0", "--simulate", str(level_scenario(tmp_path, 0)))
    state = tmp_path / "calibration.simulated.json"
    pending = state.read_text()
    result = cli(
        *base, "--point", "250", "--write", "--simulate", str(level_scenario(tmp_path, 500))
    )
    assert result.returncode == 2
    assert "no terminal to confirm --write on; add --yes" in result.stderr
    assert "samples" not in result.stderr + result.stdout  # refused before sampling
    assert state.read_text() == pending  # the second point was never taken
    assert config_file.read_text() == before


def test_thresholds_are_never_written_from_a_simulated_baseline(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    before = config_file.read_text()
    result = cli(
        "calibrate", "gas-1", "-c", str(config_file), "--seconds", "0.3",
        "--thresholds", "--write", "--yes", "--simulate", str(noisy_scenario(tmp_path)),
    )  # fmt: skip
    assert result.returncode == 2
    assert "would write a simulated baseline's thresholds" in result.stderr
    assert config_file.read_text() == before


def test_suggestions_never_lower_a_configured_threshold_without_force(tmp_path: Path) -> None:
    cfg = gas(tmp_path)  # warning 300, alarm 600, hysteresis 50 ppm
    suggested = {"warning": 20.0, "alarm": 34.0, "hysteresis": 5.0}
    kept, notes = never_closer(cfg, suggested)
    assert kept == {}
    assert notes[1] == (
        "kept the configured alarm 600: the suggestion 34 is closer to the baseline "
        "(give --force to write it anyway)"
    )
    assert never_closer(cfg, suggested, force=True)[0] == suggested


def test_suggestions_further_from_the_baseline_than_configured_are_written(
    tmp_path: Path,
) -> None:
    kept, notes = never_closer(gas(tmp_path), {"warning": 350.0, "alarm": 700.0})
    assert (kept, notes) == ({"warning": 350.0, "alarm": 700.0}, [])


def test_calibrate_thresholds_keeps_the_configured_alarm_its_check_passed(
    tmp_path: Path, mock_factory: MockFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reported case: a quiet baseline suggested alarm 34 ppm where 600 was set and
    its own check said "416 sigma from the baseline"; 600 must stay."""
    config_file = write_config(tmp_path)
    before = config_file.read_text()
    running = tool_daemon(config_file, mock_factory)
    try:
        code = main(
            ["calibrate", "gas-1", "-c", str(config_file), "--seconds", "0.6",
             "--thresholds", "--write", "--yes", "--json"]
        )  # fmt: skip
    finally:
        running.stop()
    got = json.loads([ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")][-1])
    assert code == 0
    assert got["suggested"]["alarm"] < 600.0  # what the quiet run alone would allow
    assert config_file.read_text() == before
    assert any("kept the configured alarm 600" in n for n in got["notes"])


def test_the_normal_base_stage_is_not_reported_as_tripping_on_noise(tmp_path: Path) -> None:
    cfg = (
        load_config(write_config(tmp_path))
        .sensor("gas-1")
        .model_copy(
            update={
                "warning": None,
                "alarm": None,
                "stages": [
                    Stage(name="Siaga IV", level=0.0, state=StageState.NORMAL),
                    Stage(name="Siaga I", level=600.0, state=StageState.ALARM),
                ],
            }
        )
    )
    checks = suggest(cfg, stats(BASE_PPM, NOISE_PPM, 40.0, 60.0)).checks
    assert [text for ok, text in checks if not ok] == []
    assert "Siaga IV" not in " ".join(text for _, text in checks)


def test_replay_refuses_a_plot_format_it_cannot_draw_before_replaying(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    trace = tmp_path / "t.csv"
    trace.write_text("t_s,value\n0,100\n1,100\n")
    result = cli("replay", "gas-1", str(trace), "-c", str(config_file), "--plot", "x.txt")
    assert result.returncode == 2
    assert "name a .pdf, .png, .svg file" in result.stderr
    assert "Traceback" not in result.stderr


def test_pins_that_cannot_be_opened_are_a_message_not_a_traceback(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    config_file.write_text(
        config_file.read_text().replace('pin_factory = "mock"', 'pin_factory = "lgpio"')
    )
    result = cli("calibrate", "gas-1", "-c", str(config_file), "--seconds", "0.3")
    assert result.returncode == 1
    assert "siaga-edge calibrate: cannot read gas-1:" in result.stderr
    assert "Traceback" not in result.stderr
