"""Local annunciation on gpiozero mock pins: it works with no network at all."""

from __future__ import annotations

import time

import pytest
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


@pytest.mark.parametrize("active_low", [False, True])
def test_the_siren_pin_follows_the_configured_polarity(
    mock_factory: MockFactory, active_low: bool
) -> None:
    """Many relay boards switch on a LOW input: with siren_active_low the pin rests high
    (silent) from the moment it is opened, and goes low for an alarm."""
    ann = Annunciator(OutputsConfig(siren_pin="GPIO27", siren_active_low=active_low), mock_factory)
    siren = mock_factory.pin("GPIO27")
    assert siren.state is active_low  # silent at start
    ann.update([State.ALARM], unacked_alarms=1)
    assert siren.state is not active_low  # sounding
    ann.update([State.NORMAL], unacked_alarms=0)
    assert siren.state is active_low
    ann.close()


@pytest.mark.parametrize("active_low", [False, True])
def test_the_status_led_pin_follows_the_configured_polarity(
    mock_factory: MockFactory, active_low: bool
) -> None:
    ann = Annunciator(
        OutputsConfig(status_led_pin="GPIO22", status_led_active_low=active_low), mock_factory
    )
    led = mock_factory.pin("GPIO22")
    assert led.state is active_low  # dark until the first update
    ann.update([State.NORMAL], unacked_alarms=0)
    assert led.state is not active_low  # steady on: all normal
    ann.close()


def test_a_siren_test_sounds_and_blinks_for_its_time_then_shows_the_real_state_again(
    mock_factory: MockFactory,
) -> None:
    ann = outputs(mock_factory)
    siren = mock_factory.pin("GPIO27")
    ann.update([State.NORMAL], unacked_alarms=0)
    assert ann.siren_test(100.0, 5.0) == 105.0
    assert siren.state and ann.pattern is Pattern.FAST
    ann.update([State.NORMAL], unacked_alarms=0)  # the daemon's regular update: kept
    assert ann.tick(104.999) is True
    assert siren.state
    assert ann.deadline() == 105.0
    assert ann.tick(105.0) is False
    assert not siren.state and ann.pattern is Pattern.STEADY
    assert ann.deadline() is None
    ann.close()


def test_a_siren_test_ending_during_a_real_alarm_leaves_the_siren_sounding(
    mock_factory: MockFactory,
) -> None:
    ann = outputs(mock_factory)
    siren = mock_factory.pin("GPIO27")
    ann.siren_test(0.0, 5.0)
    ann.alarm_raised()
    ann.update([State.ALARM], unacked_alarms=1)
    ann.tick(5.0)
    assert siren.state and ann.pattern is Pattern.FAST
    ann.close()


@pytest.mark.parametrize("seconds", [0.0, -1.0, 61.0])
def test_a_siren_test_is_bounded(mock_factory: MockFactory, seconds: float) -> None:
    ann = outputs(mock_factory)
    with pytest.raises(ValueError, match="at most 60 s"):
        ann.siren_test(0.0, seconds)
    assert not mock_factory.pin("GPIO27").state
    ann.close()
