"""Shared fixtures: a real mosquitto broker and gpiozero mock pins."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from harness import Listener

sys.path.insert(0, str(Path(__file__).parent))

from broker import Mosquitto
from browserkit import Chromium, browsers
from pg import Postgres
from stationkit import StationProcess

from edge import logs


@pytest.fixture(autouse=True)
def _logs_into_the_test_capture() -> None:
    """Each test's in-process logs go to its own captured stderr (shown when it fails),
    not to the terminal between the dots."""
    logs.configure(level="debug", fmt="console", stream=sys.stderr)


@pytest.fixture(autouse=True)
def _no_station_left() -> Iterator[None]:
    """A station process a test started and did not stop (it failed halfway) is killed."""
    yield
    for station in list(StationProcess.running):
        station.kill()


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    """A fresh mosquitto on a free loopback port, with its own config and store."""
    mosq = Mosquitto().start()
    try:
        yield mosq
    finally:
        mosq.close()


@pytest.fixture
def listener(broker: Mosquitto) -> Iterator[Listener]:
    """The control room, subscribed to the device's events (faultkit.Listener)."""
    lis = Listener(broker.port)
    yield lis
    lis.close()


@pytest.fixture
def mock_factory() -> Iterator[MockFactory]:
    """gpiozero's MockFactory, also installed as the default so stray devices use mocks."""
    factory = MockFactory()
    previous = Device.pin_factory
    Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        Device.pin_factory = previous


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Postgres]:
    """One private PostgreSQL for the session (initdb in a temp folder, a free port);
    each test that wants it gets a database of its own (``database_url``)."""
    pg = Postgres().init().start()
    try:
        yield pg
    finally:
        pg.close()


@pytest.fixture
def postgres(postgres_cluster: Postgres) -> Postgres:
    return postgres_cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The station's archive on each backend in turn: the same tests run on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/station.sqlite3"
    cluster: Postgres = request.getfixturevalue("postgres_cluster")
    return cluster.new_database()


@pytest.fixture
def broker_pair() -> Iterator[tuple[Mosquitto, Mosquitto]]:
    """Two independent mosquittos: a site may fail over from one to the other."""
    first, second = Mosquitto().start(), Mosquitto().start()
    try:
        yield first, second
    finally:
        first.close()
        second.close()


@pytest.fixture
def browser_factory() -> Iterator[Callable[..., Chromium]]:
    """Real headless Chromiums (Debian's, through the system chromedriver); each one quit
    and its processes killed by PID at the end."""
    with browsers() as make:
        yield make


@pytest.fixture
def browser(browser_factory: Callable[..., Chromium]) -> Chromium:
    return browser_factory()
