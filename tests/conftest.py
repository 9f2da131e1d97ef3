"""Shared fixtures: a real mosquitto broker and gpiozero mock pins."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from harness import Listener

sys.path.insert(0, str(Path(__file__).parent))

from broker import Mosquitto

from edge import logs


@pytest.fixture(autouse=True)
def _logs_into_the_test_capture() -> None:
    """Each test's in-process logs go to its own captured stderr (shown when it fails),
    not to the terminal between the dots."""
    logs.configure(level="debug", fmt="console", stream=sys.stderr)


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
