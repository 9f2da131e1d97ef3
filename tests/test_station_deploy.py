"""The station's deploy kit: its systemd unit (valid, sandboxed, true to the service's
needs), its example config, its installer."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from edge.station.config import DEFAULT_DATABASE, DEFAULT_PATH, StationConfig

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "siaga-station.service"
EXEC = "/opt/siaga-station/venv/bin/siaga-edge"
MAX_EXPOSURE = 2.0

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def directive(key: str) -> str:
    values = [
        line.partition("=")[2].strip()
        for line in UNIT.read_text().splitlines()
        if line.startswith(f"{key}=")
    ]
    assert values, f"no {key}="
    return values[-1]


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"SYSTEMD_COLORS": "0", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
        check=False,
    )


@needs_analyze
def test_the_unit_verifies_without_any_warning(tmp_path: Path) -> None:
    fake = tmp_path / "siaga-edge"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    copy = tmp_path / "siaga-station.service"
    copy.write_text(UNIT.read_text().replace(EXEC, str(fake)))
    result = analyze("verify", str(copy))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


@needs_analyze
def test_the_unit_exposure_is_at_most_2() -> None:
    result = analyze("security", "--offline=true", str(UNIT))
    match = re.search(
        r"Overall exposure level for siaga-station\.service: (\d+\.\d+)", result.stdout
    )
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE


def test_the_unit_runs_the_station_on_its_config_as_a_notify_service() -> None:
    assert directive("ExecStart") == f"{EXEC} station run -c {DEFAULT_PATH}"
    assert (directive("Type"), directive("NotifyAccess")) == ("notify", "main")
    assert directive("Restart") == "always"
    assert directive("User") == "siaga-station"


def test_the_default_archive_lives_in_the_unit_state_directory() -> None:
    state = Path("/var/lib") / directive("StateDirectory")
    assert f"sqlite:///{state}/station.sqlite3" == DEFAULT_DATABASE
    assert directive("ProtectSystem") == "strict"


def test_the_unit_needs_no_device_and_no_capability() -> None:
    assert directive("PrivateDevices") == "yes"
    assert directive("CapabilityBoundingSet") == ""


def test_the_example_config_is_valid() -> None:
    data = tomllib.loads((REPO / "edge" / "data" / "station.example.toml").read_text())
    config = StationConfig(**data)
    assert config.database.url == DEFAULT_DATABASE


def test_the_installer_puts_unit_and_config_in_place_and_keeps_an_edited_config(
    tmp_path: Path,
) -> None:
    script = REPO / "deploy" / "install-station.sh"
    run = [str(script), "--prefix", str(tmp_path), "--no-venv"]
    assert subprocess.run(run, capture_output=True, check=False).returncode == 0
    unit = tmp_path / "etc/systemd/system/siaga-station.service"
    config = tmp_path / "etc/siaga-edge/station.toml"
    assert unit.read_text() == UNIT.read_text()
    assert oct(config.stat().st_mode & 0o777) == "0o640"
    config.write_text("# edited\n")
    assert subprocess.run(run, capture_output=True, check=False).returncode == 0
    assert config.read_text() == "# edited\n"
    removed = subprocess.run([*run, "--uninstall"], capture_output=True, check=False)
    assert removed.returncode == 0 and not unit.exists() and config.exists()
