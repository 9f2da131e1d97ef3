"""Walk test bookkeeping: which sensors are in test until when, on the caller's times."""

from __future__ import annotations

import pytest

from edge.walktest import MAX_MINUTES, ChangeKind, WalkTest, WalkTestError

SENSORS = ["smoke-dapur", "air-selokan", "getar-pagar"]


def walk() -> WalkTest:
    return WalkTest(SENSORS)


def test_started_sensors_are_in_test_until_their_minutes_are_up() -> None:
    w = walk()
    changes = w.start(["getar-pagar"], 10, now=100.0, who="uid=0")
    assert [(c.kind, c.sensor, c.until) for c in changes] == [
        (ChangeKind.START, "getar-pagar", 700.0)
    ]
    assert w.in_test("getar-pagar", 699.9)
    assert not w.in_test("getar-pagar", 700.0)
    assert not w.in_test("smoke-dapur", 200.0)


def test_a_test_ends_by_itself_at_its_own_time() -> None:
    w = walk()
    w.start(["smoke-dapur"], 1, now=0.0, who="t")
    w.start(["air-selokan"], 2, now=0.0, who="t")
    assert w.due() == 60.0
    assert w.expire(59.0) == []
    ended = w.expire(500.0)
    assert [(c.kind, c.sensor, c.at, c.why) for c in ended] == [
        (ChangeKind.END, "smoke-dapur", 60.0, "expired"),
        (ChangeKind.END, "air-selokan", 120.0, "expired"),
    ]
    assert w.due() is None and w.windows == {}


def test_all_names_every_configured_sensor() -> None:
    w = walk()
    assert [c.sensor for c in w.start(["all"], 5, now=0.0, who="t")] == SENSORS


def test_starting_again_extends_a_running_test() -> None:
    w = walk()
    w.start(["smoke-dapur"], 5, now=0.0, who="t")
    (change,) = w.start(["smoke-dapur"], 5, now=120.0, who="t")
    assert (change.kind, change.until) == (ChangeKind.EXTEND, 420.0)


def test_stop_ends_the_named_tests_now_and_all_of_them_without_names() -> None:
    w = walk()
    w.start(["all"], 5, now=0.0, who="t")
    assert [c.sensor for c in w.stop(["air-selokan"], 10.0)] == ["air-selokan"]
    assert [(c.sensor, c.why) for c in w.stop(None, 20.0)] == [
        ("smoke-dapur", "stopped"),
        ("getar-pagar", "stopped"),
    ]
    assert w.stop(None, 30.0) == []


def test_an_unknown_sensor_is_refused_by_name_and_nothing_starts() -> None:
    w = walk()
    with pytest.raises(WalkTestError, match="no sensor 'smoke-x' here"):
        w.start(["smoke-dapur", "smoke-x"], 5, now=0.0, who="t")
    assert w.windows == {}


@pytest.mark.parametrize("minutes", [0, -1, MAX_MINUTES + 1])
def test_a_walk_test_is_bounded(minutes: float) -> None:
    with pytest.raises(WalkTestError, match="at most 240 min"):
        walk().start(["smoke-dapur"], minutes, now=0.0, who="t")


def test_status_lists_the_time_left_in_config_order() -> None:
    w = walk()
    w.start(["getar-pagar"], 1, now=0.0, who="uid=1000")
    w.start(["smoke-dapur"], 2, now=0.0, who="uid=0")
    assert w.status(30.0) == [
        {"sensor": "smoke-dapur", "remaining_s": 90.0, "by": "uid=0"},
        {"sensor": "getar-pagar", "remaining_s": 30.0, "by": "uid=1000"},
    ]
