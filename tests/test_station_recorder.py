"""The archive and the alarm rules together, on SQLite and on a real PostgreSQL alike:
every test here runs once per backend (``database_url``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from stationkit import PREFIX
from stationkit import event as make_event

from edge.clock import iso_ms
from edge.station.alarm_writer import Changes
from edge.station.archive import Archive, ArchiveDownError
from edge.station.archive.schema import LATEST
from edge.station.board import BoardView
from edge.station.desk import Desk
from edge.station.health import StationHealth
from edge.station.messages import parse
from edge.station.recorder import Inbound, Recorder
from edge.station.site_watch import SiteWatch
from edge.station.sites import SiteBook

T0 = 1_741_659_245.0
BASE = f"{PREFIX}/lapas/pi-a"


def event(seq: int, state: str = "alarm", **kw: Any) -> dict[str, Any]:
    """An event the device made at T0, the station's time here."""
    return make_event(seq, state, **{"ts": T0, **kw})


class Station:
    """The station's core without its wire: recorder, site book, board."""

    def __init__(self, url: str) -> None:
        self.archive = Archive(url).open()
        self.sites = SiteBook("en")
        self.health = StationHealth(["mqtt://b"], "en")
        self.health.broker("mqtt://b", True, T0)
        self.health.database(True, T0)
        self.board = BoardView(self.sites, self.health, "en")
        self.board.load(self.archive)
        self.recorder = Recorder(self.archive, self.sites, PREFIX)
        self.desk = Desk(self.recorder.writer, self.sites, PREFIX)
        self.site_watch = SiteWatch(self.recorder.writer, self.sites, PREFIX)

    def feed(
        self,
        suffix: str,
        body: dict[str, Any] | bytes,
        at: float = T0,
        *,
        retained: bool = False,
        user: dict[str, str] | None = None,
        base: str = BASE,
    ) -> Changes:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        fact = parse(PREFIX, f"{base}/{suffix}", raw, retained=retained, user=user or {})
        changes = self.recorder.record([Inbound(fact, at, "mqtt://b", retained)])
        self.board.apply(changes.alarms.values())
        return changes

    def batch(self, *messages: tuple[str, dict[str, Any]], at: float = T0) -> Changes:
        """Several messages in one transaction, as the ingest hands over what came at once."""
        facts = [
            parse(PREFIX, f"{BASE}/{suffix}", json.dumps(body).encode(), retained=False, user={})
            for suffix, body in messages
        ]
        changes = self.recorder.record([Inbound(f, at, "mqtt://b") for f in facts])
        self.board.apply(changes.alarms.values())
        return changes

    def send(self, ev: dict[str, Any], at: float = T0, **kw: Any) -> Changes:
        return self.feed("events", ev, at, **kw)

    def ack(self, alarm_id: str, at: float = T0 + 10) -> Changes:
        changes = self.desk.acknowledge(alarm_id, by="Sari", note="", now=at)
        self.board.apply(changes.alarms.values())
        return changes

    def receipt(self, event_id: str, accepted: bool = True, by: str = "Sari", **kw: Any) -> None:
        body = {
            "event_id": event_id,
            "by": by,
            "ts": iso_ms(T0),
            "accepted": accepted,
            "reason": None if accepted else "refused",
        }
        self.feed("acked", body, T0 + 11, **kw)

    def watch(self, now: float) -> Changes:
        changes = self.site_watch.watch(now, self.health.listening_since)
        self.board.apply(changes.alarms.values())
        return changes

    def alarms(self, now: float = T0 + 1) -> list[dict[str, Any]]:
        return self.board.alarms(now, open_only=True)

    def close(self) -> None:
        self.archive.close()


@pytest.fixture
def station(database_url: str) -> Iterator[Station]:
    st = Station(database_url)
    yield st
    st.close()


def heartbeat(last_seq: int, interval_s: float = 10.0, **sensors: str) -> dict[str, Any]:
    return {
        "ts": iso_ms(T0),
        "interval_s": interval_s,
        "last_seq": last_seq,
        "outbox_depth": 0,
        "sensors": {k.replace("_", "-"): {"state": v} for k, v in sensors.items()},
    }


# ---------------------------------------------------------------------- the archive


def test_the_schema_is_migrated_once_and_opening_again_changes_nothing(database_url: str) -> None:
    first = Archive(database_url).open()
    first.close()
    again = Archive(database_url).open()
    assert again.version == LATEST
    assert sorted(again.table("schema_version")) == [(v,) for v in range(1, LATEST + 1)]
    again.close()


def test_every_event_is_archived_once_by_id(station: Station) -> None:
    ev = event(1)
    station.send(ev)
    repeat = station.send(ev, T0 + 60, user={"sent": "repeat", "ack": "open"})
    assert repeat.duplicates == 1
    assert station.archive.count_events() == 1


def test_a_copy_of_a_known_id_on_another_sensor_changes_no_sensor_state(
    station: Station,
) -> None:
    station.send(event(1, "normal", event_id="f-1", sensor="smoke-x"))
    forged = station.send(event(3, "alarm", event_id="f-1", sensor="smoke-z"), T0 + 5)
    assert forged.duplicates == 1
    sensors = station.sites.device("lapas", "pi-a").sensors
    assert (set(sensors), sensors["smoke-x"].state) == ({"smoke-x"}, "normal")


def test_the_audit_is_append_only(station: Station) -> None:
    station.send(event(1))
    station.ack(event(1)["id"])
    with pytest.raises(Exception, match="append-only"), station.archive.write() as tx:
        tx.cur.execute("UPDATE audit SET actor = 'someone else'")
    assert [row[1:3] for row in station.archive.audit_rows()] == [("Sari", "ack")]


def test_export_is_ordered_by_site_device_seq_each_id_once(station: Station) -> None:
    for seq in (3, 1, 2):
        station.send(event(seq, "normal"))
    station.send(event(1, "normal", device="pi-b"), base=f"{PREFIX}/lapas/pi-b")
    station.send(event(2, "normal"))  # a duplicate
    keys = [(e["device"], e["seq"]) for e in station.archive.export()]
    assert keys == [("pi-a", 1), ("pi-a", 2), ("pi-a", 3), ("pi-b", 1)]
    assert all("received_at" in e for e in station.archive.export())


def test_retention_keeps_the_events_of_open_alarms(station: Station) -> None:
    station.send(event(1))  # opens an alarm
    station.send(event(2, "normal", sensor="water-1"))
    with station.archive.write() as tx:
        removed = tx.prune(iso_ms(T0 + 1))
    assert removed == 1
    assert [e["seq"] for e in station.archive.export()] == [1]


# ---------------------------------------------------------------------- the rules


def test_after_a_restart_open_alarms_are_open_at_once_with_their_ack_state(
    database_url: str,
) -> None:
    first = Station(database_url)
    first.send(event(1))
    first.ack(event(1)["id"])
    first.close()
    restarted = Station(database_url)  # a new process: only the database
    (alarm,) = restarted.alarms()
    assert (alarm["alarm_id"], alarm["active"], alarm["ack"], alarm["handled"]) == (
        event(1)["id"],
        True,
        "pending",
        False,
    )
    restarted.close()


def test_an_ack_the_device_has_not_confirmed_is_never_shown_as_handled(station: Station) -> None:
    station.send(event(1))
    sent = station.ack(event(1)["id"])
    assert [json.loads(p.payload)["event_id"] for p in sent.publish] == [event(1)["id"]]
    (pending,) = station.alarms()
    assert (pending["ack"], pending["handled"]) == ("pending", False)
    station.receipt(event(1)["id"])
    (confirmed,) = station.alarms()
    assert (confirmed["ack"], confirmed["handled"], confirmed["acked_by"]) == (
        "confirmed",
        True,
        "Sari",
    )


def test_a_retained_command_on_the_broker_is_never_taken_as_an_ack(station: Station) -> None:
    ev = event(1)
    station.send(ev)
    forged = {"event_id": ev["id"], "by": "forger"}
    assert station.feed("ack", forged, retained=True).dropped == 1
    assert station.feed("ack", forged).dropped == 1  # a command is never a confirmation
    station.receipt(ev["id"], by="forger", retained=True)  # the device never retains one
    (alarm,) = station.alarms()
    assert (alarm["ack"], alarm["handled"]) == ("none", False)


def test_a_refusal_of_a_forged_ack_leaves_our_pending_ack_pending(station: Station) -> None:
    ev = event(1)
    station.send(ev)
    station.ack(ev["id"])
    station.receipt(ev["id"], accepted=False, by="forger")
    (alarm,) = station.alarms()
    assert alarm["ack"] == "pending"


def test_a_repeat_of_an_old_alarm_after_the_retained_newer_state_never_overrides_it(
    station: Station,
) -> None:
    station.feed("state/smoke-1", event(107, "normal"), T0 + 100, retained=True)
    station.send(event(72, ts=T0 - 600), T0 + 101, user={"sent": "repeat"})
    (alarm,) = station.alarms(T0 + 102)
    assert (alarm["active"], alarm["state"], alarm["first_at"]) == (
        False,
        "normal",
        iso_ms(T0 - 600),
    )


def test_an_alarm_whose_device_went_offline_stays_and_is_marked(station: Station) -> None:
    station.send(event(1))
    station.feed("status", {"state": "offline", "ts": iso_ms(T0), "version": "t"}, T0 + 5)
    station.watch(T0 + 6)
    real = [a for a in station.alarms(T0 + 6) if a["sensor"] == "smoke-1"]
    assert len(real) == 1 and real[0]["active"]
    assert real[0]["marker"] == "site offline — alarm stands"


def test_an_alarm_whose_device_went_silent_stays_and_is_marked(station: Station) -> None:
    station.feed("heartbeat", heartbeat(0, interval_s=10.0))
    station.send(event(1))
    station.watch(T0 + 36)
    by_sensor = {a["sensor"]: a for a in station.alarms(T0 + 36)}
    assert by_sensor["smoke-1"]["marker"] == "site silent — alarm stands"
    assert by_sensor["_site"]["hazard"] == "device"


def test_a_silent_site_is_an_alarm_raised_after_three_heartbeats_and_5_s(station: Station) -> None:
    station.feed("heartbeat", heartbeat(0, interval_s=10.0))
    assert station.watch(T0 + 35).alarms == {}  # 3 x 10 s + 5 s: not yet
    (raised,) = station.watch(T0 + 35.5).alarms.values()
    assert (raised.hazard, raised.active, raised.site, raised.device) == (
        "device",
        True,
        "lapas",
        "pi-a",
    )


def test_a_silent_site_clears_when_the_site_speaks_again(station: Station) -> None:
    station.feed("heartbeat", heartbeat(0, interval_s=10.0))
    station.watch(T0 + 40)
    station.feed("heartbeat", heartbeat(0, interval_s=10.0), T0 + 41)
    (cleared,) = station.watch(T0 + 42).alarms.values()
    assert (cleared.active, cleared.closed) == (False, False)  # stays until closed


def test_the_will_makes_a_silent_site_alarm_at_once(station: Station) -> None:
    station.feed("status", {"state": "offline", "ts": iso_ms(T0), "version": "t"}, T0 + 1)
    (alarm,) = station.watch(T0 + 1).alarms.values()
    assert alarm.hazard == "device" and alarm.state.startswith("offline")


def status(reason: str) -> dict[str, Any]:
    return {"state": "offline", "ts": iso_ms(T0), "version": "t", "reason": reason}


def test_a_lost_will_makes_the_site_silent_at_once(station: Station) -> None:
    station.feed("status", status("lost"), T0 + 1)
    (alarm,) = station.watch(T0 + 1).alarms.values()
    assert (alarm.hazard, alarm.active, alarm.state.startswith("silent")) == ("device", True, True)
    assert [s["status"] for s in station.board.site_views(T0 + 2)] == ["silent"]


def test_a_clean_stop_is_offline_no_alarm_but_not_watched_and_open_alarms_stay_marked(
    station: Station,
) -> None:
    station.feed("heartbeat", heartbeat(0, smoke_1="normal"))
    station.send(event(1))
    station.feed("status", status("stopped"), T0 + 5)
    assert station.watch(T0 + 6).alarms == {}
    (site,) = station.board.site_views(T0 + 7)
    assert (site["status"], site["not_watched"]) == ("offline", ["smoke-1"])
    (alarm,) = station.alarms(T0 + 7)
    assert alarm["active"] and alarm["marker"] is not None and alarm["site_status"] == "offline"


def test_a_lost_site_stays_silent_after_a_station_restart(database_url: str) -> None:
    first = Station(database_url)
    first.feed("status", status("lost"), T0 + 1)
    first.watch(T0 + 1)
    first.close()
    restarted = Station(database_url)
    assert restarted.watch(T0 + 2).alarms == {}  # the same alarm, not a new one
    assert [s["status"] for s in restarted.board.site_views(T0 + 2)] == ["silent"]
    restarted.close()


def test_the_station_own_loss_never_makes_sites_silent(station: Station) -> None:
    station.feed("heartbeat", heartbeat(0, interval_s=10.0))
    station.health.broker("mqtt://b", False, T0 + 1)
    assert station.watch(T0 + 500).alarms == {}
    assert station.health.banner() is not None and "not to blame" in station.health.banner()
    station.health.broker("mqtt://b", True, T0 + 600)
    assert station.watch(T0 + 630).alarms == {}  # silence counts from when it hears again
    assert station.board.site_views(T0 + 630)[0]["status"] == "online"
    assert len(station.watch(T0 + 636).alarms) == 1


def test_the_station_own_database_loss_is_one_banner_and_never_a_silent_site(
    station: Station,
) -> None:
    station.feed("heartbeat", heartbeat(0, interval_s=10.0))
    station.health.database(False, T0 + 1)
    assert station.watch(T0 + 500).alarms == {}
    banner = station.health.banner()
    assert banner is not None and banner.startswith("STATION DATABASE DOWN")
    assert [s["status"] for s in station.board.site_views(T0 + 500)] == ["online"]
    assert station.health.view()["database"] == "down"


def test_sensors_in_fault_or_disabled_and_every_sensor_of_an_offline_site_are_not_watched(
    station: Station,
) -> None:
    station.feed("heartbeat", heartbeat(0, smoke_1="normal", smoke_2="fault", gas_1="disabled"))
    (site,) = station.board.site_views(T0 + 1)
    assert sorted(site["not_watched"]) == ["gas-1", "smoke-2"]
    station.feed("status", {"state": "offline", "ts": iso_ms(T0), "version": "t"}, T0 + 2)
    (site,) = station.board.site_views(T0 + 3)
    assert sorted(site["not_watched"]) == ["gas-1", "smoke-1", "smoke-2"]


def test_drill_and_walk_test_alarms_are_kept_apart_and_never_counted(station: Station) -> None:
    station.send(event(1, drill=True))
    station.send(event(2, sensor="smoke-2", test=True))
    station.send(event(3, sensor="smoke-3"))
    assert station.board.counts() == {"open": 1, "unacknowledged": 1, "pending": 0, "drill": 2}
    assert [a["counted"] for a in station.alarms()] == [True, False, False]


def test_device_time_off_is_flagged_and_kept(station: Station) -> None:
    station.send(event(1, "normal", ts=T0 - 41))
    station.send(event(2, "normal", ts=T0 + 21))
    station.send(event(3, "normal", ts=T0 - 5))
    flags = [e.get("skew") for e in reversed(station.archive.events())]
    assert flags == ["behind", "ahead", None]


def test_a_gap_is_asked_for_on_resend_and_a_gap_never_filled_is_lost_once(
    station: Station,
) -> None:
    for seq in (1, 2, 5):
        station.send(event(seq, "normal"))
    assert station.site_watch.gaps(T0).publish == []  # it may still be in flight
    asked = station.site_watch.gaps(T0 + 3).publish
    assert [(p.topic, json.loads(p.payload)) for p in asked] == [
        (f"{BASE}/resend", {"from_seq": 3, "to_seq": 4})
    ]
    t = T0 + 3
    for _ in range(6):
        t += 400
        station.feed("heartbeat", heartbeat(5), t)
        station.site_watch.gaps(t + 1)
    assert [(r[3], r[4]) for r in station.archive.table("lost")] == [(3, 4)]


def test_a_site_whose_store_restarted_its_numbering_is_followed(station: Station) -> None:
    for seq in range(1, 6):
        station.send(event(seq, "normal"))
    restart = event(1, "fault", sensor="_device", event_id="fresh-1", reason="storage")
    station.send(restart)
    station.send(event(2, "alarm", event_id="fresh-2"))
    ids = {a["alarm_id"] for a in station.alarms()}
    assert ids == {"fresh-1", "fresh-2"}
    assert station.site_watch.gaps(T0 + 5).publish == []  # nothing asked of the old numbering


def test_a_station_restarts_over_a_device_whose_numbering_started_over_twice(
    database_url: str,
) -> None:
    """Each numbering is an epoch; the newest state of a sensor is found by (epoch, seq)
    however many there were (epoch * 2**62 + seq overflowed BIGINT from epoch 2 on, and
    the station could not start again on PostgreSQL)."""
    first = Station(database_url)
    for seq in range(1, 6):
        first.send(event(seq, "normal"))
    for n in ("a", "b", "c"):  # the store replaced three times: epochs 1, 2, 3
        first.send(event(1, "fault", sensor="_device", event_id=f"{n}-1", reason="storage"))
        first.send(event(2, "normal", event_id=f"{n}-2"))
    first.send(event(3, "alarm", event_id="c-3"))
    assert first.sites.device("lapas", "pi-a").ledger.epoch == 3
    first.close()
    again = Station(database_url)  # loads the board from the archive
    smoke = [r for r in again.archive.sensor_states() if r[2] == "smoke-1"]
    assert smoke == [("lapas", "pi-a", "smoke-1", "alarm", 3, 3)]  # one, the newest
    assert again.sites.device("lapas", "pi-a").sensors["smoke-1"].state == "alarm"
    again.close()


def test_a_heartbeat_and_the_events_sent_after_it_in_one_batch_are_one_numbering(
    station: Station,
) -> None:
    """In a storm a heartbeat (last_seq 5) and the events the device made right after it
    (6, 7) reach the station in one batch. Noting the batch's seqs before its heartbeat took
    that for a store that started over: a new epoch, in which the late seq 4 (cleared)
    outranked the alarm of seq 5, and the board showed a fire as over."""
    station.send(event(3, "alarm"))
    station.send(event(5, "alarm"))  # seq 4 (the detector cleared, briefly) is late
    station.batch(
        ("heartbeat", heartbeat(5, smoke_1="alarm")),
        ("events", event(6, "normal", sensor="smoke-2")),
        ("events", event(7, "normal", sensor="smoke-2")),
        at=T0 + 1,
    )
    assert station.sites.device("lapas", "pi-a").ledger.epoch == 0
    station.send(event(4, "normal"), T0 + 2)
    (alarm,) = station.alarms(T0 + 3)
    assert (alarm["sensor"], alarm["active"], alarm["state"]) == ("smoke-1", True, "alarm")
    assert {r[4] for r in station.archive.table("events")} == {0}  # every row, one epoch


def test_a_store_that_started_over_mid_batch_keeps_each_event_in_its_own_numbering(
    station: Station,
) -> None:
    """A batch that holds the old numbering's last event, the heartbeat that shows a new
    one, and the new numbering's first event: each is ranked in the numbering it came in."""
    for seq in range(1, 10):
        station.send(event(seq, "normal"))
    station.batch(
        ("events", event(10, "alarm", event_id="old-10")),
        ("heartbeat", heartbeat(2, smoke_1="normal")),
        ("events", event(3, "normal", event_id="new-3")),
        at=T0 + 1,
    )
    assert station.sites.device("lapas", "pi-a").ledger.epoch == 1
    epochs = {r[0]: r[4] for r in station.archive.table("events")}
    assert (epochs["old-10"], epochs["new-3"]) == (0, 1)
    (alarm,) = station.alarms(T0 + 2)
    assert (alarm["active"], alarm["state"]) == (False, "normal")  # new-3 is the newest


def test_a_batch_written_again_after_the_database_failed_is_noted_once(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service retries a batch the database refused, and the broker delivers an
    unacknowledged one again: noting its seqs on the failed try, then its heartbeat on the
    next, took the device for one that numbers from a lower seq again (PostgreSQL killed
    while alarms flowed: epochs 0, 3, 4 in one numbering)."""
    station.send(event(1, "alarm"))
    write = station.archive.write
    calls = {"n": 0}

    def down_once() -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ArchiveDownError("terminating connection due to unexpected postmaster exit")
        return write()

    monkeypatch.setattr(station.archive, "write", down_once)
    batch = (("heartbeat", heartbeat(1, smoke_1="alarm")), ("events", event(2, "normal")))
    with pytest.raises(ArchiveDownError):
        station.batch(*batch, at=T0 + 1)
    station.batch(*batch, at=T0 + 2)
    assert station.sites.device("lapas", "pi-a").ledger.epoch == 0
    assert {r[4] for r in station.archive.table("events")} == {0}


def test_a_receipt_confirms_after_a_restart_too(database_url: str) -> None:
    first = Station(database_url)
    first.send(event(1))
    first.ack(event(1)["id"])
    first.close()
    again = Station(database_url)
    again.receipt(event(1)["id"])
    (alarm,) = again.alarms()
    assert alarm["ack"] == "confirmed"
    again.close()


def test_closing_is_audited_with_who_and_the_note(station: Station) -> None:
    station.send(event(1))
    changes = station.desk.close(event(1)["id"], by="Sari", note="Damkar on site", now=T0 + 30)
    station.board.apply(changes.alarms.values())
    assert station.alarms() == []
    (row,) = station.archive.audit_rows()
    assert row[1:4] == ("Sari", "close", event(1)["id"]) and "Damkar" in row[4]


def test_a_malformed_or_forged_event_is_dropped_and_the_batch_goes_on(station: Station) -> None:
    other = event(1, device="pi-b")
    assert station.send(other).dropped == 1  # names pi-b, published as pi-a
    assert station.feed("events", b"{not json").dropped == 1
    assert station.feed("events", b"[" + b"1," * 40000 + b"1]").dropped == 1  # oversized
    assert station.send({**event(2), "seq": "2"}).dropped == 1
    station.send(event(3))
    assert [e["seq"] for e in station.archive.export()] == [3]
