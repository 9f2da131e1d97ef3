"""Local annunciation on gpiozero mock pins: it works with no network at all."""

from __future__ import annotations

import time

from gpiozero.pins.mock import MockFactory

from edge.config import OutputsConfig
from edge.detect.types import State
from edge.outputs import Annunciator, Pattern, led_pattern


def outputs(factory: MockFactory) -> Annunciator:
    return Annunciator(OutputsConfig(siren_pin="GPIO27", status_led_pin="GPIO22"), factory)


def test_led_is_steady_when_all_is_normal() -> None:
    assert led_pattern([State.NORMAL, State.DISABLED]) is Pattern.STEADY


def test_led_blinks_slowly_for_anything_that_needs_a_look() -> None:
    for state in (State.WARNING, State.FAULT, State.STARTING):
        assert led_pattern([State.NORMAL, state]) is Pattern.SLOW


def test_led_blinks_fast_on_an_alarm_whatever_else() -> None:
    assert led_pattern([State.FAULT, State.ALARM, State.WARNING]) is Pattern.FAST


def test_siren_sounds_while_an_alarm_is_unacknowledged(mock_factory: MockFactory) -> None:
    ann = outputs(mock_factory)
    siren = mock_factory.pin("GPIO27")
    ann.update([State.ALARM], unacked_alarms=1)
    assert siren.state
    ann.update([State.NORMAL], unacked_alarms=1)  # cleared but not yet acknowledged
    assert siren.state
    ann.update([State.NORMAL], unacked_alarms=0)
    assert not siren.state
    ann.close()


def test_status_led_pin_toggles_while_blinking(mock_factory: MockFactory) -> None:
    ann = outputs(mock_factory)
    led = mock_factory.pin("GPIO22")
    ann.update([State.ALARM], unacked_alarms=0)
    seen = set()
    deadline = time.monotonic() + 2
    while len(seen) < 2 and time.monotonic() < deadline:
        seen.add(led.state)
        time.sleep(0.01)
    assert seen == {True, False}
    ann.update([State.NORMAL], unacked_alarms=0)
    time.sleep(0.05)
    assert led.state
    ann.close()


def test_a_raised_alarm_sounds_the_siren_at_once_and_an_ack_silences_it() -> None:
    factory = MockFactory()
    out = outputs(factory)
    out.alarm_raised()
    assert factory.pin("GPIO27").state
    out.update([State.ALARM], unacked_alarms=1)
    assert factory.pin("GPIO27").state
    out.update([State.ALARM], unacked_alarms=0)
    assert not factory.pin("GPIO27").state
    out.close()
