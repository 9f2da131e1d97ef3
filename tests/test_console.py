"""The control room's console: the pure Board with a fake clock, then end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from broker import Mosquitto
from factories import make_event
from gpiozero.pins.mock import MockFactory
from harness import Listener, ThreadedDaemon
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from tools_support import REPO, env, tool_daemon, write_config

from edge.clock import FakeClock
from edge.console.board import (
    GAP_GRACE_S,
    GIVE_UP_REQUESTS,
    MAX_GAP_RANGES,
    RESEND_RETRY_S,
    Board,
    Device,
)
from edge.console.render import render_board
from edge.detect.types import State
from edge.payloads import MAX_RESEND_SPAN

P = "siaga/v1/lapas/pi-a"


def event(seq: int, state: State = State.ALARM, sensor: str = "smoke-1", **extra: Any) -> bytes:
    data = json.loads(make_event(seq, state=state, sensor=sensor).to_json())
    data.update(extra)
    return json.dumps(data).encode()


def heartbeat(last_seq: int, depth: int = 0, interval_s: float = 10.0) -> bytes:
    return json.dumps(
        {
            "ts": "2025-03-11T02:14:05.123Z",
            "interval_s": interval_s,
            "last_seq": last_seq,
            "outbox_depth": depth,
            "sensors": {},
        }
    ).encode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def board() -> Board:
    return Board("siaga/v1")


# ---------------------------------------------------------------- the pure board


def test_a_repeated_event_id_is_a_new_event_only_once(board: Board, clock: FakeClock) -> None:
    first = board.feed(f"{P}/events", event(1), clock.monotonic())
    again = board.feed(f"{P}/events", event(1), clock.monotonic())
    assert [e["seq"] for e in first.events] == [1]
    assert again.events == []


def test_a_sensor_shows_its_event_with_the_highest_seq(board: Board, clock: FakeClock) -> None:
    board.feed(f"{P}/events", event(2, State.NORMAL), clock.monotonic())
    board.feed(f"{P}/events", event(1, State.ALARM), clock.monotonic())  # a late resend
    assert [(r.sensor, r.state) for r in board.rows()] == [("smoke-1", "normal")]


def test_rows_go_alarms_then_faults_then_warnings_then_normal(
    board: Board, clock: FakeClock
) -> None:
    for seq, state, sensor in [
        (1, State.NORMAL, "a"),
        (2, State.WARNING, "b"),
        (3, State.ALARM, "c"),
        (4, State.FAULT, "d"),
    ]:
        board.feed(f"{P}/events", event(seq, state, sensor), clock.monotonic())
    assert [r.state for r in board.rows()] == ["alarm", "fault", "warning", "normal"]


def test_an_unacknowledged_alarm_comes_before_an_acknowledged_one(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(1, State.ALARM, "a"), clock.monotonic())
    board.feed(f"{P}/events", event(2, State.ALARM, "b"), clock.monotonic())
    ack = {"event_id": json.loads(event(1, State.ALARM, "a"))["id"], "by": "Sari"}
    board.feed(f"{P}/ack", json.dumps(ack).encode(), clock.monotonic())
    assert [r.sensor for r in board.rows()] == ["b", "a"]
    assert [board.has_open(r) for r in board.rows()] == [True, False]


def test_ack_all_acknowledges_every_open_event_as_the_operator(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(1, State.ALARM, "a"), clock.monotonic())
    board.feed(f"{P}/events", event(2, State.FAULT, "b"), clock.monotonic())
    board.feed(f"{P}/events", event(3, State.NORMAL, "c"), clock.monotonic())
    sent = board.ack_all("Bripka Sari", clock.wall())
    assert {m.topic for m in sent} == {f"{P}/ack"}
    acks = [json.loads(m.payload) for m in sent]
    assert [a["event_id"][-2:] for a in acks] == ["01", "02"]
    assert {a["by"] for a in acks} == {"Bripka Sari"}
    assert board.ack_all("Bripka Sari", clock.wall()) == []  # sent once


def test_a_valid_ack_heard_from_any_console_closes_the_event(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(1, State.ALARM), clock.monotonic())
    alarm_id = next(iter(board.open))
    ack = json.dumps({"event_id": alarm_id, "by": "Bripka Sari"}).encode()
    board.feed(f"{P}/ack", ack, clock.monotonic())
    assert board.open == {}


@pytest.mark.parametrize(
    "change",
    [
        {"note": "a field the device does not know"},
        {"by": "x" * 500},
        {"by": 7},
    ],
    ids=["unknown field", "name too long", "name not a string"],
)
def test_an_ack_the_device_would_refuse_leaves_the_alarm_open(
    board: Board, clock: FakeClock, change: dict[str, Any]
) -> None:
    board.feed(f"{P}/events", event(1, State.ALARM), clock.monotonic())
    alarm_id = next(iter(board.open))
    ack = {"event_id": alarm_id, "by": "Bripka Sari"} | change
    update = board.feed(f"{P}/ack", json.dumps(ack).encode(), clock.monotonic())
    assert list(board.open) == [alarm_id]
    assert update.notes == ["lapas/pi-a: an ack the device will refuse was heard and ignored"]


def test_an_ack_on_another_devices_topic_leaves_the_alarm_open(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(1, State.ALARM), clock.monotonic())
    alarm_id = next(iter(board.open))
    ack = json.dumps({"event_id": alarm_id, "by": "Bripka Sari"}).encode()
    board.feed("siaga/v1/lapas/pi-b/ack", ack, clock.monotonic())
    assert list(board.open) == [alarm_id]


RESENT_CLOSED = {"sent": "resend", "ack": "closed"}
REPEATED = {"sent": "repeat", "ack": "open"}


def test_a_resent_alarm_the_device_says_was_acknowledged_is_not_opened(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(14, State.ALARM), clock.monotonic(), RESENT_CLOSED)
    assert board.open == {}
    assert [r.state for r in board.rows()] == ["alarm"]  # still shown as what happened


def test_an_open_alarm_the_device_says_is_closed_is_closed_here_too(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(3, State.ALARM), clock.monotonic())
    board.feed(f"{P}/events", event(3, State.ALARM), clock.monotonic(), RESENT_CLOSED)
    assert board.open == {}


def test_a_repeat_after_an_ack_the_device_did_not_record_opens_the_alarm_again(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(3, State.ALARM), clock.monotonic())
    alarm_id = next(iter(board.open))
    ack = json.dumps({"event_id": alarm_id, "by": "Bripka Sari"}).encode()
    board.feed(f"{P}/ack", ack, clock.monotonic())
    clock.advance(1.0)  # a repeat already on its way when the device got the ack
    assert board.feed(f"{P}/events", event(3), clock.monotonic(), REPEATED).notes == []
    assert board.open == {}
    clock.advance(60.0)  # repeated a minute later: the device never recorded the ack
    update = board.feed(f"{P}/events", event(3), clock.monotonic(), REPEATED)
    assert list(board.open) == [alarm_id]
    assert update.notes == [
        "lapas/pi-a: seq 3 is still unacknowledged on the device (it did not record the ack "
        "heard for it): open again"
    ]


def test_drill_events_never_change_the_real_rows(board: Board, clock: FakeClock) -> None:
    board.feed(f"{P}/events", event(1, State.NORMAL), clock.monotonic())
    board.feed(f"{P}/events", event(2, State.ALARM, drill=True), clock.monotonic())
    assert [r.state for r in board.rows()] == ["normal"]
    assert [(e["sensor"], e["state"]) for e in board.drill_rows()] == [("smoke-1", "alarm")]


def test_walk_test_events_never_change_the_real_rows(board: Board, clock: FakeClock) -> None:
    board.feed(f"{P}/events", event(1, State.NORMAL), clock.monotonic())
    board.feed(f"{P}/events", event(2, State.ALARM, test=True), clock.monotonic())
    assert [r.state for r in board.rows()] == ["normal"]
    assert [(e["sensor"], e["state"]) for e in board.drill_rows()] == [("smoke-1", "alarm")]
    marker = event(3, State.NORMAL, sensor="_device", test=True, reason="test")
    board.feed(f"{P}/events", marker, clock.monotonic())
    assert board.drill_rows() == []


def test_a_drill_marker_clears_the_devices_drill_rows(board: Board, clock: FakeClock) -> None:
    board.feed(f"{P}/events", event(1, State.ALARM, drill=True), clock.monotonic())
    marker = event(2, State.NORMAL, sensor="_device", drill=True, reason="drill")
    board.feed(f"{P}/events", marker, clock.monotonic())
    assert board.drill_rows() == []


def test_a_drill_marker_closes_the_drill_alarms_left_open_but_not_real_ones(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(1, State.ALARM, drill=True), clock.monotonic())
    board.feed(f"{P}/events", event(2, State.ALARM, sensor="gas-1"), clock.monotonic())
    marker = event(3, State.NORMAL, sensor="_device", drill=True, reason="drill")
    board.feed(f"{P}/events", marker, clock.monotonic())
    assert [e["seq"] for e in board.open.values()] == [2]


def beat_saying(state: str, ts: str) -> bytes:
    return json.dumps(
        {"ts": ts, "interval_s": 30, "last_seq": 1, "outbox_depth": 1,
         "sensors": {"smoke-1": {"state": state, "stage": None, "value": 1.0, "unit": "",
                                 "age_s": 0.1}}}
    ).encode()  # fmt: skip


def test_an_alarm_the_heartbeat_reports_before_its_event_shows_as_an_alarm(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(1, State.NORMAL), clock.monotonic())  # ts 02:14:06
    board.feed(f"{P}/heartbeat", beat_saying("alarm", "2025-03-11T02:14:30.000Z"), 0.0)
    (row,) = board.rows()
    assert (row.state, row.live_alarm) == ("alarm", True)
    board.feed(f"{P}/events", event(2, State.NORMAL, ts="2025-03-11T02:15:00.000Z"), 0.0)
    assert board.rows()[0].state == "normal"  # an event newer than that heartbeat


def test_a_heartbeat_older_than_the_event_that_cleared_an_alarm_does_not_bring_it_back(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(1, State.NORMAL), clock.monotonic())  # ts 02:14:06
    board.feed(f"{P}/heartbeat", beat_saying("alarm", "2025-03-11T02:14:05.500Z"), 0.0)
    assert board.rows()[0].state == "normal"


def test_a_device_is_silent_after_three_missed_heartbeats(board: Board, clock: FakeClock) -> None:
    board.feed(f"{P}/heartbeat", heartbeat(0, interval_s=10), clock.monotonic())
    clock.advance(30.0)
    dev = board.devices[("lapas", "pi-a")]
    assert not dev.silent(clock.monotonic())
    clock.advance(0.5)
    assert dev.silent(clock.monotonic())
    assert any("SILENT" in n for n in board.tick(clock.monotonic()).notes)


def test_a_device_whose_status_is_offline_is_flagged_offline(
    board: Board, clock: FakeClock
) -> None:
    status = json.dumps({"state": "offline", "ts": "2025-03-11T02:14:05.123Z", "version": "1"})
    update = board.feed(f"{P}/status", status.encode(), clock.monotonic())
    assert board.devices[("lapas", "pi-a")].offline
    assert update.notes == ["lapas/pi-a: OFFLINE"]


def test_a_seq_gap_is_asked_for_on_resend_after_the_grace_time(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(1), clock.monotonic())
    board.feed(f"{P}/events", event(4), clock.monotonic())
    assert board.tick(clock.monotonic()).outgoing == []
    clock.advance(GAP_GRACE_S)
    sent = board.tick(clock.monotonic()).outgoing
    assert [(m.topic, json.loads(m.payload)) for m in sent] == [
        (f"{P}/resend", {"from_seq": 2, "to_seq": 3})
    ]


def test_an_unfilled_gap_is_asked_for_again_later_not_at_every_tick(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(1), clock.monotonic())
    board.feed(f"{P}/events", event(3), clock.monotonic())
    clock.advance(GAP_GRACE_S)
    assert len(board.tick(clock.monotonic()).outgoing) == 1
    clock.advance(RESEND_RETRY_S - 1)
    assert board.tick(clock.monotonic()).outgoing == []
    clock.advance(1)
    assert len(board.tick(clock.monotonic()).outgoing) == 1


def test_a_filled_gap_is_not_asked_for(board: Board, clock: FakeClock) -> None:
    board.feed(f"{P}/events", event(1), clock.monotonic())
    board.feed(f"{P}/events", event(3), clock.monotonic())
    board.feed(f"{P}/events", event(2), clock.monotonic())
    clock.advance(GAP_GRACE_S)
    assert board.tick(clock.monotonic()).outgoing == []


def test_history_before_the_first_event_heard_is_not_asked_for(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(57), clock.monotonic())
    clock.advance(GAP_GRACE_S)
    assert board.tick(clock.monotonic()).outgoing == []


def test_events_the_heartbeat_says_were_delivered_but_never_arrived_are_asked_for(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(5), clock.monotonic())
    board.feed(f"{P}/heartbeat", heartbeat(last_seq=9, depth=2), clock.monotonic())
    clock.advance(GAP_GRACE_S)
    sent = board.tick(clock.monotonic()).outgoing
    assert [json.loads(m.payload) for m in sent] == [{"from_seq": 6, "to_seq": 7}]


def test_a_saved_watermark_makes_a_restarted_console_ask_for_what_it_missed(
    clock: FakeClock,
) -> None:
    board = Board("siaga/v1", watermarks={"lapas/pi-a": 3})
    board.feed(f"{P}/events", event(6), clock.monotonic())
    clock.advance(GAP_GRACE_S)
    sent = board.tick(clock.monotonic()).outgoing
    assert [json.loads(m.payload) for m in sent] == [{"from_seq": 4, "to_seq": 5}]


@pytest.mark.timeout(20)  # a guard against the hang this test is about, not a speed check
def test_a_far_ahead_seq_asks_for_a_bounded_number_of_resend_spans(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(1), clock.monotonic())
    far = json.loads(event(2)) | {"seq": 10**15}
    board.feed(f"{P}/events", json.dumps(far).encode(), clock.monotonic())
    clock.advance(GAP_GRACE_S)
    asked = [json.loads(m.payload) for m in board.tick(clock.monotonic()).outgoing]
    assert len(asked) == MAX_GAP_RANGES
    assert asked[0] == {"from_seq": 2, "to_seq": 1 + MAX_RESEND_SPAN}
    assert all(b["from_seq"] == a["to_seq"] + 1 for a, b in pairwise(asked))


@given(
    watermark=st.integers(0, 50),
    heard=st.lists(st.integers(1, 120), max_size=40),
    delivered=st.integers(0, 150),
)
def test_the_missing_ranges_are_exactly_the_seqs_not_heard(
    watermark: int, heard: list[int], delivered: int
) -> None:
    dev = Device("lapas", "pi-a", first_heard=0.0, watermark=watermark)
    dev.delivered_seq = delivered
    for seq in heard:
        dev.note_seq(seq)
    top = max([watermark, delivered, *heard])
    expected = [s for s in range(watermark + 1, top + 1) if s not in heard]
    ranges = dev.missing()
    assert [s for lo, hi in ranges for s in range(lo, hi + 1)] == expected
    assert all(b[0] > a[1] + 1 for a, b in pairwise(ranges))


def ask_until_given_up(board: Board, clock: FakeClock, *, heartbeats: bool) -> list[list[Any]]:
    """Let a gap's resend requests run their course; returns what each tick asked for."""
    asked = []
    for _ in range(GIVE_UP_REQUESTS + 2):
        clock.advance(300)
        sent = []
        if heartbeats:
            sent += board.feed(f"{P}/heartbeat", heartbeat(last_seq=5), clock.monotonic()).outgoing
        sent += board.tick(clock.monotonic()).outgoing
        asked.append([json.loads(m.payload) for m in sent])
    return asked


def test_a_gap_the_device_never_fills_is_given_up_as_lost(board: Board, clock: FakeClock) -> None:
    board.feed(f"{P}/events", event(1), clock.monotonic())
    board.feed(f"{P}/events", event(5), clock.monotonic())
    asked = ask_until_given_up(board, clock, heartbeats=True)
    assert asked[:GIVE_UP_REQUESTS] == [[{"from_seq": 2, "to_seq": 4}]] * GIVE_UP_REQUESTS
    assert asked[GIVE_UP_REQUESTS:] == [[], []]
    dev = board.devices[("lapas", "pi-a")]
    assert (dev.lost, dev.missing(), dev.watermark) == (3, [], 5)


def test_the_operator_is_told_which_seqs_were_lost(board: Board, clock: FakeClock) -> None:
    board.feed(f"{P}/events", event(1), clock.monotonic())
    board.feed(f"{P}/events", event(5), clock.monotonic())
    notes = []
    for _ in range(GIVE_UP_REQUESTS + 1):
        clock.advance(300)
        notes += board.feed(f"{P}/heartbeat", heartbeat(last_seq=5), clock.monotonic()).notes
        notes += board.tick(clock.monotonic()).notes
    assert [n for n in notes if "LOST" in n] == [
        f"lapas/pi-a: seq 2-4 LOST: asked {GIVE_UP_REQUESTS} times, the device no longer has them"
    ]


def test_a_gap_is_never_given_up_while_the_device_is_not_heard(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(1), clock.monotonic())
    board.feed(f"{P}/events", event(5), clock.monotonic())
    asked = ask_until_given_up(board, clock, heartbeats=False)
    assert asked == [[{"from_seq": 2, "to_seq": 4}]] * (GIVE_UP_REQUESTS + 2)
    assert board.devices[("lapas", "pi-a")].lost == 0


def storage_fault(seq: int) -> bytes:
    return event(
        seq, State.FAULT, sensor="_device", reason="storage", id=f"fresh-{seq}", kind="device"
    )


def test_a_device_whose_store_started_over_is_followed_from_its_new_seq(
    board: Board, clock: FakeClock
) -> None:
    for seq in (1, 2, 3):
        board.feed(f"{P}/events", event(seq, State.ALARM), clock.monotonic())
    update = board.feed(f"{P}/events", storage_fault(1), clock.monotonic())
    assert update.notes == [
        "lapas/pi-a: its store was replaced and numbering started again at seq 1"
    ]
    board.feed(f"{P}/events", event(2, State.NORMAL, id="fresh-2"), clock.monotonic())
    clock.advance(GAP_GRACE_S)
    assert board.tick(clock.monotonic()).outgoing == []  # no "gap" back to the old seq 3
    assert [(r.sensor, r.state) for r in board.rows()] == [("smoke-1", "normal")]


def test_a_heartbeat_below_the_highest_seq_heard_starts_the_numbering_over(
    board: Board, clock: FakeClock
) -> None:
    for seq in range(1, 11):
        board.feed(f"{P}/events", event(seq, State.ALARM), clock.monotonic())
    update = board.feed(f"{P}/heartbeat", heartbeat(last_seq=3), clock.monotonic())
    assert update.notes == [
        "lapas/pi-a: its store was replaced and numbering started again (last seq 3)"
    ]
    board.feed(f"{P}/events", event(4, State.NORMAL, id="fresh-4"), clock.monotonic())
    clock.advance(GAP_GRACE_S)
    assert board.tick(clock.monotonic()).outgoing == []
    assert [(r.sensor, r.state) for r in board.rows()] == [("smoke-1", "normal")]


def test_a_resent_old_event_below_the_highest_seq_changes_no_numbering(
    board: Board, clock: FakeClock
) -> None:
    for seq in range(1, 6):
        board.feed(f"{P}/events", event(seq, State.ALARM), clock.monotonic())
    board.feed(f"{P}/events", event(2, State.ALARM), clock.monotonic())  # a resend, same id
    dev = board.devices[("lapas", "pi-a")]
    assert (dev.epoch, dev.watermark) == (0, 5)


def test_malformed_messages_are_counted_and_ignored(board: Board, clock: FakeClock) -> None:
    for payload in [b"", b"not json", b"[]", b'{"seq": "x"}']:
        assert board.feed(f"{P}/events", payload, clock.monotonic()).events == []
    assert board.malformed == 4
    assert board.rows() == []


def test_the_rendered_board_flags_unacknowledged_alarms_and_silent_devices(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(1, State.ALARM), clock.monotonic())
    clock.advance(200)
    console = Console(record=True, width=160)
    console.print(render_board(board, clock.monotonic(), source="test", clock="now"))
    text = console.export_text()
    assert "UNACK" in text
    assert "SILENT" in text


def test_acknowledging_all_never_takes_drills_with_real_alarms(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/events", event(1, State.ALARM, "a"), clock.monotonic())
    board.feed(f"{P}/events", event(2, State.ALARM, "b", drill=True), clock.monotonic())
    sent = board.ack_all("Sari", clock.wall())
    assert [json.loads(m.payload)["event_id"][-2:] for m in sent] == ["01"]


def test_the_console_own_link_loss_never_makes_a_device_silent(
    board: Board, clock: FakeClock
) -> None:
    board.feed(f"{P}/heartbeat", heartbeat(0, interval_s=10.0), clock.monotonic())
    board.link(False, clock.monotonic())
    clock.advance(300)
    dev = board.devices[("lapas", "pi-a")]
    assert not dev.silent(clock.monotonic())
    board.link(True, clock.monotonic())
    clock.advance(29)
    assert not dev.silent(clock.monotonic())  # counted from when it hears again
    clock.advance(2)
    assert dev.silent(clock.monotonic())


def test_the_link_loss_banner_is_on_screen(board: Board, clock: FakeClock) -> None:
    board.feed(f"{P}/events", event(1, State.ALARM), clock.monotonic())
    board.link(False, clock.monotonic())
    clock.advance(120)
    console = Console(record=True, width=120)
    console.print(render_board(board, clock.monotonic(), source="t", clock="now"))
    text = console.export_text()
    assert "CONSOLE NOT CONNECTED TO THE BROKER for 2 min" in text
    assert "SILENT" not in text


def test_only_the_selected_event_is_acknowledged_after_a_confirmation(
    board: Board, clock: FakeClock
) -> None:
    from edge.config import MqttConfig
    from edge.console.app import ConsoleSession

    session = ConsoleSession(
        MqttConfig(url="mqtt://127.0.0.1:1"),
        client_id="t",
        board=board,
        clock=clock,
        ack_as="Sari",
    )
    for seq, sensor in ((1, "a"), (2, "b"), (3, "c")):
        board.feed(f"{P}/events", event(seq, State.ALARM, sensor), clock.monotonic())
    for text in ("select 1", "select 1", "ask", "n", "ask", "y"):  # the first j selects
        session.command(text)
    session.step(timeout=0)
    chosen = board.unacknowledged()
    assert [e["sensor"] for e in chosen] == ["a", "c"]
    assert len(board.ack_sent) == 1


def test_who_acknowledged_is_shown_beside_the_event(board: Board, clock: FakeClock) -> None:
    board.feed(f"{P}/events", event(1, State.ALARM), clock.monotonic())
    ack = {"event_id": json.loads(event(1))["id"], "by": "Bripka Sari"}
    board.feed(f"{P}/ack", json.dumps(ack).encode(), clock.monotonic())
    console = Console(record=True, width=120)
    console.print(render_board(board, clock.monotonic(), source="t", clock="now"))
    assert "ack: Bripka Sari" in console.export_text()


def test_a_full_board_fits_120_by_30_with_alarms_first_and_notes_on_screen(
    board: Board, clock: FakeClock
) -> None:
    for seq in range(1, 41):
        state = State.ALARM if seq % 4 == 0 else State.NORMAL
        board.feed(f"{P}/events", event(seq, state, f"s-{seq:02d}"), clock.monotonic())
    console = Console(record=True, width=120, height=30)
    view = render_board(
        board,
        clock.monotonic(),
        source="t",
        clock="now",
        notes=["10:00:00 a note of mine"],
        height=30,
    )
    console.print(view)
    lines = console.export_text().rstrip("\n").splitlines()
    assert len(lines) <= 30
    text = "\n".join(lines)
    assert text.count("ALARM") >= 10  # every alarm is in view, normals give way
    assert "a note of mine" in text and "more" in text


# ---------------------------------------------------------------- end to end


class ConsoleProc:
    """``siaga-edge console --json`` as a subprocess; stdout lines collected."""

    def __init__(self, broker: Mosquitto, tmp: Path, *extra: str, client_id: str = "cr-1"):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge",
                "console",
                "--broker",
                broker.url,
                "--json",
                "--client-id",
                client_id,
                "--state",
                str(tmp / f"{client_id}.json"),
                *extra,
            ],
            cwd=REPO,
            env=env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_notes, daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        assert self.wait_for(lambda: any("connected to" in n for n in self.notes)), self.notes

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def _read_notes(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.notes.append(line)

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return bool(predicate())

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> str:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        for reader in self._readers:
            reader.join(5)
        return "".join(self.notes)


@pytest.fixture
def device(
    broker: Mosquitto, tmp_path: Path, mock_factory: MockFactory
) -> Iterator[ThreadedDaemon]:
    running = tool_daemon(write_config(tmp_path, broker.url, repeat_s=0.3), mock_factory)
    yield running
    if running.thread.is_alive():
        running.stop()


def alarms(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in lines if e["state"] == "alarm"]


def test_console_json_prints_a_repeated_alarm_once(
    broker: Mosquitto, tmp_path: Path, device: ThreadedDaemon
) -> None:
    console = ConsoleProc(broker, tmp_path)
    try:
        device.smoke_pin.drive_low()
        assert console.wait_for(lambda: alarms(console.lines))
        time.sleep(1.0)  # the device repeats the unacknowledged alarm every 0.3 s
    finally:
        console.stop()
    assert len(alarms(console.lines)) == 1
    ids = [e["id"] for e in console.lines]
    assert len(ids) == len(set(ids))


def test_console_ack_acknowledges_open_alarms_as_the_named_operator(
    broker: Mosquitto, tmp_path: Path, device: ThreadedDaemon
) -> None:
    sub = Listener(broker.port, topic=f"{P}/ack", client_id="ack-watch")
    console = ConsoleProc(broker, tmp_path, "--ack-as", "Bripka Sari")
    try:
        device.smoke_pin.drive_low()
        assert console.wait_for(lambda: alarms(console.lines))
        alarm = alarms(console.lines)[0]
        console.send("ack")
        assert sub.wait_for(lambda s: bool(s.messages))
        assert device.daemon.outbox is not None
        assert console.wait_for(lambda: device.daemon.outbox.is_acked(alarm["id"]))  # type: ignore[union-attr]
    finally:
        console.stop()
        sub.client.disconnect()
        sub.client.loop_stop()
    ack = json.loads(sub.messages[0][1])
    assert (ack["event_id"], ack["by"]) == (alarm["id"], "Bripka Sari")


def test_a_console_without_ack_as_never_publishes_an_ack(
    broker: Mosquitto, tmp_path: Path, device: ThreadedDaemon
) -> None:
    sub = Listener(broker.port, topic=f"{P}/ack", client_id="ack-watch")
    console = ConsoleProc(broker, tmp_path)
    try:
        device.smoke_pin.drive_low()
        assert console.wait_for(lambda: alarms(console.lines))
        console.send("ack")
        time.sleep(0.5)
    finally:
        err = console.stop()
        sub.client.disconnect()
        sub.client.loop_stop()
    assert sub.messages == []
    assert "--ack-as" in err


def test_console_catches_up_on_events_that_arrived_while_it_was_down(
    broker: Mosquitto, tmp_path: Path, device: ThreadedDaemon
) -> None:
    ConsoleProc(broker, tmp_path, client_id="cr-persist").stop()
    device.smoke_pin.drive_low()
    time.sleep(0.6)  # the alarm happens while no console runs
    again = ConsoleProc(broker, tmp_path, client_id="cr-persist")
    try:
        assert again.wait_for(lambda: alarms(again.lines))
    finally:
        again.stop()


def test_console_fills_a_seq_gap_through_resend(
    broker: Mosquitto, tmp_path: Path, device: ThreadedDaemon
) -> None:
    # A console that last accounted for seq 0 of this device, on a fresh session: the
    # startup events 1..4 were never delivered to it. The heartbeat reveals the gap.
    (tmp_path / "cr-gap.json").write_text(json.dumps({"watermarks": {"lapas/pi-a": 0}}))
    console = ConsoleProc(broker, tmp_path, client_id="cr-gap")
    try:
        got = console.wait_for(lambda: {1, 2, 3, 4} <= {e["seq"] for e in console.lines})
    finally:
        err = console.stop()
    assert got, err
    assert "missing, asked on resend" in err
