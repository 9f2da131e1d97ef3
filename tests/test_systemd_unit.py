"""systemd/siaga-edge.service: valid for systemd, sandboxed, and true to the daemon's needs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edge.config import ControlConfig, StorageConfig

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "siaga-edge.service"
EXEC = "/opt/siaga-edge/venv/bin/siaga-edge"
MAX_EXPOSURE = 2.0

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def directives(section: str) -> dict[str, list[str]]:
    """Every ``Key=value`` of one section, in order; keys may repeat (DeviceAllow=...)."""
    found: dict[str, list[str]] = {}
    current = None
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            continue
        if current == section:
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def one(section: str, key: str) -> str:
    values = directives(section).get(key)
    assert values, f"[{section}] has no {key}="
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
def test_unit_verifies_without_any_warning(tmp_path: Path) -> None:
    # The one thing verify cannot accept here is the absent venv binary, so the copy points
    # ExecStart at a real executable; every other line is verified as shipped.
    daemon = tmp_path / "siaga-edge"
    daemon.write_text("#!/bin/sh\nexit 0\n")
    daemon.chmod(0o755)
    text = UNIT.read_text()
    assert text.count(EXEC) == 1
    copy = tmp_path / "siaga-edge.service"
    copy.write_text(text.replace(EXEC, str(daemon)))
    result = analyze("verify", str(copy))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
    assert result.stdout.strip() == ""


@needs_analyze
def test_security_exposure_is_at_most_2() -> None:
    result = analyze("security", "--offline=true", str(UNIT))
    assert result.returncode == 0, result.stderr
    assert "Invalid syntax" not in result.stderr, result.stderr
    match = re.search(r"Overall exposure level for siaga-edge\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


def test_type_is_notify_from_the_main_process_only() -> None:
    assert one("Service", "Type") == "notify"
    assert one("Service", "NotifyAccess") == "main"


def test_watchdog_is_30_seconds() -> None:
    assert one("Service", "WatchdogSec") == "30"


def test_restarts_always_and_never_hits_a_start_limit() -> None:
    assert one("Service", "Restart") == "always"
    assert one("Service", "RestartSec") == "5"
    assert one("Unit", "StartLimitIntervalSec") == "0"
    assert "StartLimitIntervalSec" not in directives("Service")


def test_exec_start_runs_the_daemon_on_the_site_config() -> None:
    assert one("Service", "ExecStart") == f"{EXEC} run -c /etc/siaga-edge/config.toml"


def test_reload_sends_sighup_to_the_daemon() -> None:
    assert one("Service", "ExecReload") == "/bin/kill -HUP $MAINPID"


def test_stop_is_bounded_and_signals_the_main_process_first() -> None:
    assert one("Service", "KillMode") == "mixed"
    assert one("Service", "TimeoutStopSec") == "20"


def test_runs_as_siaga_with_gpio_and_spi_groups() -> None:
    assert one("Service", "User") == "siaga"
    assert one("Service", "Group") == "siaga"
    assert set(one("Service", "SupplementaryGroups").split()) == {"gpio", "spi"}


def test_private_devices_is_not_enabled() -> None:
    # PrivateDevices=yes would hide /dev/gpiochip* and /dev/spidev*.
    assert directives("Service").get("PrivateDevices", ["no"])[-1] in {"no", "false", "0"}


def test_device_allow_grants_gpiochip_and_spidev_behind_a_closed_policy() -> None:
    assert one("Service", "DevicePolicy") == "closed"
    allowed = directives("Service")["DeviceAllow"]
    assert "char-gpiochip rw" in allowed
    assert "char-spi rw" in allowed  # spidev's major is named "spi" in /proc/devices
    assert "/dev/gpiomem rw" in allowed


def test_directories_match_the_config_defaults() -> None:
    # The outbox and control socket defaults must land in directories systemd creates for
    # us; under ProtectSystem=strict nothing else is writable.
    assert one("Service", "ProtectSystem") == "strict"
    state = Path("/var/lib") / one("Service", "StateDirectory")
    runtime = Path("/run") / one("Service", "RuntimeDirectory")
    assert StorageConfig().path.parent == state
    assert ControlConfig().socket.parent == runtime
    assert one("Service", "ConfigurationDirectory") == "siaga-edge"


def test_mqtt_password_credential_is_loaded_and_its_absence_not_fatal() -> None:
    load = one("Service", "LoadCredential")
    assert load == "mqtt-password:/etc/siaga-edge/mqtt-password"
    # A SetCredential= of the same ID is the fallback that makes a missing file non-fatal.
    fallbacks = [v.partition(":")[0] for v in directives("Service").get("SetCredential", [])]
    assert "mqtt-password" in fallbacks


def test_has_no_capabilities() -> None:
    assert one("Service", "CapabilityBoundingSet") == ""
    assert one("Service", "AmbientCapabilities") == ""
    assert one("Service", "NoNewPrivileges") == "yes"


def test_is_enabled_for_boot() -> None:
    assert one("Install", "WantedBy") == "multi-user.target"


# ---------------------------------------------------------------- the deploy kit's drop-ins

KIT = Path(__file__).resolve().parent.parent / "deploy" / "systemd"


def settings(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, value
    return float(match.group(1)) * (60 if match.group(2) == "min" else 1)


def test_the_hardware_watchdog_is_set_within_what_the_pi_can_do() -> None:
    """The BCM2835 watchdog tops out near 15-16 s: longer leaves it unarmed."""
    assert 0 < seconds(settings(KIT / "watchdog-siaga.conf")["RuntimeWatchdogSec"]) <= 15


def test_journald_is_capped_in_size_and_rate() -> None:
    journal = settings(KIT / "journald-siaga.conf")
    assert journal["SystemMaxUse"] == "64M" and journal["RuntimeMaxUse"] == "16M"
    assert seconds(journal["RateLimitIntervalSec"]) > 0 and int(journal["RateLimitBurst"]) > 0


def test_the_unit_sandbox_lets_the_daemon_read_the_platform_facts() -> None:
    """mountinfo is per process (ProcSubset=pid keeps it); sysfs stays readable."""
    assert one("Service", "ProcSubset") == "pid"
    assert "ProtectKernelTunables" in directives("Service")
