"""The sentence an operator reads first: hazard, place, and never a misleading word.

The words follow the sensor's hazard (a fence is an intrusion, not an earthquake), in
both languages, and the direction of the change (down from an alarm is not "rising").
"""

from __future__ import annotations

from typing import Any

import pytest

from edge.detect.types import Reason, State
from edge.messages import describe

PLACE = {"name": "Dapur", "location": "Blok A"}
FENCE = {"name": "Pagar timur", "location": "Tembok timur"}

# (hazard, language) -> alarm, warning (reached from normal), fault (cut loop), cleared
HAZARDS: dict[tuple[str, str], tuple[str, str, str, str]] = {
    ("fire", "id"): (
        "KEBAKARAN: asap terdeteksi di Pagar timur, Tembok timur",
        "WASPADA KEBAKARAN: kadar asap naik di Pagar timur, Tembok timur",
        "GANGGUAN SENSOR kebakaran di Pagar timur, Tembok timur: kabel putus (loop terbuka)",
        "Normal kembali: sensor kebakaran di Pagar timur, Tembok timur",
    ),
    ("fire", "en"): (
        "FIRE: smoke detected at Pagar timur, Tembok timur",
        "FIRE WARNING: smoke level rising at Pagar timur, Tembok timur",
        "SENSOR FAULT, fire sensor at Pagar timur, Tembok timur: wire cut (loop open)",
        "Back to normal: the fire sensor at Pagar timur, Tembok timur",
    ),
    ("gas", "id"): (
        "KEBOCORAN GAS: gas terdeteksi di Pagar timur, Tembok timur",
        "WASPADA GAS: kadar gas naik di Pagar timur, Tembok timur",
        "GANGGUAN SENSOR gas di Pagar timur, Tembok timur: kabel putus (loop terbuka)",
        "Normal kembali: sensor gas di Pagar timur, Tembok timur",
    ),
    ("gas", "en"): (
        "GAS LEAK: gas detected at Pagar timur, Tembok timur",
        "GAS WARNING: gas level rising at Pagar timur, Tembok timur",
        "SENSOR FAULT, gas sensor at Pagar timur, Tembok timur: wire cut (loop open)",
        "Back to normal: the gas sensor at Pagar timur, Tembok timur",
    ),
    ("flood", "id"): (
        "BANJIR: air terdeteksi di Pagar timur, Tembok timur",
        "WASPADA BANJIR: permukaan air naik di Pagar timur, Tembok timur",
        "GANGGUAN SENSOR banjir di Pagar timur, Tembok timur: kabel putus (loop terbuka)",
        "Normal kembali: sensor banjir di Pagar timur, Tembok timur",
    ),
    ("flood", "en"): (
        "FLOOD: water detected at Pagar timur, Tembok timur",
        "FLOOD WARNING: water level rising at Pagar timur, Tembok timur",
        "SENSOR FAULT, flood sensor at Pagar timur, Tembok timur: wire cut (loop open)",
        "Back to normal: the flood sensor at Pagar timur, Tembok timur",
    ),
    ("earthquake", "id"): (
        "GEMPA: getaran kuat di Pagar timur, Tembok timur",
        "WASPADA GEMPA: getaran terdeteksi di Pagar timur, Tembok timur",
        "GANGGUAN SENSOR gempa di Pagar timur, Tembok timur: kabel putus (loop terbuka)",
        "Normal kembali: sensor gempa di Pagar timur, Tembok timur",
    ),
    ("earthquake", "en"): (
        "EARTHQUAKE: strong shaking at Pagar timur, Tembok timur",
        "EARTHQUAKE WARNING: vibration detected at Pagar timur, Tembok timur",
        "SENSOR FAULT, earthquake sensor at Pagar timur, Tembok timur: wire cut (loop open)",
        "Back to normal: the earthquake sensor at Pagar timur, Tembok timur",
    ),
    ("intrusion", "id"): (
        "PENYUSUPAN: aktivitas terdeteksi di Pagar timur, Tembok timur",
        "WASPADA PENYUSUPAN: kemungkinan aktivitas di Pagar timur, Tembok timur",
        "GANGGUAN SENSOR penyusupan di Pagar timur, Tembok timur: kabel putus (loop terbuka)",
        "Normal kembali: sensor penyusupan di Pagar timur, Tembok timur",
    ),
    ("intrusion", "en"): (
        "INTRUSION: activity detected at Pagar timur, Tembok timur",
        "INTRUSION WARNING: possible activity at Pagar timur, Tembok timur",
        "SENSOR FAULT, intrusion sensor at Pagar timur, Tembok timur: wire cut (loop open)",
        "Back to normal: the intrusion sensor at Pagar timur, Tembok timur",
    ),
    ("tamper", "id"): (
        "SABOTASE: perangkat diutak-atik di Pagar timur, Tembok timur",
        "WASPADA SABOTASE: kemungkinan perangkat diutak-atik di Pagar timur, Tembok timur",
        "GANGGUAN SENSOR sabotase di Pagar timur, Tembok timur: kabel putus (loop terbuka)",
        "Normal kembali: sensor sabotase di Pagar timur, Tembok timur",
    ),
    ("tamper", "en"): (
        "TAMPERING: equipment tampered with at Pagar timur, Tembok timur",
        "TAMPER WARNING: possible tampering at Pagar timur, Tembok timur",
        "SENSOR FAULT, tamper sensor at Pagar timur, Tembok timur: wire cut (loop open)",
        "Back to normal: the tamper sensor at Pagar timur, Tembok timur",
    ),
}


def say(language: str, hazard: str, state: State, reason: Reason, **extra: Any) -> str:
    return describe(language=language, hazard=hazard, state=state, reason=reason, **FENCE, **extra)


@pytest.mark.parametrize(("hazard", "language"), list(HAZARDS))
def test_every_hazard_has_its_own_words_in_both_languages(hazard: str, language: str) -> None:
    alarm, warning, fault, cleared = HAZARDS[(hazard, language)]
    assert say(language, hazard, State.ALARM, Reason.PULSES, previous=State.WARNING) == alarm
    assert say(language, hazard, State.WARNING, Reason.PULSES, previous=State.NORMAL) == warning
    assert say(language, hazard, State.FAULT, Reason.OPEN_CIRCUIT) == fault
    assert say(language, hazard, State.NORMAL, Reason.CLEARED, previous=State.ALARM) == cleared


def test_a_fence_switch_that_is_an_intrusion_never_speaks_of_an_earthquake() -> None:
    for language in ("id", "en"):
        for state in (State.ALARM, State.WARNING, State.FAULT, State.NORMAL):
            text = say(language, "intrusion", state, Reason.PULSES).lower()
            assert "gempa" not in text and "earthquake" not in text


def test_a_gas_leak_is_not_called_a_fire() -> None:
    for language in ("id", "en"):
        text = say(language, "gas", State.ALARM, Reason.LEVEL, value=650.0, unit="ppm")
        assert "KEBAKARAN" not in text and "FIRE" not in text
    assert say("id", "gas", State.ALARM, Reason.LEVEL, value=650.0, unit="ppm") == (
        "KEBOCORAN GAS: kadar gas 650.00 ppm di Pagar timur, Tembok timur"
    )


WARNING_WAYS = [
    ("id", State.NORMAL, "WASPADA BANJIR: air naik ke 0.90 m di Pagar timur, Tembok timur"),
    ("id", State.ALARM, "WASPADA BANJIR: air turun ke 0.90 m di Pagar timur, Tembok timur"),
    ("id", State.FAULT, "WASPADA BANJIR: air pada 0.90 m di Pagar timur, Tembok timur"),
    ("en", State.NORMAL, "FLOOD WARNING: water up to 0.90 m at Pagar timur, Tembok timur"),
    ("en", State.ALARM, "FLOOD WARNING: water down to 0.90 m at Pagar timur, Tembok timur"),
    ("en", State.FAULT, "FLOOD WARNING: water at 0.90 m at Pagar timur, Tembok timur"),
]


@pytest.mark.parametrize(("language", "previous", "expected"), WARNING_WAYS)
def test_a_warning_says_which_way_the_level_went(
    language: str, previous: State, expected: str
) -> None:
    text = say(
        language, "flood", State.WARNING, Reason.LEVEL, previous=previous, value=0.9, unit="m"
    )
    assert text == expected


def test_a_level_falling_from_alarm_to_warning_is_never_rising() -> None:
    for hazard in ("fire", "gas", "flood"):
        for value, unit in ((None, ""), (0.9, "m")):
            text = say(
                "id",
                hazard,
                State.WARNING,
                Reason.LEVEL,
                previous=State.ALARM,
                value=value,
                unit=unit,
            )
            assert "naik" not in text and "turun" in text
            text = say(
                "en",
                hazard,
                State.WARNING,
                Reason.LEVEL,
                previous=State.ALARM,
                value=value,
                unit=unit,
            )
            assert "rising" not in text and ("falling" in text or "down to" in text)


def test_without_a_hazard_the_kind_decides_as_the_config_defaults_do() -> None:
    text = describe(
        language="id", kind="vibration", state=State.ALARM, reason=Reason.STA_LTA, **PLACE
    )
    assert text == "GEMPA: getaran kuat di Dapur, Blok A"


def test_the_first_normal_after_start_is_ready_not_back_to_normal() -> None:
    text = say("id", "fire", State.NORMAL, Reason.STARTUP)
    assert text == "Sensor kebakaran di Pagar timur, Tembok timur siap: normal"
    assert "kembali" not in text


def test_a_water_alarm_carries_the_level_and_the_stage() -> None:
    text = describe(
        language="id",
        hazard="flood",
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
        hazard="flood",
        state=State.ALARM,
        reason=Reason.RATE,
        value=0.61,
        unit="m",
        **PLACE,
    )
    assert text.startswith("FLOOD: water rising fast at Dapur, Blok A")


@pytest.mark.parametrize(
    ("reason", "id_text", "en_text"),
    [
        (Reason.NO_DATA, "tidak ada data", "no data"),
        (Reason.OPEN_CIRCUIT, "kabel putus (loop terbuka)", "wire cut (loop open)"),
        (Reason.SHORT_CIRCUIT, "kabel terhubung singkat", "wire shorted"),
    ],
)
def test_a_fault_names_its_reason(reason: Reason, id_text: str, en_text: str) -> None:
    assert id_text in say("id", "flood", State.FAULT, reason)
    assert en_text in say("en", "flood", State.FAULT, reason)


def test_a_drill_says_so_before_anything_else() -> None:
    for language, prefix in (("id", "LATIHAN"), ("en", "DRILL")):
        text = say(language, "earthquake", State.ALARM, Reason.STA_LTA, drill=True)
        assert text.startswith(prefix)


def test_a_walk_test_event_says_uji_or_test_before_the_hazard() -> None:
    assert say("id", "intrusion", State.ALARM, Reason.PULSES, test=True) == (
        "UJI — PENYUSUPAN: aktivitas terdeteksi di Pagar timur, Tembok timur"
    )
    assert say("en", "fire", State.ALARM, Reason.CONTACT, test=True).startswith("TEST — FIRE: ")
