"""``siaga-edge test``: walk and siren tests go to the running daemon, or nowhere.

The daemon is the real one, on gpiozero mock pins, behind its real control socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from gpiozero.pins.mock import MockFactory
from harness import ThreadedDaemon
from tools_support import cli, tool_daemon, write_config

from edge.config import load_config
from edge.control import ControlServer, ControlService

T = TypeVar("T")


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def site(config_file: Path, mock_factory: MockFactory) -> Iterator[ThreadedDaemon]:
    """The real daemon on mock pins, its control socket the command's only way in."""
    running = tool_daemon(config_file, mock_factory)
    yield running
    running.stop()


def in_test(site: ThreadedDaemon, sensor: str) -> bool:
    d = site.daemon
    return d.call(lambda: d.walk.in_test(sensor, d.clock.monotonic()))


def audited(site: ThreadedDaemon) -> list[str]:
    return [name for _, name, _ in site.daemon.call(site.daemon.outbox.audit_log)]


@pytest.mark.parametrize("args", [["smoke-1"], ["all"], ["--siren", "5"]])
def test_without_a_running_daemon_a_test_is_refused_with_exit_1(
    config_file: Path, args: list[str]
) -> None:
    result = cli("test", *args, "-c", str(config_file))
    assert result.returncode == 1
    assert "no daemon answers on" in result.stderr
    assert "a test runs on the running daemon" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_walk_test_puts_the_named_sensors_in_test_on_the_daemon(
    config_file: Path, site: ThreadedDaemon
) -> None:
    result = cli("test", "smoke-1", "--minutes", "15", "-c", str(config_file))
    assert result.returncode == 0, result.stderr
    assert "UJI / TEST" in result.stderr and "smoke-1" in result.stderr
    assert in_test(site, "smoke-1")
    assert not in_test(site, "gas-1")
    assert audited(site).count("walk_test_start") == 1


def test_all_puts_every_sensor_in_test_and_stop_ends_it(
    config_file: Path, site: ThreadedDaemon
) -> None:
    assert cli("test", "all", "-c", str(config_file)).returncode == 0
    assert in_test(site, "gas-1") and in_test(site, "smoke-1")
    status = cli("test", "--status", "-c", str(config_file))
    assert "smoke-1" in status.stdout and "min left" in status.stdout
    result = cli("test", "--stop", "-c", str(config_file))
    assert result.returncode == 0, result.stderr
    assert not in_test(site, "gas-1") and not in_test(site, "smoke-1")
    assert audited(site).count("walk_test_end") == 2


def test_the_siren_test_sounds_the_siren_on_the_daemons_pins(
    config_file: Path, site: ThreadedDaemon, mock_factory: MockFactory
) -> None:
    result = cli("test", "--siren", "3", "-c", str(config_file))
    assert result.returncode == 0, result.stderr
    assert mock_factory.pin("GPIO27").state
    assert site.daemon.call(site.daemon.annunciator.deadline) is not None


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["smoke-x"], "no sensor 'smoke-x' in the config"),
        (["--siren", "600"], "--siren lasts at most 60 s"),
        (["--minutes", "1000", "smoke-1"], "--minutes is at most 240"),
        ([], "name the sensors to test"),
        (["smoke-1", "--siren", "3"], "give sensors, or one of"),
    ],
)
def test_a_request_that_makes_no_sense_is_bad_usage(
    config_file: Path, args: list[str], says: str
) -> None:
    result = cli("test", *args, "-c", str(config_file))
    assert result.returncode == 2
    assert says in result.stderr


def test_a_daemon_without_walk_tests_says_so(config_file: Path, mock_factory: MockFactory) -> None:
    class Older:
        def call(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
            return fn()

    config = load_config(config_file)
    server = ControlServer(config.control.socket, ControlService(Older()))  # type: ignore[arg-type]
    server.start()
    try:
        result = cli("test", "smoke-1", "-c", str(config_file))
    finally:
        server.stop()
    assert result.returncode == 1
    assert "does not support walk or siren tests" in result.stderr
