"""The station's alarm rules (edge/station/alarms.py), one behaviour each, no I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.clock import iso_ms
from edge.station import alarms
from edge.station.alarms import AckState, Alarm, AlarmError, EventFacts, Receipt

AT = "2025-03-11T02:14:05.123Z"
LATER = "2025-03-11T02:20:00.000Z"


def ev(seq: int, state: str = "alarm", **kw: object) -> EventFacts:
    base: dict[str, object] = {
        "id": f"id-{seq}",
        "seq": seq,
        "site": "lapas",
        "device": "pi-a",
        "sensor": "smoke-1",
        "state": state,
        "hazard": "fire",
        "severity": {"alarm": "critical", "fault": "fault"}.get(state, "info"),
        "ts": AT,
        "drill": False,
        "test": False,
        "requires_ack": state in ("alarm", "fault"),
        "message": "KEBAKARAN",
    }
    base.update(kw)
    return EventFacts(**base)  # type: ignore[arg-type]


def opened(seq: int = 1, **kw: object) -> Alarm:
    alarm = alarms.on_event(None, ev(seq, **kw), epoch=0, at=AT)
    assert alarm is not None
    return alarm


def receipt(event_id: str, by: str = "Sari", accepted: bool = True, reason: str | None = None):
    return Receipt(event_id, by, AT, accepted, reason)


def test_an_alarm_event_opens_an_alarm_named_for_it() -> None:
    alarm = opened(1)
    assert (alarm.alarm_id, alarm.active, alarm.ack, alarm.events) == (
        "id-1",
        True,
        AckState.NONE,
        1,
    )


def test_a_fault_opens_an_alarm_too() -> None:
    assert opened(1, state="fault").severity == "fault"


def test_a_normal_event_opens_nothing() -> None:
    assert alarms.on_event(None, ev(1, "normal"), epoch=0, at=AT) is None


def test_later_events_join_the_episode_and_active_follows_the_device() -> None:
    alarm = alarms.on_event(opened(1), ev(2, "normal"), epoch=0, at=LATER)
    assert alarm is not None
    assert (alarm.events, alarm.active, alarm.state, alarm.last_event_id) == (
        2,
        False,
        "normal",
        "id-2",
    )
    assert alarm.severity == "critical"  # the worst seen


def test_an_old_event_resent_late_is_counted_but_never_rewinds_active() -> None:
    cleared = alarms.on_event(opened(1), ev(3, "normal"), epoch=0, at=LATER)
    assert cleared is not None
    late = alarms.on_event(cleared, ev(2, "alarm", requires_ack=False), epoch=0, at=LATER)
    assert late is not None
    assert (late.events, late.active, late.last_seq) == (3, False, 3)


EARLIER = "2025-03-11T01:00:00.000Z"


def test_an_old_alarm_arriving_after_a_newer_normal_opens_cleared_at_its_own_time() -> None:
    newer = alarms.Newest(0, 107, "id-107", "normal", AT)
    alarm = alarms.on_event(None, ev(72, ts=EARLIER), epoch=0, at=LATER, newest=newer)
    assert alarm is not None
    assert (alarm.active, alarm.state, alarm.last_seq, alarm.last_event_id) == (
        False,
        "normal",
        107,
        "id-107",
    )
    assert (alarm.first_at, alarm.last_at, alarm.waiting) == (EARLIER, AT, ("id-72",))


def test_an_episode_opened_by_a_repeat_takes_its_first_time_from_the_event() -> None:
    alarm = alarms.on_event(None, ev(3, ts=EARLIER), epoch=0, at=LATER, late=True)
    assert alarm is not None and (alarm.first_at, alarm.active) == (EARLIER, True)


def test_an_older_newest_changes_nothing_about_a_new_alarm() -> None:
    older = alarms.Newest(0, 2, "id-2", "normal", EARLIER)
    alarm = alarms.on_event(None, ev(5), epoch=0, at=LATER, newest=older)
    assert alarm is not None and (alarm.active, alarm.first_at, alarm.last_seq) == (
        True,
        LATER,
        5,
    )


def _replay(order: list[tuple[int, str]]) -> tuple[object, ...] | None:
    """The recorder's part of the story: each event archived, the sensor's newest other
    archived event handed in when an episode opens."""
    alarm: Alarm | None = None
    archived: list[tuple[int, str]] = []
    for seq, state in order:
        newest = max(archived, default=None)
        archived.append((seq, state))
        known = alarms.Newest(0, newest[0], f"id-{newest[0]}", newest[1], AT) if newest else None
        after = alarms.on_event(alarm, ev(seq, state), epoch=0, at=LATER, newest=known)
        alarm = after if after is not None else alarm
    if alarm is None:
        return None
    return (alarm.active, alarm.state, alarm.last_seq, alarm.last_event_id)


@given(
    st.lists(st.sampled_from(["alarm", "fault", "normal"]), min_size=1, max_size=8).flatmap(
        lambda states: st.tuples(
            st.just(list(enumerate(states, 1))), st.permutations(list(enumerate(states, 1)))
        )
    )
)
def test_any_arrival_order_of_the_same_events_ends_in_the_state_of_seq_order(
    orders: tuple[list[tuple[int, str]], list[tuple[int, str]]],
) -> None:
    by_seq, arrived = orders
    assert _replay(arrived) == _replay(by_seq)


def test_drills_and_walk_tests_are_kept_apart_from_real_alarms() -> None:
    assert ev(1, drill=True).category == "drill"
    assert ev(1, test=True).category == "test"
    assert ev(1).category == "real"
    drill = opened(1, drill=True)
    assert drill.drill and drill.category == "drill"


def test_acknowledging_is_pending_never_confirmed_on_the_station_word() -> None:
    alarm, send = alarms.acknowledge(opened(1), by="Sari", at=LATER)
    assert send == ["id-1"]
    assert (alarm.ack, alarm.acked_by) == (AckState.PENDING, "Sari")


def test_the_device_receipt_confirms_the_ack() -> None:
    alarm, _ = alarms.acknowledge(opened(1), by="Sari", at=LATER)
    confirmed = alarms.on_receipt(alarm, receipt("id-1"), at=LATER)
    assert (confirmed.ack, confirmed.acked_by) == (AckState.CONFIRMED, "Sari")


def test_a_refusing_receipt_for_our_ack_puts_it_back_to_none_with_the_reason() -> None:
    alarm, _ = alarms.acknowledge(opened(1), by="Sari", at=LATER)
    refused = alarms.on_receipt(alarm, receipt("id-1", accepted=False, reason="unknown"), at=LATER)
    assert (refused.ack, refused.ack_refused) == (AckState.NONE, "unknown")


def test_a_refused_ack_someone_else_sent_changes_nothing_about_ours() -> None:
    alarm, _ = alarms.acknowledge(opened(1), by="Sari", at=LATER)
    forged = receipt("id-1", by="forger", accepted=False, reason="retained")
    assert alarms.on_receipt(alarm, forged, at=LATER) == alarm


def test_the_device_word_ack_closed_on_a_repeat_confirms() -> None:
    alarm = opened(1)
    after = alarms.repeated(alarm, ev(1, ack_word="closed"), at=LATER)
    assert after.ack is AckState.CONFIRMED


def test_a_new_event_needing_an_ack_reopens_the_acknowledgement() -> None:
    alarm, _ = alarms.acknowledge(opened(1), by="Sari", at=LATER)
    alarm = alarms.on_receipt(alarm, receipt("id-1"), at=LATER)
    again = alarms.on_event(alarm, ev(2, "fault"), epoch=0, at=LATER)
    assert again is not None
    assert (again.ack, again.waiting) == (AckState.NONE, ("id-2",))


def test_closing_needs_a_note() -> None:
    with pytest.raises(AlarmError):
        alarms.close(opened(1), by="Sari", at=LATER, note="  ")
    closed = alarms.close(opened(1), by="Sari", at=LATER, note="Damkar on site")
    assert (closed.closed, closed.close_note, closed.closed_by) == (True, "Damkar on site", "Sari")


def test_a_closed_alarm_takes_no_ack() -> None:
    closed = alarms.close(opened(1), by="Sari", at=LATER, note="done")
    with pytest.raises(AlarmError):
        alarms.acknowledge(closed, by="Sari", at=LATER)


def test_after_a_close_a_new_alarm_opens_a_new_episode() -> None:
    closed = alarms.close(opened(1), by="Sari", at=LATER, note="done")
    fresh = alarms.on_event(closed, ev(5), epoch=0, at=LATER)
    assert fresh is not None and fresh.alarm_id == "id-5" and not fresh.closed


def test_history_filled_after_a_close_opens_nothing() -> None:
    later = alarms.on_event(opened(1), ev(4, "normal"), epoch=0, at=LATER)
    assert later is not None
    closed = alarms.close(later, by="Sari", at=LATER, note="done")
    assert alarms.on_event(closed, ev(3), epoch=0, at=LATER) is None


def test_a_device_whose_numbering_started_over_opens_again_in_the_new_epoch() -> None:
    closed = alarms.close(opened(40), by="Sari", at=LATER, note="done")
    fresh = alarms.on_event(closed, ev(2), epoch=1, at=LATER)
    assert fresh is not None and fresh.epoch == 1


def test_a_drill_end_closes_the_drill_acks_as_the_device_does() -> None:
    drill = opened(1, drill=True)
    ended = alarms.drill_ended(drill, at=LATER)
    assert (ended.ack, ended.acked_by, ended.active) == (
        AckState.CONFIRMED,
        alarms.DRILL_ENDED_BY,
        False,
    )
    real = opened(2)
    assert alarms.drill_ended(real, at=LATER) == real


def test_an_alarm_the_device_asks_no_ack_for_needs_none_and_refuses_one() -> None:
    walk = opened(1, test=True, requires_ack=False)
    assert (walk.ack_needed, walk.view()["ack_needed"], walk.ack) == (False, False, AckState.NONE)
    with pytest.raises(AlarmError, match="asks no acknowledgement"):
        alarms.acknowledge(walk, by="Sari", at=LATER)


def test_an_alarm_that_asks_an_ack_needs_one() -> None:
    assert opened(1).ack_needed and opened(1).view()["ack_needed"]


def test_a_zone_members_own_vote_opens_no_alarm_the_zone_carries_it() -> None:
    vote = ev(1, sensor="smoke-2", zone="dapur", requires_ack=False)
    assert alarms.on_event(None, vote, epoch=0, at=AT) is None
    zone = opened(2, sensor="dapur", zone="dapur")
    assert zone.ack_needed


def test_a_zone_members_fault_that_asks_an_ack_opens_its_own_alarm() -> None:
    fault = opened(1, state="fault", sensor="smoke-2", zone="dapur")
    assert fault.ack_needed


def test_new_trouble_asking_an_ack_makes_a_no_ack_alarm_need_one() -> None:
    alarm = alarms.on_event(opened(1, requires_ack=False), ev(2), epoch=0, at=LATER)
    assert alarm is not None and alarm.ack_needed and alarm.waiting == ("id-2",)


def test_a_silent_site_is_an_alarm_of_hazard_device() -> None:
    alarm = alarms.silent_site("lapas", "pi-a", at=AT, why="silent")
    assert (alarm.hazard, alarm.sensor, alarm.active, alarm.silent_site) == (
        "device",
        alarms.SITE_SENSOR,
        True,
        True,
    )


def test_a_silent_site_heard_again_goes_inactive_and_a_pending_ack_is_confirmed() -> None:
    alarm, send = alarms.acknowledge(
        alarms.silent_site("lapas", "pi-a", at=AT, why="silent"), by="Sari", at=AT
    )
    assert send == [] and alarm.ack is AckState.PENDING
    back = alarms.site_spoke(alarm, at=LATER)
    assert (back.active, back.ack) == (False, AckState.CONFIRMED)


@pytest.mark.parametrize(
    ("offset_s", "flag"),
    [(-41.0, "behind"), (-39.0, None), (19.0, None), (21.0, "ahead"), (0.0, None)],
)
def test_device_time_40_s_behind_or_20_s_ahead_is_flagged(
    offset_s: float, flag: str | None
) -> None:
    received = 1_741_659_245.0

    assert alarms.skew(iso_ms(received + offset_s), received) == flag


def test_an_unreadable_device_time_is_flagged() -> None:
    assert alarms.skew("yesterday", 1_741_659_245.0) == "behind"


# ---------------------------------------------------------------------- invariant

STATES = ["alarm", "fault", "normal"]
steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("event"), st.integers(1, 6), st.sampled_from(["alarm", "fault", "normal"])
        ),
        st.tuples(st.just("ack"), st.just(0), st.just("")),
        st.tuples(st.just("refuse"), st.integers(1, 6), st.sampled_from(["Sari", "forger"])),
        st.tuples(st.just("receipt"), st.integers(1, 6), st.just("")),
    ),
    max_size=30,
)


@given(steps)
def test_never_confirmed_unless_the_device_took_every_ack_the_episode_needs(
    script: list[tuple[str, int, str]],
) -> None:
    alarm = opened(1)
    needing = {"id-1"}
    took: set[str] = set()
    for kind, n, arg in script:
        event_id = f"id-{n}"
        if kind == "event" and event_id not in needing | {"id-1"}:
            after = alarms.on_event(alarm, ev(n, arg), epoch=0, at=LATER)
            alarm = after if after is not None else alarm
            if arg in ("alarm", "fault"):
                needing.add(event_id)
        elif kind == "ack":
            alarm, _ = alarms.acknowledge(alarm, by="Sari", at=LATER)
        elif kind == "refuse":
            alarm = alarms.on_receipt(alarm, receipt(event_id, by=arg, accepted=False), at=LATER)
        elif kind == "receipt":
            alarm = alarms.on_receipt(alarm, receipt(event_id), at=LATER)
            took.add(event_id)
        if alarm.ack is AckState.CONFIRMED:
            assert needing <= took


def test_a_site_silent_again_after_its_silence_was_acknowledged_needs_a_new_ack() -> None:
    # probe-ops: the second silence of a site whose first one an operator had handled
    # showed "confirmed by Sari", with no tone and no count, for trouble no one had seen.
    first, _ = alarms.acknowledge(
        alarms.silent_site("lapas", "pi-a", at=AT, why="silent"), by="Sari", at=AT
    )
    handled = alarms.site_spoke(first, at=LATER)
    assert handled.ack is AckState.CONFIRMED
    again = alarms.site_silent_again(handled, at=LATER, why="lost")
    assert (again.active, again.ack, again.acked_by) == (True, AckState.NONE, None)


def test_a_new_reason_for_a_silence_still_going_on_keeps_its_ack() -> None:
    pending, _ = alarms.acknowledge(
        alarms.silent_site("lapas", "pi-a", at=AT, why="overdue"), by="Sari", at=AT
    )
    again = alarms.site_silent_again(pending, at=LATER, why="lost")
    assert (again.ack, again.acked_by, again.state) == (AckState.PENDING, "Sari", "lost")


def test_acknowledging_a_silence_the_site_already_ended_is_confirmed_at_once() -> None:
    # probe-ops: it stayed "pending" (menunggu perangkat) for ever: nothing is sent and the
    # site's speaking, the only word that confirms a silence, had come before the ack.
    over = alarms.site_spoke(alarms.silent_site("lapas", "pi-a", at=AT, why="silent"), at=AT)
    acked, send = alarms.acknowledge(over, by="Sari", at=LATER)
    assert send == []
    assert (acked.ack, acked.acked_by, acked.acked_at) == (AckState.CONFIRMED, "Sari", LATER)
