"""The CAP issuer inside the station's transactions, on SQLite and PostgreSQL, with the
time given: which alarm changes become which alerts, stored once, queued for partners."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from stationkit import PREFIX
from stationkit import event as make_event

from edge.cap.compose import Moment
from edge.cap.decode import from_xml
from edge.cap.rules import check_chain
from edge.station.alarms import AckState, Alarm
from edge.station.archive import Archive
from edge.station.archive import cap as tables
from edge.station.capfeed.facts import moments, profile_of
from edge.station.capfeed.issuer import CapIssuer
from edge.station.capfeed.poller import due, next_wait
from edge.station.config import StationConfig
from edge.station.messages import parse
from edge.station.recorder import Inbound, Recorder
from edge.station.sites import SiteBook

T0 = 1_741_659_245.0
HOUR = 3600.0


def event(seq: int, state: str = "alarm", **kw: Any) -> dict[str, Any]:
    return make_event(seq, state, **{"ts": T0, **kw})


class Station:
    def __init__(self, url: str, partners: list[str] | None = None) -> None:
        self.archive = Archive(url).open()
        config = StationConfig(cap={"sender": "siaga@uji"}, database={"url": url})
        self.issuer = CapIssuer(profile_of(config, "http://127.0.0.1:8080"), partners or [])
        self.recorder = Recorder(self.archive, SiteBook(), PREFIX, observer=self.issuer)

    def send(self, ev: dict[str, Any], at: float = T0) -> list[str]:
        raw = json.dumps(ev).encode()
        fact = parse(PREFIX, f"{PREFIX}/lapas/pi-a/events", raw, retained=False, user={})
        return self.recorder.record([Inbound(fact, at, "mqtt://b")]).cap

    def alerts(self, alarm_id: str) -> list[bytes]:
        with self.archive.write() as tx:
            return [x.encode() for x in tables.alerts_of(tx, alarm_id)]


@pytest.fixture
def station(database_url: str) -> Iterator[Station]:
    st = Station(database_url, ["bpbd"])
    yield st
    st.archive.close()


def test_an_open_alarm_is_refreshed_once_before_its_alert_expires(station: Station) -> None:
    ev = event(1)
    station.send(ev)
    assert station.issuer.refresh(station.archive, T0 + 60) == []
    due_at = T0 + 6 * HOUR - 29 * 60  # expires in 6 h; renewed 30 min before
    (renewed,) = station.issuer.refresh(station.archive, due_at)
    assert station.issuer.refresh(station.archive, due_at) == []  # once
    chain = station.alerts(ev["id"])
    assert [from_xml(a).msg_type for a in chain] == ["Alert", "Update"]
    assert from_xml(chain[-1]).identifier == renewed and check_chain(chain) == []


def test_a_repeated_event_issues_nothing_and_a_walk_test_is_status_test(station: Station) -> None:
    assert len(station.send(event(1))) == 1
    assert station.send(event(1)) == []  # the same event again: a duplicate
    (walk,) = station.send(event(2, sensor="smoke-2", test=True))
    assert from_xml(tables.alert_xml(station.archive, walk).encode()).status == "Test"


def test_every_alert_is_queued_for_every_partner_in_the_same_transaction(
    station: Station,
) -> None:
    (first,) = station.send(event(1))
    (cancel,) = station.send(event(2, "normal"), T0 + 5)
    rows = station.archive.query("SELECT partner, identifier FROM cap_push_queue ORDER BY position")
    assert rows == [("bpbd", first), ("bpbd", cancel)]


def test_an_alarm_that_comes_and_goes_numbers_on_and_each_cancel_names_its_own_chain(
    station: Station,
) -> None:
    for seq, state in enumerate(["alarm", "normal", "alarm", "normal"], 1):
        station.send(event(seq, state), T0 + seq)
    chain = [from_xml(a) for a in station.alerts(event(1)["id"])]
    assert [a.msg_type for a in chain] == ["Alert", "Cancel", "Alert", "Cancel"]
    assert [a.identifier.rsplit(".", 1)[1] for a in chain] == ["1", "2", "3", "4"]
    assert [r.identifier for r in chain[3].references] == [chain[2].identifier]


def test_two_stations_recording_the_same_event_issue_its_alert_once(database_url: str) -> None:
    first, second = Station(database_url, ["bpbd"]), Station(database_url, ["bpbd"])
    try:
        assert len(first.send(event(1))) == 1
        assert second.send(event(1)) == []  # a redelivery to the other station
        assert len(first.archive.query("SELECT identifier FROM cap_alerts")) == 1
        assert len(first.archive.query("SELECT position FROM cap_push_queue")) == 1
    finally:
        first.archive.close()
        second.archive.close()


# ---------------------------------------------------------------------- pure parts


def alarm(**kw: Any) -> Alarm:
    base = Alarm(
        alarm_id="e1",
        site="lapas",
        device="pi-a",
        sensor="smoke-1",
        hazard="fire",
        severity="critical",
        active=True,
        state="alarm",
        first_event_id="e1",
        last_event_id="e1",
        first_at="2025-03-11T02:14:05.123Z",
        last_at="2025-03-11T02:14:05.123Z",
    )
    return replace(base, **kw)


def test_a_new_alarm_is_an_event_moment() -> None:
    assert moments(None, alarm(), "e1") == [Moment.EVENT]


def test_an_old_event_filled_in_later_is_no_moment() -> None:
    assert moments(alarm(), alarm(events=2), "e0") == []


def test_ack_pending_and_confirmed_are_ack_moments_and_none_is_not() -> None:
    assert moments(alarm(), alarm(ack=AckState.PENDING), None) == [Moment.ACK]
    pending = alarm(ack=AckState.PENDING)
    assert moments(pending, alarm(ack=AckState.CONFIRMED), None) == [Moment.ACK]
    assert moments(pending, alarm(ack=AckState.NONE), None) == []


def test_a_close_is_the_close_moment_once() -> None:
    closed = alarm(closed=True)
    assert moments(alarm(), closed, None) == [Moment.CLOSE]
    assert moments(closed, closed, None) == []


def test_a_clear_without_an_event_is_an_event_moment() -> None:
    assert moments(alarm(), alarm(active=False), None) == [Moment.EVENT]


def test_feeds_are_polled_first_at_once_then_every_interval() -> None:
    from edge.cap.config import FeedSource

    sources = [
        FeedSource(name="a", url="http://a.example/f", interval_s=60),
        FeedSource(name="b", url="http://b.example/f", interval_s=300),
    ]
    assert due(sources, {}, 100.0) == [0, 1]
    polled = {0: 100.0, 1: 100.0}
    assert due(sources, polled, 159.0) == [] and next_wait(sources, polled, 159.0) == 1.0
    assert due(sources, polled, 160.0) == [0]
