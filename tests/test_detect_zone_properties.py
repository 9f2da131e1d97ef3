"""Invariants of zones, checked by hypothesis on random member activity."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tables import Members, accelerometer, call_point, detector, site

from edge.detect.build import machine_for, zones_for
from edge.detect.types import Reason, State

MEMBERS = ["getar-1", "getar-2", "getar-3"]
RAISED = (State.WARNING, State.ALARM)
member_states = st.sampled_from([State.NORMAL, State.WARNING, State.ALARM, State.FAULT])
gaps = st.floats(0.0, 30.0, allow_nan=False)


def seismic(weights: dict[str, float], threshold: float, **zone: Any) -> Members:
    sensors = [accelerometer(m, i) for i, m in enumerate(MEMBERS)]
    rule = {
        "id": "gempa",
        "members": MEMBERS,
        "rule": "coincidence",
        "weights": weights,
        "threshold": threshold,
        **zone,
    }
    return Members(zones_for(site(sensors, [rule])), members=MEMBERS)


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.floats(0.1, 5.0), min_size=3, max_size=3),
    excess=st.floats(0.01, 5.0),
    lone=st.sampled_from(MEMBERS),
    steps=st.lists(st.tuples(gaps, member_states), max_size=30),
    window_s=st.floats(0.0, 10.0),
    max_length_s=st.floats(0.5, 100.0),
)
def test_one_member_alone_never_raises_a_zone_whose_threshold_needs_two(
    weights: list[float],
    excess: float,
    lone: str,
    steps: list[tuple[float, State]],
    window_s: float,
    max_length_s: float,
) -> None:
    weight = dict(zip(MEMBERS, weights, strict=True))
    threshold = min(weight[lone] + excess, sum(weights))
    if threshold <= weight[lone]:
        return  # the others' weights cannot make it need two
    z = seismic(weight, threshold, window_s=window_s, max_length_s=max_length_s)
    t = 0.0
    for gap, state in steps:
        t += gap
        z.set(t, lone, state)
    z.tick(t + 1000.0)
    assert not [row for row in z.rows("gempa") if row[2] in ("warning", "alarm")]


@settings(max_examples=200, deadline=None)
@given(
    max_length_s=st.floats(0.5, 600.0),
    start=st.floats(0.0, 100.0),
    other_after=st.floats(0.0, 100.0),
    other_for=st.floats(0.01, 50.0),
    state=st.sampled_from(RAISED),
)
def test_a_member_stuck_past_the_maximum_length_is_a_fault_and_no_longer_votes(
    max_length_s: float, start: float, other_after: float, other_for: float, state: State
) -> None:
    z = seismic({}, 2.0, max_length_s=max_length_s)
    z.set(start, "getar-1", state)  # and it never releases
    cut = start + max_length_s
    other = cut + other_after
    z.tick(other)
    z.set(other, "getar-2", state)  # alone with the stuck one: not a coincidence
    z.set(other + other_for, "getar-2", State.NORMAL)
    z.tick(other + other_for + 1000.0)
    after = [tr for tr in z.out if tr.sensor == "gempa" and tr.t >= cut]
    assert (after[0].t, after[0].state, after[0].reason, after[0].members) == (
        cut,
        State.FAULT,
        Reason.STUCK_TRIGGER,
        ("getar-1",),
    )
    assert all(tr.state not in RAISED for tr in after)


rules = st.sampled_from(["any", "coincidence", "two_detector"])
kitchen_states = st.sampled_from([State.NORMAL, State.ALARM, State.FAULT])


@settings(max_examples=200, deadline=None)
@given(
    rule=rules,
    before=st.lists(
        st.tuples(gaps, st.sampled_from(["dapur-1", "dapur-2"]), kitchen_states), max_size=20
    ),
    gap=gaps,
    bounce_s=st.floats(0.0, 1.0),
)
def test_a_pressed_call_point_alarms_itself_and_its_zone_at_once(
    rule: str, before: list[tuple[float, str, State]], gap: float, bounce_s: float
) -> None:
    cp = call_point("titik", 22, input={"type": "digital", "pin": "GPIO22", "bounce_s": bounce_s})
    sensors = [detector("dapur-1", 17), detector("dapur-2", 18), cp]
    members = ["dapur-1", "dapur-2", "titik"]
    config = site(sensors, [{"id": "dapur", "members": members, "rule": rule}])
    z = Members(zones_for(config), members=["dapur-1", "dapur-2"])
    machine = machine_for(config.sensor("titik"))
    for tr in machine.start(0.0) + machine.sample(0.0, 0.0):
        z.out += z.zones.feed(tr)
    t = 0.0
    for step, member, state in before:
        t += step
        z.set(t, member, state, Reason.CONTACT if state is State.ALARM else None)
    pressed = t + gap
    for tr in machine.sample(pressed, 1.0):
        z.out += z.zones.feed(tr)
    own = [tr for tr in z.out if tr.sensor == "titik"][-1]
    assert (own.t, own.state, own.reason) == (pressed, State.ALARM, Reason.MANUAL)
    zone = [tr for tr in z.out if tr.sensor == "dapur"][-1]
    assert zone.state is State.ALARM and zone.t <= pressed
