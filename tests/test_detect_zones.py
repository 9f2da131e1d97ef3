"""Zones: members' transitions in, the zone's out (edge/detect/zones.py states the rules)."""

from __future__ import annotations

from typing import Any

import pytest
from tables import Members, accelerometer, call_point, detector, site

from edge.detect.build import machine_for, zones_for
from edge.detect.types import Reason, State, Transition

A, W, N, F = State.ALARM, State.WARNING, State.NORMAL, State.FAULT
QUAKE = ["getar-1", "getar-2", "getar-3"]
KITCHEN = ["dapur-1", "dapur-2"]


def seismic(**zone: Any) -> Members:
    sensors = [accelerometer(m, i) for i, m in enumerate(QUAKE)]
    rule = {"id": "gempa", "members": QUAKE, "rule": "coincidence", **zone}
    return Members(zones_for(site(sensors, [rule])), members=QUAKE)


def kitchen(*extra: dict[str, Any], **zone: Any) -> Members:
    sensors = [detector("dapur-1", 17), detector("dapur-2", 18), *extra]
    members = [s["id"] for s in sensors]
    rule = {"id": "dapur", "members": members, "rule": "two_detector", **zone}
    return Members(zones_for(site(sensors, [rule])), members=members)


# ---------------------------------------------------------------- any


def test_any_zone_shows_its_worst_member_with_that_members_reason() -> None:
    sensors = [detector("dapur-1", 17), detector("dapur-2", 18)]
    z = Members(zones_for(site(sensors, [{"id": "dapur", "members": KITCHEN}])), members=KITCHEN)
    z.set(5.0, "dapur-1", A, Reason.CONTACT)
    z.set(8.0, "dapur-2", A, Reason.CONTACT)
    z.set(9.0, "dapur-1", N)
    z.set(12.0, "dapur-2", N)
    assert z.rows("dapur") == [
        (0.0, "dapur", "starting", "startup", ()),
        (0.0, "dapur", "normal", "startup", ()),
        (5.0, "dapur", "alarm", "contact", ("dapur-1",)),
        (12.0, "dapur", "normal", "cleared", ()),
    ]


def test_a_zone_is_starting_until_its_members_can_decide() -> None:
    z = seismic()
    assert [row[2] for row in z.rows("gempa")] == ["starting", "normal"]
    first_normal = z.out.index(next(tr for tr in z.out if tr.sensor == "gempa" and tr.state is N))
    # two of three members ready already decide a threshold of 2
    assert [tr.sensor for tr in z.out[:first_normal]].count("getar-1") == 1


# ---------------------------------------------------------------- coincidence


def test_a_door_slam_on_one_accelerometer_raises_nothing() -> None:
    z = seismic()
    z.set(10.0, "getar-1", W)
    z.set(10.1, "getar-1", A)
    z.set(20.3, "getar-1", N)
    assert z.rows("gempa")[2:] == []


def test_two_coinciding_triggers_warn_at_the_second_with_the_first_as_onset() -> None:
    z = seismic()
    z.set(10.0, "getar-1", W)
    z.set(10.05, "getar-2", W)
    z.set(20.0, "getar-1", N)
    z.set(21.0, "getar-2", N)
    assert z.rows("gempa")[2:] == [
        (10.05, "gempa", "warning", "coincidence", ("getar-1", "getar-2")),
        (21.0, "gempa", "normal", "cleared", ()),
    ]
    warning = next(tr for tr in z.out if tr.sensor == "gempa" and tr.state is W)
    assert (warning.onset, warning.value, warning.threshold) == (10.0, 2.0, 2.0)


def test_the_zone_alarms_only_when_the_alarms_themselves_coincide() -> None:
    z = seismic()
    z.set(10.0, "getar-1", W)
    z.set(10.02, "getar-2", W)
    z.set(10.2, "getar-1", A)  # strong at one sensor only: still a warning
    z.set(10.4, "getar-2", A)
    assert [row[2:4] for row in z.rows("gempa")[2:]] == [
        ("warning", "coincidence"),
        ("alarm", "coincidence"),
    ]
    assert z.rows("gempa")[-1][0] == 10.4


def test_triggers_that_do_not_overlap_do_not_coincide() -> None:
    z = seismic()
    z.set(10.0, "getar-1", W)
    z.set(12.0, "getar-1", N)
    z.set(12.5, "getar-2", W)
    assert z.rows("gempa")[2:] == []


def test_a_window_lets_a_vote_last_past_its_trigger() -> None:
    z = seismic(window_s=1.0)
    z.set(10.0, "getar-1", W)
    z.set(12.0, "getar-1", N)
    z.set(12.5, "getar-2", W)
    z.set(14.0, "getar-2", N)
    z.tick(20.0)
    assert z.rows("gempa")[2:] == [
        (12.5, "gempa", "warning", "coincidence", ("getar-1", "getar-2")),
        (15.0, "gempa", "normal", "cleared", ()),
    ]


def test_a_chain_of_overlaps_counts_every_member_in_it() -> None:
    """A overlaps B, B overlaps C: A, B and C coincide (ObsPy's rule), though A and C do not
    overlap."""
    z = seismic(threshold=3)
    z.set(10.0, "getar-1", W)
    z.set(11.0, "getar-2", W)
    z.set(12.0, "getar-1", N)
    z.set(13.0, "getar-3", W)
    assert z.rows("gempa")[2:] == [
        (13.0, "gempa", "warning", "coincidence", ("getar-1", "getar-2", "getar-3")),
    ]


def test_weights_let_one_trusted_member_count_for_two() -> None:
    z = seismic(weights={"getar-1": 2.0}, threshold=3)
    z.set(10.0, "getar-1", W)
    z.set(10.1, "getar-2", W)
    assert z.rows("gempa")[2:] == [
        (10.1, "gempa", "warning", "coincidence", ("getar-1", "getar-2")),
    ]


def test_a_member_triggered_past_the_maximum_stops_voting_and_is_a_fault() -> None:
    z = seismic(max_length_s=60.0)
    z.set(10.0, "getar-1", W)  # a machine next to the sensor: it never releases
    z.tick(100.0)
    z.set(100.0, "getar-2", W)
    z.set(105.0, "getar-2", N)
    z.set(200.0, "getar-1", N)
    assert z.rows("gempa")[2:] == [
        (70.0, "gempa", "fault", "stuck_trigger", ("getar-1",)),
        (200.0, "gempa", "normal", "cleared", ()),
    ]


def test_a_stuck_member_does_not_stop_the_others_from_raising_the_zone() -> None:
    z = seismic(max_length_s=60.0)
    z.set(10.0, "getar-1", W)
    z.set(100.0, "getar-2", W)
    z.set(100.1, "getar-3", W)
    assert [row[2:] for row in z.rows("gempa")[2:]] == [
        ("fault", "stuck_trigger", ("getar-1",)),
        ("warning", "coincidence", ("getar-2", "getar-3")),
    ]


def test_a_zone_that_can_no_longer_reach_its_threshold_is_a_fault() -> None:
    z = seismic(threshold=3)
    z.set(5.0, "getar-2", F, Reason.NO_DATA)
    z.set(9.0, "getar-2", N)
    assert z.rows("gempa")[2:] == [
        (5.0, "gempa", "fault", "quorum", ("getar-2",)),
        (9.0, "gempa", "normal", "cleared", ()),
    ]


def test_a_zone_with_enough_working_members_stays_normal_when_one_fails() -> None:
    z = seismic()
    z.set(5.0, "getar-2", F, Reason.NO_DATA)
    assert z.rows("gempa")[2:] == []


# ---------------------------------------------------------------- two detectors


def test_the_first_detector_is_a_pre_alarm_and_the_second_confirms_it() -> None:
    z = kitchen()
    z.set(10.0, "dapur-1", A, Reason.CONTACT)
    z.set(25.0, "dapur-2", A, Reason.CONTACT)
    z.set(60.0, "dapur-1", N)
    z.set(70.0, "dapur-2", N)
    assert z.rows("dapur")[2:] == [
        (10.0, "dapur", "warning", "confirming", ("dapur-1",)),
        (25.0, "dapur", "alarm", "confirmed", ("dapur-1", "dapur-2")),
        (70.0, "dapur", "normal", "cleared", ()),
    ]


def test_one_detector_still_in_alarm_after_confirm_s_confirms_by_time() -> None:
    z = kitchen(confirm_s=60.0)
    z.set(10.0, "dapur-1", A, Reason.CONTACT)
    z.tick(100.0)
    assert z.rows("dapur")[2:] == [
        (10.0, "dapur", "warning", "confirming", ("dapur-1",)),
        (70.0, "dapur", "alarm", "confirmed", ("dapur-1",)),
    ]


def test_without_confirm_by_time_only_a_second_detector_confirms() -> None:
    z = kitchen(confirm_s=60.0, confirm_by_time=False)
    z.set(10.0, "dapur-1", A, Reason.CONTACT)
    z.tick(500.0)
    z.set(500.0, "dapur-2", A, Reason.CONTACT)
    assert z.rows("dapur")[2:] == [
        (10.0, "dapur", "warning", "confirming", ("dapur-1",)),
        (500.0, "dapur", "alarm", "confirmed", ("dapur-1", "dapur-2")),
    ]


def test_a_first_alarm_that_cleared_still_counts_for_confirm_s() -> None:
    z = kitchen(confirm_s=60.0)
    z.set(10.0, "dapur-1", A, Reason.CONTACT)
    z.set(20.0, "dapur-1", N)
    z.set(50.0, "dapur-2", A, Reason.CONTACT)  # the smoke drifted on
    assert z.rows("dapur")[-1] == (50.0, "dapur", "alarm", "confirmed", ("dapur-1", "dapur-2"))


def test_a_pre_alarm_whose_detector_cleared_ends_when_confirm_s_runs_out() -> None:
    z = kitchen(confirm_s=60.0)
    z.set(10.0, "dapur-1", A, Reason.CONTACT)
    z.set(20.0, "dapur-1", N)
    z.tick(100.0)
    z.set(100.0, "dapur-2", A, Reason.CONTACT)
    assert z.rows("dapur")[2:] == [
        (10.0, "dapur", "warning", "confirming", ("dapur-1",)),
        (70.0, "dapur", "normal", "cleared", ()),
        (100.0, "dapur", "warning", "confirming", ("dapur-2",)),
    ]


# ---------------------------------------------------------------- manual call points


def kitchen_with_call_point(rule: str) -> Members:
    sensors = [detector("dapur-1", 17), detector("dapur-2", 18), call_point("titik-dapur", 22)]
    members = [*KITCHEN, "titik-dapur"]
    zones = zones_for(site(sensors, [{"id": "dapur", "members": members, "rule": rule}]))
    return Members(zones, members=members)


@pytest.mark.parametrize("rule", ["two_detector", "coincidence", "any"])
def test_a_pressed_call_point_alarms_its_zone_at_once_whatever_the_rule(rule: str) -> None:
    z = kitchen_with_call_point(rule)
    z.set(12.0, "titik-dapur", A, Reason.MANUAL)
    z.set(13.0, "titik-dapur", N)
    assert z.rows("dapur")[2:] == [
        (12.0, "dapur", "alarm", "manual", ("titik-dapur",)),
        (13.0, "dapur", "normal", "cleared", ()),
    ]


def test_a_pressed_call_point_turns_a_pre_alarm_into_an_alarm_at_once() -> None:
    z = kitchen_with_call_point("two_detector")
    z.set(10.0, "dapur-1", A, Reason.CONTACT)
    z.set(12.0, "titik-dapur", A, Reason.MANUAL)
    assert z.rows("dapur")[2:] == [
        (10.0, "dapur", "warning", "confirming", ("dapur-1",)),
        (12.0, "dapur", "alarm", "manual", ("titik-dapur",)),
    ]


def test_a_call_points_own_alarm_comes_at_the_press_not_after_a_delay() -> None:
    cfg = site([call_point("titik", 22)], []).sensors[0]
    machine = machine_for(cfg)
    out = machine.start(0.0) + machine.sample(0.0, 0.0) + machine.sample(7.25, 1.0)
    assert [(tr.t, tr.state, tr.reason) for tr in out][-1] == (7.25, A, Reason.MANUAL)


# ---------------------------------------------------------------- latching


def latching_kitchen() -> Members:
    sensors = [detector("dapur-1", 17, latch=True), detector("dapur-2", 18)]
    zone = {"id": "dapur", "members": KITCHEN, "rule": "two_detector", "latch": True}
    return Members(zones_for(site(sensors, [zone])), members=KITCHEN)


def test_a_latched_alarm_that_cleared_stays_until_acknowledged() -> None:
    z = latching_kitchen()
    z.set(10.0, "dapur-1", A, Reason.CONTACT)
    z.set(40.0, "dapur-1", N)  # the smoke stopped by itself
    assert z.rows("dapur-1")[-1][2] == "alarm"
    z.ack("dapur-1", 300.0)
    assert z.rows("dapur-1")[-2:] == [
        (10.0, "dapur-1", "alarm", "contact", ()),
        (300.0, "dapur-1", "normal", "cleared", ()),
    ]


def test_an_acknowledged_latched_alarm_stays_until_its_condition_clears() -> None:
    z = latching_kitchen()
    z.set(10.0, "dapur-1", A, Reason.CONTACT)
    z.ack("dapur-1", 20.0)
    assert z.rows("dapur-1")[-1][2] == "alarm"
    z.set(40.0, "dapur-1", N)
    assert z.rows("dapur-1")[-1] == (40.0, "dapur-1", "normal", "cleared", ())


def test_a_latched_zone_holds_its_alarm_and_its_members_report_as_they_are() -> None:
    z = latching_kitchen()
    z.set(10.0, "dapur-1", A, Reason.CONTACT)
    z.set(12.0, "dapur-2", A, Reason.CONTACT)
    z.set(30.0, "dapur-2", N)
    z.set(40.0, "dapur-1", N)
    assert z.rows("dapur-2")[-1][:3] == (30.0, "dapur-2", "normal")  # not latching
    assert z.rows("dapur")[-1][2] == "alarm"
    z.ack("dapur", 50.0)
    assert z.rows("dapur")[-1] == (50.0, "dapur", "normal", "cleared", ())


# ---------------------------------------------------------------- the zone set


def test_member_transitions_come_out_tagged_with_their_zone_before_the_zones_own() -> None:
    z = kitchen()
    z.set(10.0, "dapur-1", A, Reason.CONTACT)
    last_two = [(tr.sensor, tr.zone, tr.state) for tr in z.out[-2:]]
    assert last_two == [("dapur-1", "dapur", A), ("dapur", "dapur", W)]


def test_a_deadline_passed_before_a_member_transition_is_published_first_at_its_time() -> None:
    z = kitchen(confirm_s=60.0)
    z.set(10.0, "dapur-1", A, Reason.CONTACT)
    z.set(90.0, "dapur-2", A, Reason.CONTACT)  # nobody ticked at 70
    assert [(tr.t, tr.sensor, tr.state) for tr in z.out[-2:]] == [
        (70.0, "dapur", A),
        (90.0, "dapur-2", A),
    ]


def test_sensors_in_no_zone_pass_through_untouched() -> None:
    sensors = [detector("dapur-1", 17), detector("dapur-2", 18), detector("gudang", 19)]
    zones = zones_for(site(sensors, [{"id": "dapur", "members": KITCHEN}]))
    z = Members(zones)
    z.set(1.0, "gudang", A, Reason.CONTACT)
    assert [(tr.sensor, tr.zone) for tr in z.out if tr.sensor == "gudang"] == [("gudang", None)]
    assert zones.zone_of("gudang") is None
    assert zones.zone_of("dapur-2") == "dapur"


def test_a_rebuilt_zone_set_learns_its_members_present_states_without_republishing_them() -> None:
    sensors = [detector("dapur-1", 17), detector("dapur-2", 18)]
    zones = zones_for(site(sensors, [{"id": "dapur", "members": KITCHEN, "rule": "two_detector"}]))
    out = zones.start(100.0)
    out += zones.observe(Transition(100.0, "dapur-1", A, A, Reason.CONTACT))
    out += zones.observe(Transition(100.0, "dapur-2", N, N, Reason.CLEARED))
    assert [(tr.sensor, tr.state, tr.reason) for tr in out] == [
        ("dapur", State.STARTING, Reason.STARTUP),
        ("dapur", W, Reason.CONFIRMING),
    ]
