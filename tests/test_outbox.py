"""The outbox: committed before publish, seq gap-free across restarts, bounded, recoverable."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from factories import make_event
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from edge.detect.types import State
from edge.outbox import LEGACY, AckResult, Outbox, StorageError


def append(box: Outbox, state: State = State.ALARM) -> int:
    return box.append(lambda seq: make_event(seq, state=state)).seq


def test_seq_starts_at_1_and_grows_by_1(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    assert [append(box) for _ in range(3)] == [1, 2, 3]


def test_seq_continues_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    append(box)
    append(box)
    box.close()
    assert append(Outbox(path)) == 3


def test_a_committed_event_survives_without_close(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    append(box)
    # no close(): as after SIGKILL; a second connection sees the commit
    assert Outbox(path).undelivered(0, 10)[0].seq == 1


def test_undelivered_comes_in_seq_order_after_a_cursor(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    for _ in range(5):
        append(box)
    box.mark_delivered([2])
    assert [s.seq for s in box.undelivered(0, 10)] == [1, 3, 4, 5]
    assert [s.seq for s in box.undelivered(3, 1)] == [4]
    assert box.first_undelivered() == 1
    assert box.depth() == 4


def test_an_ack_is_recorded_once_with_who_in_the_audit_log(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    event = box.append(make_event)
    assert box.ack(event.id, "Bripka Sari") is AckResult.RECORDED
    assert box.ack(event.id, "Bripka Sari") is AckResult.ALREADY
    assert box.is_acked(event.id)
    assert any(
        "by=Bripka Sari" in detail
        for _, name, detail in box.audit_log()
        if name == "event_acknowledged"
    )


def test_unknown_ack_changes_nothing(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    append(box)
    assert box.ack("no-such-id", "x") is AckResult.UNKNOWN
    assert box.unacked_alarms() == 1


def test_repeats_are_due_only_for_delivered_unacked_alarms(tmp_path: Path) -> None:
    now = [1000.0]
    box = Outbox(tmp_path / "o.sqlite3", wall=lambda: now[0])
    alarm = append(box, State.ALARM)
    append(box, State.NORMAL)
    acked = box.append(lambda seq: make_event(seq, state=State.FAULT))
    box.mark_delivered([1, 2, 3])
    box.ack(acked.id, "op")
    now[0] += 59
    assert box.due_repeats(60, 10) == []
    now[0] += 2
    assert [s.seq for s in box.due_repeats(60, 10)] == [alarm]


def test_latest_holds_the_last_event_per_sensor(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    box.append(lambda seq: make_event(seq, state=State.ALARM, sensor="a"))
    box.append(lambda seq: make_event(seq, state=State.NORMAL, sensor="a"))
    box.append(lambda seq: make_event(seq, state=State.ALARM, sensor="b"))
    latest = box.latest()
    assert latest["a"].seq == 2 and latest["b"].seq == 3


def test_latest_never_names_a_drill_or_walk_test_event(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    box.append(lambda seq: make_event(seq, state=State.NORMAL, sensor="a"))
    box.append(
        lambda seq: make_event(seq, state=State.ALARM, sensor="a").model_copy(
            update={"drill": True}
        )
    )
    box.append(
        lambda seq: make_event(seq, state=State.ALARM, sensor="a").model_copy(update={"test": True})
    )
    assert box.latest()["a"].seq == 1


def test_a_store_whose_latest_names_a_drill_is_repaired_on_open(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    box.append(lambda seq: make_event(seq, state=State.NORMAL, sensor="a"))
    box.append(
        lambda seq: make_event(seq, state=State.ALARM, sensor="a").model_copy(
            update={"drill": True}
        )
    )
    box.db.execute("UPDATE latest SET seq = 2 WHERE sensor = 'a'")  # as an older version left it
    box.close()
    assert Outbox(path).latest()["a"].seq == 1


def test_a_corrupt_store_is_moved_aside_and_a_fresh_one_starts(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    box = Outbox(path)
    assert box.moved_aside is not None and box.moved_aside.exists()
    assert box.moved_aside.name.startswith("o.sqlite3.corrupt-")
    assert append(box) == 1
    assert box.salvaged is not None and box.salvaged.last_seq == 0


# ---------------------------------------------------------------- a damaged store

EVENTS = 2000
Owed = dict[int, tuple[str, bytes]]
Healthy = tuple[bytes, Owed]


def mixed_store(path: Path) -> Owed:
    """EVENTS events as months on site leave them; returns the ones still owed, by seq.

    seq % 4: 0 delivered and acknowledged alarm, 1 undelivered, 2 delivered normal,
    3 delivered alarm never acknowledged (owed: it repeats and holds the siren)."""
    box = Outbox(path)
    box.db.execute("PRAGMA synchronous=OFF")  # set-up, not the thing under test
    owed: Owed = {}
    for seq in range(1, EVENTS + 1):
        event = box.append(
            lambda s: make_event(s, state=State.NORMAL if s % 4 in (1, 2) else State.ALARM)
        )
        if seq % 4 != 1:
            box.mark_delivered([seq])
        if seq % 4 == 0:
            box.ack(event.id, "Bripka Sari")
        if seq % 4 in (1, 3):
            owed[seq] = (event.id, event.to_json())
    box.close()
    return owed


@pytest.fixture(scope="module")
def healthy_store(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[bytes, dict[int, tuple[str, bytes]]]:
    path = tmp_path_factory.mktemp("healthy") / "o.sqlite3"
    owed = mixed_store(path)
    return path.read_bytes(), owed


def damaged(path: Path, image: bytes, at: int, size: int, seed: int = 7) -> None:
    data = bytearray(image)
    data[at : at + size] = random.Random(seed).randbytes(len(data[at : at + size]))
    path.write_bytes(bytes(data))


def carried_over(box: Outbox) -> Owed:
    rows = box.db.execute("SELECT seq, id, payload FROM events ORDER BY seq").fetchall()
    return {int(s): (str(i), bytes(p)) for s, i, p in rows}


def test_a_store_with_damaged_pages_hands_its_owed_events_to_the_fresh_store(
    tmp_path: Path, healthy_store: Healthy
) -> None:
    image, owed = healthy_store
    path = tmp_path / "o.sqlite3"
    damaged(path, image, at=len(image) // 2, size=8192)  # event pages; the counter survives
    fresh = Outbox(path)
    assert fresh.moved_aside is not None and fresh.salvaged is not None
    got = carried_over(fresh)
    assert got.items() <= owed.items()  # the same id and bytes, nothing invented
    assert len(got) >= len(owed) * 3 // 4  # all but the stretch on the damaged pages
    assert fresh.salvaged.recovered == len(got)
    assert [s.seq for s in fresh.undelivered(0, EVENTS)] == [s for s in got if s % 4 == 1]
    assert {s.seq for s in fresh.due_repeats(0, EVENTS)} == {s for s in got if s % 4 == 3}
    assert append(fresh) == EVENTS + 1  # seq never runs backwards


def test_a_store_that_cannot_be_opened_is_refused_and_left_where_it_is(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    path.mkdir()  # not the file's contents at fault: SQLite cannot open it at all
    with pytest.raises(StorageError, match="cannot open the store"):
        Outbox(path)
    assert path.is_dir() and [p.name for p in tmp_path.iterdir()] == ["o.sqlite3"]


def test_a_store_whose_header_names_an_unknown_format_is_moved_aside_not_refused(
    tmp_path: Path, healthy_store: Healthy
) -> None:
    image, _ = healthy_store
    path = tmp_path / "o.sqlite3"
    damaged(path, image, at=44, size=4)  # the schema format number: SQLite says "unsupported"
    fresh = Outbox(path)
    assert fresh.moved_aside is not None
    assert append(fresh) == 1  # nothing readable: seq starts again, and the message says so


def test_a_store_whose_schema_text_is_garbled_is_moved_aside_not_a_crash(
    tmp_path: Path, healthy_store: Healthy
) -> None:
    image, _ = healthy_store
    data = bytearray(image)
    at = data.find(b"tableeventsevents")  # the events table's row in sqlite_schema
    data[at + 5 : at + 11] = b"\xd8\xff" * 3  # its name, no longer UTF-8
    data[at + 30 : at + 40] = b"\xd8" * 10  # and its SQL: SQLite's error quotes the bad name
    path = tmp_path / "o.sqlite3"
    path.write_bytes(bytes(data))
    assert Outbox(path).moved_aside is not None


@settings(max_examples=30, deadline=None)
@given(at=st.integers(0, 1_000_000), size=st.integers(1, 64 * 1024), seed=st.integers(0, 9))
def test_whatever_a_damaged_store_gives_up_is_true_and_seq_goes_on_after_it(
    tmp_path_factory: pytest.TempPathFactory,
    healthy_store: Healthy,
    at: int,
    size: int,
    seed: int,
) -> None:
    image, owed = healthy_store
    path = tmp_path_factory.mktemp("damaged") / "o.sqlite3"
    damaged(path, image, at=at % len(image), size=size, seed=seed)
    fresh = Outbox(path)  # never raises on a damaged file
    assume(fresh.moved_aside is not None)  # damage quick_check cannot see: not this test
    got = carried_over(fresh)
    assert got.items() <= owed.items()
    assert append(fresh) > max(got, default=0)


def test_eviction_keeps_undelivered_and_unacked_alarms(tmp_path: Path) -> None:
    now = [0.0]
    box = Outbox(tmp_path / "o.sqlite3", retain_days=1, wall=lambda: now[0])
    for _ in range(3):
        append(box, State.ALARM)  # 1..3
    for _ in range(3):
        append(box, State.NORMAL)  # 4..6
    box.mark_delivered([1, 4, 5])
    now[0] = 2 * 86400
    box.evict()
    kept = {s.seq for s in box.span(1, 10)}
    # 1: delivered but unacked alarm; 2,3: undelivered; 4,5 evicted; 6: latest of its sensor
    assert kept == {1, 2, 3, 6}


def test_a_full_store_evicts_delivered_events_to_take_a_new_one(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_page_count=40)
    for _ in range(1000):  # many times what 40 pages hold
        seq = append(box, State.NORMAL)
        box.mark_delivered([seq])
    assert box.last_seq() == 1000
    assert box.last_error is None


def test_a_full_store_of_undelivered_events_refuses_and_keeps_them(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_page_count=30)
    stored = 0
    while True:
        try:
            append(box)
            stored += 1
        except StorageError as exc:
            assert "full" in str(exc)
            break
    assert box.depth() == stored
    assert box.last_error is not None


@settings(max_examples=25, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=30))
def test_seq_is_gap_free_whatever_gets_delivered(
    tmp_path_factory: object, delivered: list[bool]
) -> None:
    path = tmp_path_factory.mktemp("o") / "o.sqlite3"  # type: ignore[attr-defined]
    box = Outbox(path)
    for flag in delivered:
        seq = append(box)
        if flag:
            box.mark_delivered([seq])
    all_seqs = [s.seq for s in box.span(1, 10_000)]
    assert all_seqs == list(range(1, len(delivered) + 1))
    assert box.depth() == delivered.count(False)


def test_wal_and_full_sync_are_on(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert isinstance(box.db, sqlite3.Connection)


def test_drill_alarms_are_not_counted_as_real_unacknowledged_alarms(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    box.append(lambda seq: make_event(seq).model_copy(update={"drill": True}))
    assert box.unacked_alarms() == 0
    append(box)
    assert box.unacked_alarms() == 1


def test_a_store_from_before_the_drill_column_opens_and_keeps_its_events(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    append(box)
    box.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE events DROP COLUMN drill")  # as stores made before the column existed
    db.commit()
    db.close()
    box = Outbox(path)
    assert box.unacked_alarms() == 1
    assert append(box) == 2


# ---------------------------------------------------------------- damage SQLite cannot see


def flip_in_file(path: Path, needle: bytes) -> None:
    """Change one byte inside a payload, as a failing card does: the pages stay well formed."""
    data = bytearray(path.read_bytes())
    at = data.index(needle)
    assert data.count(needle) == 1
    data[at + len(needle) - 1] ^= 0x01
    path.write_bytes(bytes(data))


def five_undelivered(path: Path) -> None:
    box = Outbox(path)
    for _ in range(5):
        append(box)
    box.close()


def test_a_payload_changed_on_disk_is_never_sent_and_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    five_undelivered(path)
    flip_in_file(path, make_event(3).ts.encode())  # the ts lives only in the payload
    box = Outbox(path)
    assert box.moved_aside is None  # quick_check sees nothing wrong
    assert [s.seq for s in box.undelivered(0, 10)] == [1, 2, 4, 5]
    assert box.take_damaged() == [3]
    assert [s.seq for s in box.span(1, 5)] == [1, 2, 4, 5]
    assert box.take_damaged() == []  # once
    assert box.depth() == 4 and box.unacked_alarms() == 4  # out of delivery and repeats


def test_a_store_from_before_checksums_is_read_unchecked(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    five_undelivered(path)
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE events DROP COLUMN crc")
    db.commit()
    db.close()
    box = Outbox(path)
    assert [s.seq for s in box.undelivered(0, 10)] == [1, 2, 3, 4, 5]
    assert append(box) == 6
    assert box.take_damaged() == []


def test_an_open_alarm_keeps_repeating_when_the_wall_clock_is_set_back(tmp_path: Path) -> None:
    now = [1_800_000_000.0]  # a clock that ran ahead
    box = Outbox(tmp_path / "o.sqlite3", wall=lambda: now[0])
    alarm = append(box, State.ALARM)
    box.mark_delivered([alarm])
    now[0] -= 86_400.0  # NTP sets it back a day
    assert [s.seq for s in box.due_repeats(60, 10)] == [alarm]
    box.mark_sent([alarm])  # sent now, by the corrected clock
    now[0] += 30
    assert box.due_repeats(60, 10) == []


def test_a_second_damaged_store_in_the_same_second_never_overwrites_the_first(
    tmp_path: Path,
) -> None:
    path = tmp_path / "o.sqlite3"
    path.write_bytes(b"not a database" * 100)
    first = Outbox(path).moved_aside
    Outbox(path).close()
    path.unlink()
    path.write_bytes(b"again not a database" * 100)
    second = Outbox(path).moved_aside
    assert first is not None and second is not None and first != second
    assert first.read_bytes() == b"not a database" * 100


# ---------------------------------------------------------------------- SD-card writes

FULL, NORMAL = 2, 1  # PRAGMA synchronous


def synchronous(box: Outbox) -> int:
    return int(box.db.execute("PRAGMA synchronous").fetchone()[0])


def test_a_new_store_has_1_kb_pages(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.db.execute("PRAGMA page_size").fetchone()[0] == 1024


def test_an_existing_store_keeps_its_page_size(tmp_path: Path) -> None:
    Outbox(tmp_path / "o.sqlite3", tuning=LEGACY).close()
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.db.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert append(box) == 1


def test_an_event_commits_with_a_full_fsync(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    box.mark_delivered([append(box)])
    append(box)
    assert synchronous(box) == FULL


def test_delivered_and_sent_marks_commit_without_their_own_fsync(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    seq = append(box)
    box.mark_delivered([seq])
    assert synchronous(box) == NORMAL
    box.mark_sent([seq])
    assert synchronous(box) == NORMAL


def test_an_ack_commits_with_a_full_fsync_before_its_receipt(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    box.mark_delivered([append(box)])
    (event_id,) = box.db.execute("SELECT id FROM events").fetchone()
    assert box.ack(event_id, "sari") is AckResult.RECORDED
    assert synchronous(box) == FULL


def test_the_legacy_tuning_fsyncs_every_mark(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", tuning=LEGACY)
    box.mark_delivered([append(box)])
    assert synchronous(box) == FULL
