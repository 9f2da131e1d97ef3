"""deploy/install.sh into a throwaway root: idempotent, keeps the site's config and data."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge import __version__

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "deploy" / "install.sh"
UNIT = "etc/systemd/system/siaga-edge.service"
CONFIG = "etc/siaga-edge/config.toml"
VENV = "opt/siaga-edge/venv"
OUTBOX = "var/lib/siaga-edge/outbox.sqlite3"


def run_install(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """install.sh into ``root``; this checkout's siaga-edge is on PATH to check configs
    with when there is no venv in the root."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    return subprocess.run(
        ["bash", str(INSTALL), "--prefix", str(root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**env, "PIP_PROGRESS_BAR": "off", "PATH": path, "PYTHONPATH": str(REPO)},
        check=False,
    )


def install(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = run_install(root, *args, timeout=timeout)
    assert result.returncode == 0, f"install.sh {' '.join(args)} failed:\n{result.stderr}"
    return result


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path under root with its mode, mtime, size and content hash (or link target)."""
    state: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            detail: object = os.readlink(path)
        elif path.is_file():
            detail = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            detail = None
        state[str(path.relative_to(root))] = (info.st_mode, info.st_mtime_ns, info.st_size, detail)
    return state


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


# ---------------------------------------------------------------- files (fast, no venv)


def test_install_puts_the_repo_unit_in_place(tmp_path: Path) -> None:
    install(tmp_path, "--no-venv")
    unit = tmp_path / UNIT
    assert unit.read_bytes() == (REPO / "systemd" / "siaga-edge.service").read_bytes()
    assert mode(unit) == 0o644


def test_install_creates_the_config_from_the_example_with_mode_0640(tmp_path: Path) -> None:
    install(tmp_path, "--no-venv")
    config = tmp_path / CONFIG
    assert config.read_bytes() == (REPO / "edge" / "data" / "config.example.toml").read_bytes()
    assert mode(config) == 0o640
    assert mode(config.parent) == 0o750


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    install(tmp_path, "--no-venv")
    before = snapshot(tmp_path)
    install(tmp_path, "--no-venv")
    assert snapshot(tmp_path) == before


def test_edited_config_is_never_overwritten(tmp_path: Path) -> None:
    install(tmp_path, "--no-venv")
    config = tmp_path / CONFIG
    edited = config.read_text().replace('device = "pi-blok-a"', 'device = "pi-blok-c"')
    config.write_text(edited)
    install(tmp_path, "--no-venv")
    assert config.read_text() == edited
    assert mode(config) == 0o640


def test_a_first_install_does_not_start_the_daemon_on_the_untouched_example(
    tmp_path: Path,
) -> None:
    result = install(tmp_path, "--no-venv")
    assert "not starting siaga-edge.service" in result.stdout
    assert "still the shipped example" in result.stdout
    assert "siaga-edge check-config" in result.stdout and "--enable" in result.stdout
    assert "config checked" not in result.stdout


def test_enable_is_refused_while_the_config_is_the_untouched_example(tmp_path: Path) -> None:
    result = run_install(tmp_path, "--no-venv", "--enable")
    assert result.returncode == 1
    assert "not enabled" in result.stderr and "still the shipped example" in result.stderr


def test_enable_is_refused_on_an_edited_config_check_config_refuses(tmp_path: Path) -> None:
    install(tmp_path, "--no-venv")
    config = tmp_path / CONFIG
    config.write_text(config.read_text().replace('device = "pi-blok-a"', 'device = "Pi Blok A"'))
    result = run_install(tmp_path, "--no-venv", "--enable")
    assert result.returncode == 1
    assert "check-config refuses" in result.stderr
    assert "site.device" in result.stderr


def test_enable_goes_ahead_on_an_edited_valid_config(tmp_path: Path) -> None:
    install(tmp_path, "--no-venv")
    config = tmp_path / CONFIG
    config.write_text(config.read_text().replace('device = "pi-blok-a"', 'device = "pi-blok-c"'))
    result = run_install(tmp_path, "--no-venv", "--enable")
    assert result.returncode == 0, result.stderr
    assert "config checked" in result.stdout
    assert "systemctl enable --now siaga-edge.service" in result.stdout  # no systemd here


def test_rerun_restores_a_changed_unit(tmp_path: Path) -> None:
    # An upgrade is the same command: an installed unit that differs from the checkout's
    # (an older version, a hand edit) is replaced; local changes belong in a drop-in.
    install(tmp_path, "--no-venv")
    unit = tmp_path / UNIT
    unit.write_text("[Service]\nExecStart=/bin/false\n")
    install(tmp_path, "--no-venv")
    assert unit.read_bytes() == (REPO / "systemd" / "siaga-edge.service").read_bytes()


def test_siaga_root_environment_variable_acts_as_prefix(tmp_path: Path) -> None:
    subprocess.run(
        ["bash", str(INSTALL), "--no-venv"],
        env={**os.environ, "SIAGA_ROOT": str(tmp_path)},
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert (tmp_path / UNIT).is_file()
    assert (tmp_path / CONFIG).is_file()


def test_uninstall_removes_the_program_and_keeps_config_and_data(tmp_path: Path) -> None:
    install(tmp_path, "--no-venv")
    config = tmp_path / CONFIG
    config.write_text(config.read_text() + "\n# edited on site\n")
    outbox = tmp_path / OUTBOX
    outbox.parent.mkdir(parents=True)
    outbox.write_bytes(b"SQLite format 3\x00 undelivered events")
    install(tmp_path, "--uninstall")
    assert not (tmp_path / UNIT).exists()
    assert not (tmp_path / "opt" / "siaga-edge").exists()
    assert config.read_text().endswith("# edited on site\n")
    assert outbox.read_bytes() == b"SQLite format 3\x00 undelivered events"


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(INSTALL), "--prefix", str(tmp_path), "--frobnicate"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert "--frobnicate" in result.stderr
    assert not (tmp_path / UNIT).exists()


def test_script_is_shellcheck_clean() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    result = subprocess.run(
        ["shellcheck", str(INSTALL)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout


# ---------------------------------------------------------------- the venv (slow: pip)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full install (venv + pip install of this checkout) shared by the slow tests."""
    root = tmp_path_factory.mktemp("root")
    install(root, timeout=600)
    return root


@pytest.mark.faults
def test_venv_runs_siaga_edge_version(installed: Path) -> None:
    result = subprocess.run(
        [str(installed / VENV / "bin" / "siaga-edge"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == f"siaga-edge {__version__}"


@pytest.mark.faults
def test_venv_sees_the_system_site_packages(installed: Path) -> None:
    # The distribution's python3-lgpio (GPIO on Bookworm) is only reachable this way.
    cfg = (installed / VENV / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = true" in cfg


@pytest.mark.faults
def test_command_is_linked_into_usr_local_bin(installed: Path) -> None:
    link = installed / "usr" / "local" / "bin" / "siaga-edge"
    assert os.readlink(link) == "/opt/siaga-edge/venv/bin/siaga-edge"


@pytest.mark.faults
def test_second_full_run_changes_nothing_and_skips_pip(installed: Path) -> None:
    before = snapshot(installed)
    result = install(installed)
    assert "pip install" not in result.stdout
    assert snapshot(installed) == before


# ---------------------------------------------------------------- months on a Pi (issue 15)

JOURNALD = "etc/systemd/journald.conf.d/siaga-edge.conf"
WATCHDOG = "etc/systemd/system.conf.d/siaga-edge-watchdog.conf"
DATA_DROPIN = "etc/systemd/system/siaga-edge.service.d/data-dir.conf"


def test_install_caps_journald_and_arms_the_hardware_watchdog(tmp_path: Path) -> None:
    install(tmp_path, "--no-venv")
    assert (tmp_path / JOURNALD).read_bytes() == (
        REPO / "deploy" / "systemd" / "journald-siaga.conf"
    ).read_bytes()
    assert "RuntimeWatchdogSec=15s" in (tmp_path / WATCHDOG).read_text()


def test_data_dir_points_the_outbox_at_a_writable_data_partition(tmp_path: Path) -> None:
    install(tmp_path, "--no-venv", "--data-dir", "/data/siaga-edge")
    dropin = (tmp_path / DATA_DROPIN).read_text()
    assert "ReadWritePaths=/data/siaga-edge\n" in dropin
    assert "Environment=SIAGA_STORAGE__PATH=/data/siaga-edge/outbox.sqlite3\n" in dropin
    assert (tmp_path / "data" / "siaga-edge").is_dir()


def test_a_second_run_with_data_dir_changes_nothing(tmp_path: Path) -> None:
    install(tmp_path, "--no-venv", "--data-dir", "/data/siaga-edge")
    before = snapshot(tmp_path)
    install(tmp_path, "--no-venv", "--data-dir", "/data/siaga-edge")
    assert snapshot(tmp_path) == before


def test_a_relative_data_dir_is_refused(tmp_path: Path) -> None:
    result = run_install(tmp_path, "--no-venv", "--data-dir", "data")
    assert result.returncode != 0 and "absolute" in result.stderr


def test_uninstall_removes_the_drop_ins(tmp_path: Path) -> None:
    install(tmp_path, "--no-venv", "--data-dir", "/data/siaga-edge")
    install(tmp_path, "--uninstall")
    assert not any((tmp_path / p).exists() for p in (JOURNALD, WATCHDOG, DATA_DROPIN))
