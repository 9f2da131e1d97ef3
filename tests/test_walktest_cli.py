"""``siaga-edge test``: walk and siren tests go to the running daemon, or nowhere.

The daemon's side is the control channel's port (edge.control.TestOps); here a small
site object implements it with the real parts the daemon uses for it: the WalkTest
bookkeeping and the annunciator on gpiozero mock pins, behind a real control socket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from gpiozero.pins.mock import MockFactory
from tools_support import cli, write_config

from edge.config import OutputsConfig, load_config
from edge.control import ControlServer, ControlService
from edge.outputs import Annunciator
from edge.walktest import WalkTest

T = TypeVar("T")


class Site:
    """The daemon's side of ``siaga-edge test``, as TestOps asks for it."""

    def __init__(self, sensors: list[str], factory: MockFactory) -> None:
        self.walk = WalkTest(sensors)
        self.outputs = Annunciator(OutputsConfig(siren_pin="GPIO27"), factory)
        self.lock = threading.Lock()
        self.audit: list[tuple[str, str]] = []

    def call(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        with self.lock:
            return fn()

    def readings(self) -> list[dict[str, Any]]:
        return []

    def drill_start(self, request: dict[str, Any], who: str) -> dict[str, Any]:
        raise NotImplementedError

    def drill_status(self, since: int = 0) -> dict[str, Any]:
        raise NotImplementedError

    def drill_stop(self, who: str) -> dict[str, Any]:
        raise NotImplementedError

    def tap(self, sensor: str, action: str) -> list[list[float | None]]:
        return []

    def walk_test_start(self, sensors: list[str], minutes: float, who: str) -> dict[str, Any]:
        now = time.monotonic()
        changes = self.walk.start(sensors, minutes, now, who)
        self.audit += [(c.kind.value, c.sensor) for c in changes]
        return {
            "sensors": [c.sensor for c in changes],
            "minutes": minutes,
            "remaining_s": minutes * 60,
        }

    def walk_test_stop(self, sensors: list[str] | None, who: str) -> dict[str, Any]:
        changes = self.walk.stop(sensors, time.monotonic())
        self.audit += [(c.kind.value, c.sensor) for c in changes]
        return {"sensors": [c.sensor for c in changes]}

    def walk_test_status(self) -> dict[str, Any]:
        return {"sensors": self.walk.status(time.monotonic())}

    def siren_test(self, seconds: float, who: str) -> dict[str, Any]:
        self.outputs.siren_test(time.monotonic(), seconds)
        return {"seconds": seconds}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def site(config_file: Path, mock_factory: MockFactory) -> Iterator[Site]:
    config = load_config(config_file)
    running = Site([s.id for s in config.sensors], mock_factory)
    server = ControlServer(config.control.socket, ControlService(running))
    server.start()
    yield running
    server.stop()
    running.outputs.close()


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
    config_file: Path, site: Site
) -> None:
    result = cli("test", "smoke-1", "--minutes", "15", "-c", str(config_file))
    assert result.returncode == 0, result.stderr
    assert "UJI / TEST" in result.stderr and "smoke-1" in result.stderr
    assert site.walk.in_test("smoke-1", time.monotonic())
    assert not site.walk.in_test("gas-1", time.monotonic())
    assert site.audit == [("start", "smoke-1")]


def test_all_puts_every_sensor_in_test_and_stop_ends_it(config_file: Path, site: Site) -> None:
    assert cli("test", "all", "-c", str(config_file)).returncode == 0
    assert sorted(site.walk.windows) == ["gas-1", "smoke-1"]
    status = cli("test", "--status", "-c", str(config_file))
    assert "smoke-1" in status.stdout and "min left" in status.stdout
    result = cli("test", "--stop", "-c", str(config_file))
    assert result.returncode == 0, result.stderr
    assert site.walk.windows == {}
    assert ("end", "gas-1") in site.audit


def test_the_siren_test_sounds_the_siren_on_the_daemons_pins(
    config_file: Path, site: Site, mock_factory: MockFactory
) -> None:
    result = cli("test", "--siren", "3", "-c", str(config_file))
    assert result.returncode == 0, result.stderr
    assert mock_factory.pin("GPIO27").state
    assert site.outputs.deadline() is not None


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
