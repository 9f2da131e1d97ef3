"""The sentence an operator reads first: hazard, place, and never a misleading word."""

from __future__ import annotations

from edge.detect.types import Reason, State
from edge.messages import describe

PLACE = {"name": "Dapur", "location": "Blok A"}


def test_an_alarm_names_the_hazard_in_capitals_and_the_place() -> None:
    text = describe(language="id", kind="smoke", state=State.ALARM, reason=Reason.CONTACT, **PLACE)
    assert text == "KEBAKARAN: asap terdeteksi di Dapur, Blok A"


def test_the_first_normal_after_start_is_ready_not_back_to_normal() -> None:
    text = describe(language="id", kind="smoke", state=State.NORMAL, reason=Reason.STARTUP, **PLACE)
    assert text == "Sensor asap di Dapur, Blok A siap: normal"
    assert "kembali" not in text


def test_a_cleared_alarm_says_back_to_normal() -> None:
    text = describe(language="en", kind="smoke", state=State.NORMAL, reason=Reason.CLEARED, **PLACE)
    assert text == "Back to normal: smoke at Dapur, Blok A"


def test_a_water_alarm_carries_the_level_and_the_stage() -> None:
    text = describe(
        language="id",
        kind="water_level",
        state=State.ALARM,
        reason=Reason.LEVEL,
        name="Selokan utara",
        location="",
        value=1.234,
        unit="m",
        stage="Siaga I",
    )
    assert text == "BANJIR: air mencapai 1.23 m di Selokan utara (Siaga I)"


def test_a_rate_alarm_says_the_water_rises_fast() -> None:
    text = describe(
        language="en",
        kind="water_level",
        state=State.ALARM,
        reason=Reason.RATE,
        value=0.61,
        unit="m",
        **PLACE,
    )
    assert text.startswith("FLOOD: water rising fast at Dapur, Blok A")


def test_a_fault_names_its_reason() -> None:
    text = describe(
        language="id", kind="water_level", state=State.FAULT, reason=Reason.NO_DATA, **PLACE
    )
    assert text == "GANGGUAN SENSOR air di Dapur, Blok A: tidak ada data"


def test_a_drill_says_so_before_anything_else() -> None:
    for language, prefix in (("id", "LATIHAN"), ("en", "DRILL")):
        text = describe(
            language=language,
            kind="vibration",
            state=State.ALARM,
            reason=Reason.STA_LTA,
            drill=True,
            **PLACE,
        )
        assert text.startswith(prefix)
