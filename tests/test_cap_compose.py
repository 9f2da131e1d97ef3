"""The alarm lifecycle as a CAP chain: which moment gives which message, and what it says."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from cap_factories import SENDER, T0, Lifecycle, profile

from edge.cap.compose import (
    AlarmFacts,
    CapProfile,
    EventFacts,
    Moment,
    compose,
    identifier,
    refresh_due,
    token,
)
from edge.cap.config import CapConfig
from edge.cap.model import CapAlert


def _msg(alert: CapAlert | None) -> str | None:
    return None if alert is None else alert.msg_type


def test_first_event_of_an_alarm_is_an_alert_without_references() -> None:
    alert = Lifecycle("fire").event_("alarm")
    assert alert is not None
    assert (alert.msg_type, alert.references) == ("Alert", ())


def test_escalation_stage_change_and_deescalation_are_updates() -> None:
    life = Lifecycle("flood")
    kinds = [
        _msg(life.event_("warning", "Waspada", 0.8)),
        _msg(life.event_("warning", "Siaga", 1.0)),
        _msg(life.event_("alarm", "Awas", 1.3)),
        _msg(life.event_("warning", "Siaga", 1.0)),
    ]
    assert kinds == ["Alert", "Update", "Update", "Update"]


def test_a_repeat_of_the_same_state_and_stage_says_nothing_new() -> None:
    life = Lifecycle("flood")
    life.event_("warning", "Siaga", 1.0)
    assert life.event_("warning", "Siaga", 1.05) is None


def test_acknowledgement_is_an_update_when_taken_and_again_when_the_device_confirms() -> None:
    life = Lifecycle("fire")
    life.event_("alarm")
    pending, confirmed = life.ack(), life.ack(confirmed=True)
    assert pending is not None and confirmed is not None
    assert (pending.msg_type, pending.parameter("ack")) == ("Update", "pending")
    assert (confirmed.msg_type, confirmed.parameter("ack")) == ("Update", "confirmed")
    assert "brigpol.andi" in (confirmed.infos[0].description or "")
    assert life.ack(confirmed=True) is None


def test_clearing_cancels_and_closing_cancels_again_with_the_operator_and_note() -> None:
    life = Lifecycle("gas")
    life.event_("alarm")
    cleared, closed = life.event_("normal"), life.close(note="Katup ditutup")
    assert cleared is not None and closed is not None
    assert (cleared.msg_type, cleared.parameter("phase")) == ("Cancel", "clear")
    assert (closed.msg_type, closed.parameter("phase")) == ("Cancel", "closed")
    en = closed.info("en")
    assert en is not None and "ipda.sari" in (en.description or "")
    assert "Katup ditutup" in (en.description or "")
    assert en.response_types == ("AllClear",) and en.urgency == "Past"


def test_closing_an_alarm_still_active_cancels_it() -> None:
    life = Lifecycle("intrusion")
    life.event_("alarm")
    assert _msg(life.close()) == "Cancel"


def test_nothing_follows_a_close() -> None:
    life = Lifecycle("fire")
    life.event_("alarm")
    life.close()
    assert life.event_("alarm") is None
    assert life.ack() is None
    assert life.close() is None


def test_after_a_clear_only_a_new_activation_or_the_close_speak() -> None:
    life = Lifecycle("fire")
    life.event_("alarm")
    life.event_("normal")
    assert life.ack() is None
    assert life.refresh(60) is None
    again = life.event_("alarm")
    assert again is not None and (again.msg_type, again.references) == ("Alert", ())
    update = life.event_("warning")
    assert update is not None
    assert [r.identifier for r in update.references] == [again.identifier]


def test_an_update_references_every_earlier_alert_of_its_chain_as_sender_identifier_sent() -> None:
    life = Lifecycle("flood")
    first = life.event_("warning", "Waspada")
    second = life.event_("alarm", "Awas")
    third = life.event_("normal")
    assert first is not None and second is not None and third is not None
    assert third.references == (first.ref, second.ref)
    assert str(third.references[0]) == f"{SENDER},{first.identifier},{first.sent}"


def test_no_alert_for_an_alarm_that_never_was_active_or_is_closed_unheard() -> None:
    life = Lifecycle("fire")
    assert life.event_("normal") is None
    assert life.close() is None


def test_sent_effective_expires_are_local_time_with_offset_and_whole_seconds() -> None:
    alert = Lifecycle("fire").event_("alarm", after_s=0)
    assert alert is not None
    assert alert.sent == "2025-03-11T09:14:05+07:00"
    info = alert.infos[0]
    assert (info.effective, info.expires) == (alert.sent, "2025-03-11T15:14:05+07:00")


def test_a_cancel_expires_an_hour_after_it_is_sent() -> None:
    life = Lifecycle("fire")
    life.event_("alarm", after_s=0)
    cancel = life.event_("normal", after_s=0)
    assert cancel is not None and cancel.infos[0].expires == "2025-03-11T10:14:05+07:00"


def test_status_is_actual_exercise_for_a_drill_and_test_for_a_walk_test() -> None:
    actual = Lifecycle("fire").event_("alarm")
    drill = Lifecycle("fire", drill=True).event_("alarm")
    walk = Lifecycle("intrusion", test=True).event_("alarm")
    assert actual is not None and drill is not None and walk is not None
    assert [actual.status, drill.status, walk.status] == ["Actual", "Exercise", "Test"]
    assert (drill.info("id") or drill.infos[0]).headline == (
        "LATIHAN — KEBAKARAN di Lapas Kelas IIA Banyuwangi"
    )
    assert walk.note is not None and actual.note is None


def test_scope_is_restricted_by_default_and_names_who_may_see_it() -> None:
    alert = Lifecycle("fire").event_("alarm")
    assert alert is not None
    assert (alert.scope, alert.restriction) == ("Restricted", "Partner agencies only")


def test_two_info_blocks_indonesian_then_english_say_what_where_how_sure_what_to_do() -> None:
    alert = Lifecycle("fire").event_("alarm")
    assert alert is not None
    id_, en = alert.infos
    assert (id_.language, en.language) == ("id-ID", "en-US")
    assert (id_.headline, en.headline) == (
        "KEBAKARAN di Lapas Kelas IIA Banyuwangi",
        "FIRE at Lapas Kelas IIA Banyuwangi",
    )
    for info in (id_, en):
        assert (info.categories, info.urgency, info.severity, info.certainty) == (
            ("Fire",),
            "Immediate",
            "Severe",
            "Observed",
        )
        assert info.sender_name == "Polresta Banyuwangi"
        assert info.web == "https://siaga.polresta-banyuwangi.example/alarms/alarm-7f3a"
        assert "1. Hubungi Damkar (113)\n2. Hubungi Kalapas" in (info.instruction or "")


def test_parameters_carry_site_device_sensor_seq_and_event_id() -> None:
    alert = Lifecycle("flood").event_("warning", "Siaga", 1.0)
    assert alert is not None
    params = dict(alert.infos[0].parameters)
    assert {k: params[k] for k in ("site", "device", "sensor", "seq", "event_id")} == {
        "site": "lapas-banyuwangi",
        "device": "pi-blok-a",
        "sensor": "flood-1",
        "seq": "101",
        "event_id": "ev-101",
    }
    assert (params["stage"], params["value"]) == ("Siaga", "1 m")
    assert alert.infos[1].parameters == alert.infos[0].parameters


def test_area_has_a_circle_where_the_site_has_coordinates_and_geocodes_when_configured() -> None:
    prof = profile(geocodes=(("BPS", "3510"),), radius_km=0.3)
    placed = Lifecycle("fire", prof=prof).event_("alarm")
    unplaced = Lifecycle("fire", prof=prof, site="pos-2").event_("alarm")
    assert placed is not None and unplaced is not None
    area = placed.infos[0].areas[0]
    assert (area.desc, area.circles, area.geocodes) == (
        "Lapas Kelas IIA Banyuwangi",
        ("-8.2192,114.3691 0.3",),
        (("BPS", "3510"),),
    )
    assert unplaced.infos[0].areas[0].circles == ()
    assert unplaced.infos[0].areas[0].desc == "Pos Jaga 2"


def test_a_site_geocode_replaces_the_station_wide_one() -> None:
    prof = profile(geocodes=(("BPS", "35"),), site_geocodes={"pos-2": (("BPS", "3510"),)})
    alert = Lifecycle("fire", prof=prof, site="pos-2").event_("alarm")
    assert alert is not None and alert.infos[0].areas[0].geocodes == (("BPS", "3510"),)


def test_without_a_procedure_the_instruction_is_the_hazards_default() -> None:
    alert = Lifecycle("earthquake").event_("alarm")
    assert alert is not None
    assert (alert.info("en") or alert.infos[0]).instruction == (
        "Drop, cover and hold on; check the buildings before going back in."
    )


def test_a_fault_is_graded_as_lost_protection_whatever_the_hazard() -> None:
    alert = Lifecycle("fire").event_("fault")
    assert alert is not None
    en = alert.info("en")
    assert en is not None
    assert (en.categories, en.urgency, en.severity, en.certainty) == (
        ("Infra",),
        "Expected",
        "Minor",
        "Observed",
    )
    assert (en.event, en.headline) == (
        "Fire sensor fault",
        "FIRE SENSOR FAULT at Lapas Kelas IIA Banyuwangi",
    )


def test_identifiers_are_stable_unique_and_url_safe() -> None:
    one, two = Lifecycle("fire"), Lifecycle("fire")
    for life in (one, two):
        life.event_("alarm")
        life.event_("normal")
    assert [a.identifier for a in one.alerts] == [a.identifier for a in two.alerts]
    assert [a.identifier for a in one.alerts] == [
        "siaga@polresta-banyuwangi.alarm-7f3a.1",
        "siaga@polresta-banyuwangi.alarm-7f3a.2",
    ]
    odd = identifier(SENDER, "lapas/pi 1,#42", 1)
    assert odd.startswith(f"{SENDER}.~") and odd.endswith(".1")
    assert token("a.b") != token("a") and "." not in token("a.b")


def test_previous_alerts_of_another_alarm_are_refused() -> None:
    other = Lifecycle("fire", alarm_id="other")
    other.event_("alarm")
    life = Lifecycle("fire")
    life.alerts = list(other.alerts)
    with pytest.raises(ValueError, match="not of alarm"):
        life.event_("alarm")


def test_a_refresh_reissues_an_open_chain_before_it_expires() -> None:
    life = Lifecycle("fire")
    first = life.event_("alarm", after_s=0)
    assert first is not None
    margin = timedelta(minutes=30)
    assert not refresh_due(life.alerts, T0 + timedelta(hours=5), margin)
    assert refresh_due(life.alerts, T0 + timedelta(hours=5, minutes=31), margin)
    update = life.refresh(5.6 * 3600)
    assert update is not None and update.msg_type == "Update"
    assert update.infos[0].expires == "2025-03-11T20:50:05+07:00"


def test_a_profile_from_config_takes_public_url_zone_and_geocode() -> None:
    cap = CapConfig.model_validate(
        {
            "sender": SENDER,
            "timezone": "Asia/Makassar",
            "public_url": "https://siaga.example/",
            "geocode": [{"name": "BPS", "value": "5103"}],
        }
    )
    prof = CapProfile.from_config(
        cap, station_name="Polresta", base_url="http://127.0.0.1:8080", procedures={}
    )
    alarm = AlarmFacts("a", "s", "d", "x", "fire", True, T0, T0)
    alert = compose(prof, alarm, EventFacts("e", 1, "alarm", T0), Moment.EVENT, T0)
    assert alert is not None
    assert alert.sent == "2025-03-11T10:14:05+08:00"
    assert alert.infos[0].web == "https://siaga.example/alarms/a"
    assert alert.infos[0].areas[0].geocodes == (("BPS", "5103"),)
    assert alert.restriction is not None


def test_event_facts_come_straight_from_the_device_payload() -> None:
    from edge.payloads import Event

    event = Event.model_validate(
        {
            "id": "e1",
            "seq": 5,
            "site": "s",
            "device": "d",
            "sensor": "x",
            "kind": "water_level",
            "hazard": "flood",
            "state": "warning",
            "previous": "normal",
            "stage": "Siaga",
            "severity": "warning",
            "reason": "level",
            "value": 1.0,
            "unit": "m",
            "ts": "2025-03-11T02:14:05.123Z",
            "requires_ack": False,
            "message": "WASPADA BANJIR",
        }
    )
    facts = EventFacts.of(event)
    assert (facts.state, facts.stage, facts.ts) == ("warning", "Siaga", T0)
    assert replace(facts, message="") != facts


def test_an_event_cap_does_not_grade_while_the_alarm_stays_active_says_nothing() -> None:
    life = Lifecycle("fire")
    life.event_("alarm")
    life.later(30)
    life.event = replace(life.event, id="ev-x", seq=200, state="disabled", ts=life.at)
    assert compose(life.profile, life.alarm, life.event, Moment.EVENT, life.at, life.alerts) is None
    update = life.ack()
    assert update is not None and update.parameter("phase") == "alarm"


def test_a_silent_site_is_worded_as_a_site_not_heard_from_not_as_a_sensor_fault() -> None:
    life = Lifecycle("device")
    life.alarm = replace(life.alarm, sensor="_site", silent=True)
    raised = life.event_("fault")
    assert raised is not None
    en, id_ = raised.info("en"), raised.info("id")
    assert en is not None and id_ is not None
    assert (en.headline, en.event) == ("SITE SILENT: Lapas Kelas IIA Banyuwangi", "Site silent")
    assert id_.headline == "LOKASI SENYAP: Lapas Kelas IIA Banyuwangi"
    text = en.description or ""
    assert "no longer heard by the station (device says fault)" in text
    assert "SENSOR" not in en.headline and "Sensor _site" not in text and "events" not in text
    assert (en.instruction or "").startswith("Call the site")
    cleared = life.event_("normal")
    assert cleared is not None and cleared.msg_type == "Cancel"
    heard = cleared.info("en")
    assert heard is not None and heard.headline == "Heard again: Lapas Kelas IIA Banyuwangi"
