"""The station speaks CAP 1.2 end to end: a real mosquitto, a device played by a real
paho client, the station on SQLite and PostgreSQL, partners as real local HTTP servers.
What a partner gets (the feed, each alert, each push) is checked against the OASIS
schema and the CAP rules the schema cannot express."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from broker import Mosquitto
from cap_factories import DATA, cap_schema
from cap_http import Receiver, static_server
from stationkit import Api, Device, add_user, config_data, event, running, until

from edge.cap.decode import from_xml
from edge.cap.rules import check_alert, check_chain
from edge.station.archive import Archive
from edge.station.archive.cap import ArchivePushStore
from edge.station.config import StationConfig

ATOM = "{http://www.w3.org/2005/Atom}"
SITES = [{"id": "lapas", "name": "Lapas Banyuwangi", "lat": -8.2192, "lon": 114.3691}]
CAP = {"sender": "siaga@polresta-uji", "timezone": "Asia/Jakarta"}


def make_config(database_url: str, broker: Mosquitto, **cap: Any) -> StationConfig:
    data = config_data([broker.url], database_url, cap={**CAP, **cap})
    data["sites"] = SITES
    config = StationConfig(**data)
    add_user(config)
    add_user(config, "bpbd", "viewer")  # a partner agency's API account
    return config


def feed_identifiers(api: Api) -> list[str]:
    response = api.client.get("/cap/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    return [
        e.findtext(f"{ATOM}id", "").rsplit("/", 1)[-1][: -len(".xml")]
        for e in root.iter(f"{ATOM}entry")
    ]


def alert_xml(api: Api, identifier: str) -> bytes:
    response = api.client.get(f"/cap/{identifier}.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/cap+xml")
    return response.content


def assert_valid(documents: list[bytes]) -> None:
    for document in documents:
        cap_schema().validate(document)  # raises with the reason
    assert check_chain(documents) == []


def msg_types(documents: list[bytes]) -> list[str]:
    return [from_xml(d).msg_type for d in documents]


# ---------------------------------------------------------------------- the feed


def test_a_fire_alarm_is_an_alert_its_ack_updates_and_its_close_cancels(
    broker: Mosquitto, database_url: str
) -> None:
    config = make_config(database_url, broker)
    with running(config) as station:
        api, partner = Api(station.url or ""), Api(station.url or "", "bpbd")
        device = Device(broker.port)
        device.send(event(1))
        (alarm,) = until(api.real_alarms, what="the alarm on the board")
        (first,) = until(lambda: feed_identifiers(partner), what="the alert in the feed")
        alert = from_xml(alert_xml(partner, first))
        assert (alert.msg_type, alert.status, alert.scope) == ("Alert", "Actual", "Restricted")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", alert.sent)
        assert [i.language for i in alert.infos] == ["id-ID", "en-US"]
        assert alert.infos[0].categories == ("Fire",) and alert.infos[0].urgency == "Immediate"
        assert alert.infos[0].areas[0].circles == ("-8.2192,114.3691 0.5",)
        assert check_alert(alert_xml(partner, first)) == []

        api.post(f"/api/alarms/{alarm['alarm_id']}/ack", {"note": "Damkar dihubungi"})
        until(lambda: [a for a in api.real_alarms() if a["ack"] == "confirmed"], what="receipt")
        until(lambda: len(feed_identifiers(partner)) == 3, what="pending and confirmed")
        api.post(f"/api/alarms/{alarm['alarm_id']}/close", {"note": "asap dapur, aman"})
        ids = until(lambda: (f := feed_identifiers(partner)) and len(f) == 4 and f, what="cancel")
        device.close()
    chain = [alert_xml_direct(config, i) for i in reversed(ids)]  # oldest first
    assert msg_types(chain) == ["Alert", "Update", "Update", "Cancel"]
    assert [from_xml(d).parameter("ack") for d in chain[1:3]] == ["pending", "confirmed"]
    cancel = from_xml(chain[-1])
    assert [r.identifier for r in cancel.references] == [from_xml(d).identifier for d in chain[:3]]
    assert_valid(chain)


def alert_xml_direct(config: StationConfig, identifier: str) -> bytes:
    archive = Archive(config.database.url).open()
    try:
        rows = archive.query("SELECT xml FROM cap_alerts WHERE identifier = ?", (identifier,))
    finally:
        archive.close()
    return str(rows[0][0]).encode()


def test_the_feed_needs_a_login_and_an_unknown_alert_is_404(
    broker: Mosquitto, tmp_path: Path
) -> None:
    config = make_config(f"sqlite:///{tmp_path}/station.sqlite3", broker)
    with running(config) as station:
        assert httpx.get(f"{station.url}/cap/feed.atom").status_code == 401
        partner = Api(station.url or "", "bpbd")
        assert partner.client.get("/cap/siaga@polresta-uji.nope.1.xml").status_code == 404
        assert feed_identifiers(partner) == []


# ---------------------------------------------------------------------- push


@pytest.mark.faults
def test_a_partner_that_fails_recovers_and_restarts_gets_every_alert_once_in_order(
    broker: Mosquitto, database_url: str
) -> None:
    receiver = Receiver()
    receiver.refuse = 2  # the partner answers 503 at first
    receiver.start()
    push = [{"name": "bpbd", "url": receiver.url, "backoff_s": 0.1, "backoff_max_s": 0.3}]
    config = make_config(database_url, broker, push=push)
    try:
        with running(config) as station:
            api = Api(station.url or "")
            device = Device(broker.port)
            device.send(event(1))
            receiver.wait_for(accepted=1, refused=2)  # refused twice, then delivered
            assert receiver.accepted[0][1]["Content-Type"] == "application/cap+xml"
            receiver.stop()  # the partner goes away
            (alarm,) = api.real_alarms()
            api.post(f"/api/alarms/{alarm['alarm_id']}/ack", {"note": "on it"})
            until(lambda: retrying(api), what="the partner shown as retrying")
            device.close()
        with running(config) as station:  # the station restarts with alerts queued
            api = Api(station.url or "")
            receiver.start()  # the partner returns on its port
            api.post(f"/api/alarms/{alarm['alarm_id']}/close", {"note": "aman"})
            receiver.wait_for(accepted=4)
            until(lambda: status(api)["push"][0]["state"] == "idle", what="queue drained")
            (pushed,) = status(api)["push"]
    finally:
        receiver.stop()
    got = [from_xml(body) for body, _headers in receiver.accepted]
    assert [a.msg_type for a in got] == ["Alert", "Update", "Update", "Cancel"]
    issued = [from_xml(alert_xml_direct(config, a.identifier)).identifier for a in got]
    assert issued == [a.identifier for a in got]  # each once, in the order issued
    assert [h["Idempotency-Key"] for _b, h in receiver.accepted] == issued
    assert (pushed["delivered"], pushed["queued"], pushed["failures"]) == (4, 0, 0)
    assert_valid([body for body, _h in receiver.accepted])


def status(api: Api) -> dict[str, Any]:
    result: dict[str, Any] = api.get("/api/cap/status")
    return result


def retrying(api: Api) -> bool:
    push = status(api)["push"]
    return bool(push) and push[0]["state"] == "retrying" and push[0]["queued"] >= 1


# ---------------------------------------------------------------------- read back


def shifted(sample: bytes, to: datetime) -> bytes:
    """A stored sample alert with every time moved so that it was sent at ``to``."""
    stamp = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
    sent = datetime.fromisoformat(stamp.findall(sample)[0].decode())
    delta = to - sent

    def move(m: re.Match[bytes]) -> bytes:
        return (datetime.fromisoformat(m.group().decode()) + delta).isoformat().encode()

    return stamp.sub(move, sample)


def test_a_read_back_feed_shows_its_alert_and_a_malformed_one_an_error_while_alarms_flow(
    broker: Mosquitto, tmp_path: Path
) -> None:
    served = tmp_path / "feeds"
    served.mkdir()
    now = datetime.now(UTC) - timedelta(minutes=5)
    (served / "gempa.xml").write_bytes(shifted((DATA / "bmkg-gempa.xml").read_bytes(), now))
    (served / "rusak.rss").write_bytes((DATA / "truncated.rss").read_bytes())
    with static_server(served) as base:
        feeds = [
            {"name": "BMKG gempa", "url": f"{base}/gempa.xml"},
            {"name": "rusak", "url": f"{base}/rusak.rss"},
        ]
        config = make_config(f"sqlite:///{tmp_path}/station.sqlite3", broker, feeds=feeds)
        with running(config) as station:
            api = Api(station.url or "")
            device = Device(broker.port)
            device.send(event(1))
            until(api.real_alarms, what="the local alarm, whatever the feeds do")
            good, bad = until(
                lambda: (f := status(api)["feeds"]) and all(s["ok"] is not None for s in f) and f,
                what="both feeds polled",
            )
            device.close()
    assert good["ok"] and [b["event"] for b in good["banners"]] == ["Earthquake"]
    assert good["banners"][0]["source"] == "BMKG gempa"
    assert bad["ok"] is False and "not well-formed" in bad["error"] and bad["banners"] == []


# ---------------------------------------------------------------------- the queue


def test_the_push_queue_is_durable_ordered_and_deduplicated(database_url: str) -> None:
    Archive(database_url).open().close()  # migrated
    store = ArchivePushStore(Archive(database_url))
    at = datetime(2025, 3, 11, 2, 14, 5, tzinfo=UTC)
    assert store.enqueue("bpbd", "a.1", b"<one/>", at)
    assert store.enqueue("bpbd", "a.2", b"<two/>", at)
    assert not store.enqueue("bpbd", "a.1", b"<one/>", at)  # once per partner
    store.close()
    again = ArchivePushStore(Archive(database_url))  # a restart
    head = again.head("bpbd")
    assert head is not None and (head.identifier, head.body) == ("a.1", b"<one/>")
    assert again.backlog("bpbd") == (2, at)
    again.close()


def test_one_station_at_a_time_pumps_a_partner_sharing_postgresql(
    postgres_cluster: Any,
) -> None:
    url = postgres_cluster.new_database()
    Archive(url).open().close()
    first, second = ArchivePushStore(Archive(url)), ArchivePushStore(Archive(url))
    at = datetime(2025, 3, 11, 2, 14, 5, tzinfo=UTC)
    first.enqueue("bpbd", "a.1", b"<one/>", at)
    assert first.head("bpbd") is not None
    assert second.head("bpbd") is None  # the first holds the partner's lease
    first.close()  # that station stops: its lease goes with its connection
    assert until(lambda: second.head("bpbd"), what="the lease taken over").identifier == "a.1"
    second.close()
