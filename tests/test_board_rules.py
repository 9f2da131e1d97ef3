"""The board's pure rules: queue order, ageing, login throttle, session cookies, the live
feed's resume, drills and their timings, who was on shift."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edge.clock import iso_ms
from edge.detect.types import Reason, State
from edge.messages import describe, place_words, zone_message
from edge.station import alarms
from edge.station.alarms import Alarm
from edge.station.http import throttle
from edge.station.messages import EventMsg, parse
from edge.station.sites import SiteBook
from edge.station.web import i18n, order, reports
from edge.station.web.feed import Backlog
from edge.station.web.sessions import SessionCodec

T0 = 1_800_000_000.0


def view(**kw: Any) -> dict[str, Any]:
    base = {
        "alarm_id": "a",
        "hazard": "fire",
        "severity": "critical",
        "ack": "none",
        "active": True,
        "first_at": iso_ms(T0),
        "last_at": iso_ms(T0),
        "acked_at": None,
        "drill": False,
        "test": False,
        "closed": False,
    }
    return {**base, **kw}


def test_unacknowledged_alarms_come_first_then_by_hazard_class_then_oldest() -> None:
    rows = [
        view(alarm_id="fire-confirmed", ack="confirmed"),
        view(alarm_id="flood-new", hazard="flood", first_at=iso_ms(T0 + 5)),
        view(alarm_id="fire-new", first_at=iso_ms(T0 + 9)),
        view(alarm_id="fault", severity="fault"),
        view(alarm_id="quake-old", hazard="earthquake", first_at=iso_ms(T0 + 1)),
        view(alarm_id="intrusion", hazard="intrusion"),
    ]
    ranked = [r["alarm_id"] for r in sorted(rows, key=order.queue_key)]
    assert ranked == ["quake-old", "fire-new", "flood-new", "intrusion", "fault", "fire-confirmed"]


def test_a_sensor_fault_ranks_as_a_fault_whatever_its_hazard() -> None:
    assert order.hazard_class(view(severity="fault")) == order.FAULT_CLASS


def test_rows_age_yellow_after_a_minute_and_red_after_three_unacknowledged() -> None:
    v = view()
    assert order.age_level(v, T0 + 59) == ""
    assert order.age_level(v, T0 + 60) == "yellow"
    assert order.age_level(v, T0 + 180) == "red"
    assert order.age_level(view(ack="pending"), T0 + 500) == ""
    assert order.age_level(view(drill=True), T0 + 500) == ""


def test_an_alarm_asking_no_ack_never_ages_and_sorts_with_the_confirmed() -> None:
    quiet = view(alarm_id="walk", ack_needed=False)
    assert order.age_level(quiet, T0 + 500) == ""
    waiting = view(alarm_id="smoke", hazard="flood", first_at=iso_ms(T0 + 5))
    assert order.queue_key(waiting) < order.queue_key(quiet)


def test_new_trouble_after_an_ack_ages_from_the_new_event() -> None:
    v = view(acked_at=iso_ms(T0 + 10), last_at=iso_ms(T0 + 100))
    assert order.age_level(v, T0 + 150) == ""
    assert order.age_level(v, T0 + 160) == "yellow"


def placed(sensor: str, state: str, message: str, place: str, **kw: Any) -> dict[str, Any]:
    """The alarm view of one device event, through the station's own parser."""
    payload = {
        "id": "e1", "seq": 1, "site": "lapas", "device": "pi-a", "sensor": sensor,
        "state": state, "severity": "critical" if state == "alarm" else "fault",
        "ts": iso_ms(T0), "requires_ack": True, "message": message, "place": place, **kw,
    }  # fmt: skip
    fact = parse(
        "siaga", "siaga/lapas/pi-a/events", json.dumps(payload).encode(), retained=False, user={}
    )
    assert isinstance(fact, EventMsg)
    alarm = alarms.on_event(None, fact.facts, epoch=0, at=iso_ms(T0))
    assert alarm is not None
    return alarm.view()


def test_the_place_of_a_sensor_fault_is_the_sensor_never_words_of_the_fault() -> None:
    message = describe(
        language="id", state=State.FAULT, reason=Reason.OUT_OF_RANGE, name="Dapur",
        location="Blok A", hazard="fire",
    )  # fmt: skip
    view = placed("smoke-1", "fault", message, place_words("Dapur", "Blok A"))
    assert "di luar jangkauan" in message and order.place_of(view) == "Dapur, Blok A"


def test_the_place_of_a_zone_member_is_the_member_not_its_id() -> None:
    message = describe(
        language="id", state=State.FAULT, reason=Reason.NO_DATA, name="Detektor sel 3",
        location="", hazard="fire",
    )  # fmt: skip
    view = placed("smoke-3", "fault", message, "Detektor sel 3", zone="blok-a")
    assert order.place_of(view) == "Detektor sel 3"


def test_the_place_of_a_zone_is_the_zone_never_its_members_ids() -> None:
    message = zone_message(
        language="id", hazard="fire", state=State.ALARM, reason=Reason.CONFIRMED,
        name="Blok A", location="Lantai 2", members=["smoke-1", "smoke-2"], confirm_s=30.0,
        confirm_by_time=False,
    )  # fmt: skip
    view = placed("blok-a", "alarm", message, "Blok A, Lantai 2", zone="blok-a")
    assert order.place_of(view) == "Blok A, Lantai 2"


def test_the_configured_place_wins_and_an_older_device_shows_the_sensor_id() -> None:
    view = placed("smoke-1", "alarm", "KEBAKARAN: asap terdeteksi di Dapur", "")
    assert order.place_of(view, "Dapur umum") == "Dapur umum"
    assert order.place_of(view) == "smoke-1"


def test_wrong_passwords_are_free_three_times_then_slowed_down_doubling() -> None:
    t = throttle.LoginThrottle()
    keys = ("name:sari",)
    for n in range(3):
        assert t.wait(keys, T0 + n) == 0
        t.failed(keys, T0 + n)
    assert t.wait(keys, T0 + 2) == throttle.BASE_S
    t.failed(keys, T0 + 10)
    assert t.wait(keys, T0 + 10) == 2 * throttle.BASE_S
    t.succeeded(keys)
    assert t.wait(keys, T0 + 10) == 0


@given(st.integers(min_value=0, max_value=200))
def test_the_login_delay_never_exceeds_its_cap(failures: int) -> None:
    assert 0 <= throttle.delay(failures) <= throttle.MAX_S


def test_a_session_cookie_is_refused_forged_or_expired() -> None:
    codec = SessionCodec(b"k" * 32, lifetime_s=3600)
    session, token = codec.issue("sari", T0)
    assert codec.read(token, T0 + 3599) == session
    assert codec.read(token, T0 + 3601) is None
    assert codec.read(token[:-2] + "xx", T0) is None
    assert SessionCodec(b"o" * 32, 3600).read(token, T0) is None


def test_a_resuming_page_gets_exactly_the_changes_after_its_last_id() -> None:
    log = Backlog(size=3)
    first = log.add("alarm", {"n": 1})
    log.add("alarm", {"n": 2})
    log.add("alarm", {"n": 3})
    assert [e.data["n"] for e in log.after(log.event_id(first.version)) or []] == [2, 3]
    assert log.after(log.event_id(3)) == []
    log.add("alarm", {"n": 4})
    log.add("alarm", {"n": 5})
    assert log.after(log.event_id(first.version)) is None  # too far behind: a snapshot
    assert log.after("other-epoch.3") is None
    assert log.after(None) is None


def test_a_drill_runs_from_its_start_marker_to_the_next_marker_of_its_device() -> None:
    def m(i: str, at: float, words: str, device: str = "pi-a") -> dict[str, Any]:
        return {
            "id": i,
            "site": "lapas",
            "device": device,
            "received_at": iso_ms(at),
            "message": f"Latihan: {words}",
        }

    drills = reports.drills_from(
        [
            m("d1", T0, "dimulai: evakuasi (60 s)"),
            m("x", T0 + 5, "started: other", device="pi-b"),
            m("e1", T0 + 60, "selesai: evakuasi"),
        ]
    )
    assert [(d["id"], d["ended_at"]) for d in drills] == [("d1", iso_ms(T0 + 60)), ("x", None)]


def test_a_drill_is_timed_by_its_markers_own_ts_and_seq_whatever_their_arrival() -> None:
    def m(i: str, seq: int, ts: float, received: float, words: str) -> dict[str, Any]:
        return {
            "id": i,
            "seq": seq,
            "site": "lapas",
            "device": "pi-a",
            "ts": iso_ms(ts),
            "received_at": iso_ms(received),
            "message": f"Latihan: {words}",
        }

    (drill,) = reports.drills_from(
        [  # both markers resent late, the end first
            m("e1", 9, T0 + 60, T0 + 900, "selesai: evakuasi"),
            m("d1", 8, T0, T0 + 901, "dimulai: evakuasi (60 s)"),
        ]
    )
    assert (drill["id"], drill["started_at"], drill["ended_at"]) == (
        "d1",
        iso_ms(T0),
        iso_ms(T0 + 60),
    )


def test_a_drill_alarm_is_timed_from_its_event_to_view_ack_confirmation_and_close() -> None:
    alarm = Alarm(
        alarm_id="a",
        site="lapas",
        device="pi-a",
        sensor="smoke-1",
        hazard="fire",
        severity="critical",
        active=True,
        state="alarm",
        first_event_id="a",
        last_event_id="a",
        first_at=iso_ms(T0),
        last_at=iso_ms(T0),
        drill=True,
    )
    from dataclasses import replace

    from edge.station.alarms import AckState

    alarm = replace(alarm, ack=AckState.CONFIRMED, acked_by="sari")
    audit = [
        {"at": iso_ms(T0 + 2), "actor": "budi", "action": "view", "detail": {"how": "board"}},
        {"at": iso_ms(T0 + 7), "actor": "sari", "action": "ack", "detail": {"note": ""}},
        {"at": iso_ms(T0 + 30), "actor": "sari", "action": "close", "detail": {"note": "ok"}},
    ]
    receipts = [{"at": iso_ms(T0 + 7.5), "accepted": True}]
    timing = reports.alarm_timing(alarm, audit, receipts, iso_ms(T0 - 0.2))
    assert (timing["first_view"]["by"], timing["first_view"]["after_s"]) == ("budi", 2.0)
    assert (timing["ack"]["by"], timing["ack"]["after_s"]) == ("sari", 7.0)
    assert timing["confirmed"]["after_s"] == 7.5
    assert (timing["close"]["after_s"], timing["delivery_s"]) == (30.0, 0.2)
    summary = reports.drill_report({"id": "d"}, [timing])["summary"]
    assert summary["ack"] == {"count": 1, "median_s": 7.0, "max_s": 7.0} and summary["missed"] == 0


def test_who_was_on_shift_comes_from_logins_not_yet_ended() -> None:
    audit = [
        {"at": iso_ms(T0 - 7200), "actor": "malam", "action": "login", "detail": {"sid": "1"}},
        {"at": iso_ms(T0 - 3600), "actor": "malam", "action": "logout", "detail": {"sid": "1"}},
        {"at": iso_ms(T0 - 600), "actor": "pagi", "action": "login", "detail": {"sid": "2"}},
        {"at": iso_ms(T0 + 60), "actor": "siang", "action": "login", "detail": {"sid": "3"}},
    ]
    people = reports.on_shift(audit, iso_ms(T0), iso_ms(T0 + 3600), lifetime_s=43200)
    assert [p["name"] for p in people] == ["pagi", "siang"]


def test_the_devices_own_ack_is_worded_in_the_page_language() -> None:
    alarm = Alarm(
        "a",
        "lapas",
        "pi-a",
        "smoke-1",
        "fire",
        "critical",
        True,
        "alarm",
        None,
        None,
        "",
        "",
        required=1,
    )
    confirmed = {**alarm.view(), "ack": "confirmed", "acked_by": alarms.ACKED_ON_DEVICE}
    confirmed["acked_how"] = "device"
    text = i18n.ack_text(i18n.text("id"), confirmed)
    assert "ditanggapi di perangkat" in text and "said the device" not in text


def test_a_drill_alarm_closed_at_drill_end_is_not_shown_as_confirmed_by_an_operator() -> None:
    alarm = Alarm(
        "a",
        "lapas",
        "pi-a",
        "smoke-1",
        "fire",
        "critical",
        True,
        "alarm",
        None,
        None,
        "",
        "",
        drill=True,
        waiting=("e",),
        required=1,
    )
    view = alarms.drill_ended(alarm, at=iso_ms(T0)).view()
    assert view["acked_how"] == "drill_end" and i18n.ack_class(view) == "ended"
    assert i18n.ack_text(i18n.text("id"), view) == "ditutup saat latihan selesai"
    assert i18n.ack_text(i18n.text("en"), view) == "closed at drill end"


def test_states_and_hazards_are_worded_in_the_page_language() -> None:
    t = i18n.text("id")
    assert (i18n.state_word(t, "fault"), i18n.hazard_word(t, "earthquake")) == ("gangguan", "GEMPA")
    assert i18n.hazard_word(i18n.text("en"), "flood") == "FLOOD"


def test_the_site_alarm_reasons_are_in_the_station_language() -> None:
    book = SiteBook("id")
    book.on_status("lapas", "pi-a", "offline", T0, False, "lost")
    book.device("pi-b", "pi-b").last_heard = T0
    why = {t.device: t.why for t in book.watch(T0 + 100, T0)}
    assert why["pi-a"] == "senyap: broker kehilangan perangkat (pesan wasiatnya)"
    assert str(why["pi-b"]).startswith("senyap: tidak terdengar apa pun selama 100 dtk")
