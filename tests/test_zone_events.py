"""Zone events: what the control room receives from a zone and from its members."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from edge.config import Language, load_config
from edge.detect.types import Reason, State, Transition
from edge.events import EventBuilder
from edge.payloads import Event

EXAMPLE = Path(__file__).parents[1] / "edge" / "data" / "config.example.toml"


@pytest.fixture(scope="module")
def builder() -> EventBuilder:
    return EventBuilder(load_config(EXAMPLE))


def build(builder: EventBuilder, tr: Transition) -> Event:
    return builder.sensor_event(tr, seq=1, event_id="x", wall=1_741_659_641.503)


def test_a_zone_event_is_an_event_of_the_zone_naming_the_members_that_made_it(
    builder: EventBuilder,
) -> None:
    tr = Transition(
        5.0,
        "gempa-blok-a",
        State.ALARM,
        State.WARNING,
        Reason.COINCIDENCE,
        value=2.0,
        threshold=2.0,
        zone="gempa-blok-a",
        members=("getar-fondasi", "getar-atap"),
    )
    event = build(builder, tr)
    assert (event.sensor, event.zone, event.kind.value, event.hazard.value) == (
        "gempa-blok-a",
        "gempa-blok-a",
        "vibration",
        "earthquake",
    )
    assert event.members == ["getar-fondasi", "getar-atap"]
    assert (event.value, event.threshold, event.unit) == (2.0, 2.0, "")
    assert event.requires_ack
    assert (
        event.message
        == "GEMPA: getaran kuat di Gedung utama, Blok A (serentak: Fondasi, Balok atap)"
    )


def test_a_member_event_is_flagged_with_its_zone(builder: EventBuilder) -> None:
    tr = Transition(5.0, "getar-atap", State.WARNING, State.NORMAL, Reason.STA_LTA)
    event = build(builder, replace(tr, zone="gempa-blok-a"))
    assert (event.sensor, event.zone, event.members) == ("getar-atap", "gempa-blok-a", [])


def test_a_pre_alarm_says_it_waits_for_confirmation(builder: EventBuilder) -> None:
    tr = Transition(
        5.0,
        "dapur",
        State.WARNING,
        State.NORMAL,
        Reason.CONFIRMING,
        zone="dapur",
        members=("smoke-dapur",),
    )
    event = build(builder, tr)
    assert event.severity.value == "warning" and not event.requires_ack
    assert event.message == (
        "PRA-ALARM KEBAKARAN: detektor Dapur di zona Dapur, Blok A dalam alarm, "
        "menunggu konfirmasi (detektor kedua, atau 60 detik)"
    )


def test_a_pressed_call_point_says_so_in_english_too() -> None:
    config = load_config(EXAMPLE)
    english = EventBuilder(
        config.model_copy(update={"site": config.site.model_copy(update={"language": Language.EN})})
    )
    own = Transition(5.0, "titik-dapur", State.ALARM, State.NORMAL, Reason.MANUAL, zone="dapur")
    zone = Transition(
        5.0,
        "dapur",
        State.ALARM,
        State.WARNING,
        Reason.MANUAL,
        zone="dapur",
        members=("titik-dapur",),
    )
    assert (
        build(english, own).message
        == "FIRE: manual call point pressed at Titik panggil dapur, Blok A"
    )
    assert build(english, zone).message == (
        "FIRE: manual call point Titik panggil dapur pressed in zone Dapur, Blok A"
    )


def test_a_stuck_member_is_a_zone_fault_that_names_it(builder: EventBuilder) -> None:
    tr = Transition(
        300.0,
        "gempa-blok-a",
        State.FAULT,
        State.NORMAL,
        Reason.STUCK_TRIGGER,
        zone="gempa-blok-a",
        members=("getar-atap",),
    )
    event = build(builder, tr)
    assert event.requires_ack and event.severity.value == "fault"
    assert "Balok atap terpicu terlalu lama" in event.message


def test_a_members_own_alarm_in_a_confirming_zone_is_a_vote_not_an_earthquake(
    builder: EventBuilder,
) -> None:
    """A door slam next to one accelerometer: the member's event names no hazard, needs
    no ack (the zone's would, if it confirmed)."""
    tr = Transition(42.0, "getar-atap", State.ALARM, State.WARNING, Reason.LEVEL, value=0.08)
    event = build(builder, replace(tr, zone="gempa-blok-a"))
    assert "GEMPA" not in event.message and "menunggu konfirmasi zona" in event.message
    assert not event.requires_ack and builder.votes(replace(tr, zone="gempa-blok-a"))


@pytest.mark.parametrize("language", ["id", "en"])
def test_a_members_vote_in_a_drill_or_a_walk_test_says_so_first(language: str) -> None:
    """Found commissioning: a drilled accelerometer's warning and alarm in a coincidence
    zone went out as "Sensor gempa di … terpicu (alarm)", with no LATIHAN, while the same
    sensor's all-clear and every other drill event start with it (docs/tools.md, drill)."""
    config = load_config(EXAMPLE)
    config = config.model_copy(
        update={"site": config.site.model_copy(update={"language": Language(language)})}
    )
    builder = EventBuilder(config)
    tr = Transition(5.0, "getar-atap", State.ALARM, State.WARNING, Reason.LEVEL, value=0.08)
    tr = replace(tr, zone="gempa-blok-a")
    drill = builder.sensor_event(tr, seq=1, event_id="x", wall=0.0, drill=True)
    test = builder.sensor_event(tr, seq=2, event_id="y", wall=0.0, test=True)
    real = builder.sensor_event(tr, seq=3, event_id="z", wall=0.0)
    words = {"id": ("LATIHAN — ", "UJI — "), "en": ("DRILL — ", "TEST — ")}
    drill_word, test_word = words[language]
    assert drill.message.startswith(drill_word) and drill.drill
    assert test.message.startswith(test_word) and test.test
    assert drill.message.removeprefix(drill_word) == real.message
    assert test.message.removeprefix(test_word) == real.message
    assert not real.message.startswith((drill_word, test_word))


def test_a_call_point_in_a_confirming_zone_is_never_a_mere_vote(builder: EventBuilder) -> None:
    tr = Transition(46.0, "titik-dapur", State.ALARM, State.NORMAL, Reason.MANUAL, zone="dapur")
    event = build(builder, tr)
    assert event.requires_ack and "titik panggil manual" in event.message
