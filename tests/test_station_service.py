"""The station against real brokers: a device played by a paho client per the MQTT API,
the station's HTTP API read with Basic auth, the archive checked afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from broker import Mosquitto
from stationkit import (
    PASSWORD,
    PREFIX,
    REPO,
    Api,
    Device,
    StationProcess,
    add_user,
    config_data,
    event,
    running,
    until,
    write_config,
)

from edge.station.archive import Archive
from edge.station.config import StationConfig


def make_config(tmp_path: Path, *urls: str, **sections: dict[str, Any]) -> StationConfig:
    url = f"sqlite:///{tmp_path}/station.sqlite3"
    config = StationConfig(**config_data(list(urls), url, **sections))
    add_user(config)
    add_user(config, "tamu", "viewer")
    return config


def archived(config: StationConfig) -> list[dict[str, Any]]:
    archive = Archive(config.database.url).open()
    try:
        return list(archive.export())
    finally:
        archive.close()


def test_an_operator_ack_reaches_the_device_and_only_its_receipt_confirms_it(
    broker: Mosquitto, tmp_path: Path
) -> None:
    config = make_config(tmp_path, broker.url)
    with running(config) as station:
        api = Api(station.url or "")
        device = Device(broker.port)
        alarm_event = device.send(event(1))
        (alarm,) = until(api.real_alarms, what="the alarm on the board")
        assert (alarm["ack"], alarm["handled"]) == ("none", False)
        device.refuse = "held for the test"  # the device refuses: never handled
        response = api.post(f"/api/alarms/{alarm['alarm_id']}/ack", {"note": "on it"})
        assert response.status_code == 200 and response.json()["ack"] == "pending"
        until(lambda: device.acks, what="the ack at the device")
        assert device.acks[0]["event_id"] == alarm_event["id"] and device.acks[0]["by"] == "sari"
        refused = until(lambda: [a for a in api.real_alarms() if a["ack_refused"]])
        assert (refused[0]["ack"], refused[0]["handled"]) == ("none", False)
        device.refuse = None
        api.post(f"/api/alarms/{alarm['alarm_id']}/ack", {})
        confirmed = until(lambda: [a for a in api.real_alarms() if a["ack"] == "confirmed"])
        assert confirmed[0]["handled"] and confirmed[0]["acked_by"] == "sari"
        device.close()


def test_an_ack_made_while_no_broker_is_up_goes_out_when_one_is_back(
    broker: Mosquitto, tmp_path: Path
) -> None:
    # probe-res: it was logged as not_published and never sent: "pending" for ever.
    config = make_config(tmp_path, broker.url)
    with running(config) as station:
        api = Api(station.url or "")
        device = Device(broker.port)
        device.send(event(1))
        (alarm,) = until(api.real_alarms, what="the alarm on the board")
        broker.stop()  # a clean stop: the broker keeps the device's session on disk
        until(lambda: api.get("/api/sites")["station"]["banner"], what="the banner")
        response = api.post(f"/api/alarms/{alarm['alarm_id']}/ack", {})
        assert response.status_code == 200 and response.json()["ack"] == "pending"
        broker.start()
        until(lambda: device.acks, timeout=20, what="the ack at the device")
        confirmed = until(lambda: [a for a in api.real_alarms() if a["ack"] == "confirmed"])
        assert confirmed[0]["acked_by"] == "sari"
        device.close()


def test_a_retained_forged_ack_on_the_broker_is_never_taken_as_an_ack(
    broker: Mosquitto, tmp_path: Path
) -> None:
    config = make_config(tmp_path, broker.url)
    with running(config) as station:
        api = Api(station.url or "")
        device = Device(broker.port)
        ev = device.send(event(1))
        until(api.real_alarms)
        forged = json.dumps({"event_id": ev["id"], "by": "forger"}).encode()
        device.publish(f"{device.base}/ack", forged, retain=True)  # anyone on the broker
        until(lambda: device.acks, what="the device hearing the forged ack")
        time.sleep(0.5)  # its refusing receipt has had time to arrive
        (alarm,) = api.real_alarms()
        assert (alarm["ack"], alarm["handled"]) == ("none", False)
        device.close()


def test_the_api_needs_a_login_and_the_operator_role_to_act(
    broker: Mosquitto, tmp_path: Path
) -> None:
    config = make_config(tmp_path, broker.url)
    with running(config) as station:
        url = station.url or ""
        assert httpx.get(f"{url}/healthz").json()["database"] == "ok"
        assert httpx.get(f"{url}/api/alarms").status_code == 401
        assert httpx.get(f"{url}/api/alarms", auth=("sari", "wrong")).status_code == 401
        viewer = Api(url, "tamu")
        assert viewer.get("/api/sites")["sites"] == []
        device = Device(broker.port)
        device.send(event(1))
        (alarm,) = until(viewer.real_alarms)
        assert viewer.post(f"/api/alarms/{alarm['alarm_id']}/ack").status_code == 403
        operator = Api(url)
        assert operator.post(f"/api/alarms/{alarm['alarm_id']}/close", {}).status_code == 400
        assert operator.post("/api/alarms/nope/ack").status_code == 404
        closed = operator.post(f"/api/alarms/{alarm['alarm_id']}/close", {"note": "false alarm"})
        assert closed.json()["closed"] and operator.real_alarms() == []
        device.close()


def test_a_site_heard_on_either_broker_is_archived_once_per_event(
    broker_pair: tuple[Mosquitto, Mosquitto], tmp_path: Path
) -> None:
    first, second = broker_pair
    config = make_config(tmp_path, first.url, second.url)
    with running(config) as station:
        api = Api(station.url or "")
        on_first = Device(first.port)
        for seq in (1, 2, 3):
            on_first.send(event(seq, "normal"))
        on_first.close()
        on_second = Device(second.port)  # failed over: its in-flight seq 3 comes again
        for seq in (3, 4, 5):
            on_second.send(event(seq, "normal"))
        until(lambda: api.get("/api/events", limit=10)["events"][0]["seq"] == 5)
        on_second.close()
    assert [e["seq"] for e in archived(config)] == [1, 2, 3, 4, 5]


def test_a_gap_is_asked_for_on_resend_and_filled_by_the_device(
    broker: Mosquitto, tmp_path: Path
) -> None:
    config = make_config(tmp_path, broker.url)
    with running(config) as station:
        api = Api(station.url or "")
        device = Device(broker.port)
        device.send(event(1, "normal"))
        for seq in (2, 3):  # stored on the device, lost on the way
            device.store[seq] = event(seq, "normal")
        device.send(event(4, "normal"))
        until(lambda: device.resends, timeout=15, what="a resend request")
        assert device.resends[0] == (2, 3)
        until(lambda: len(api.get("/api/events")["events"]) == 4, what="the gap filled")
        device.close()
    assert [e["seq"] for e in archived(config)] == [1, 2, 3, 4]


def test_the_station_own_broker_loss_is_one_banner_and_never_a_silent_site(
    broker: Mosquitto, tmp_path: Path
) -> None:
    config = make_config(tmp_path, broker.url)
    with running(config) as station:
        api = Api(station.url or "")
        device = Device(broker.port)
        device.heartbeat(0, interval_s=0.5)
        until(lambda: api.get("/api/sites")["sites"], what="the site heard")
        device.close()
        broker.kill()
        until(lambda: api.get("/api/sites")["station"]["banner"], what="the banner")
        health = httpx.get(f"{station.url}/healthz").json()
        assert health["brokers"] == {broker.url: "down"} and not health["ok"]
        time.sleep(7.0)  # beyond 3 x 0.5 s + 5 s: a site that was listened to would be silent
        body = api.get("/api/sites")
        assert [s["status"] for s in body["sites"]] == ["online"]
        assert [a for a in api.alarms() if a["sensor"] == "_site"] == []
        assert "not to blame" in body["station"]["banner"]


def test_after_a_restart_the_open_alarm_is_open_at_once_before_any_repeat(
    broker: Mosquitto, tmp_path: Path
) -> None:
    config = make_config(tmp_path, broker.url)
    device = Device(broker.port)
    with running(config) as station:
        api = Api(station.url or "")
        device.send(event(1))
        (alarm,) = until(api.real_alarms)
        device.refuse = "not yet"
        api.post(f"/api/alarms/{alarm['alarm_id']}/ack")
    with running(config) as station:  # nothing repeated, nothing new: only the archive
        (alarm,) = Api(station.url or "").real_alarms()
        assert alarm["active"] and not alarm["handled"]
    device.close()


def test_a_station_killed_mid_stream_loses_nothing(broker: Mosquitto, tmp_path: Path) -> None:
    config = make_config(tmp_path, broker.url)
    data = config.model_dump(mode="json", exclude_none=True)
    file = write_config(tmp_path / "station.toml", data)
    station = StationProcess(file, tmp_path / "run1.log")
    station.wait_ready()
    device = Device(broker.port)
    total = 400
    for seq in range(1, 201):
        device.send(event(seq, "normal"))
    until(lambda: len(archived(config)) > 20, what="part of the stream archived")
    station.kill()
    for seq in range(201, total + 1):
        device.send(event(seq, "normal"))
    station = StationProcess(file, tmp_path / "run2.log")
    station.wait_ready()
    until(lambda: len(archived(config)) >= total, timeout=30, what="every event archived")
    assert station.terminate() == 0
    device.close()
    seqs = [e["seq"] for e in archived(config)]
    assert seqs == list(range(1, total + 1))


def siaga(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("password", ["x", "123456789"])
def test_station_user_add_refuses_a_password_under_10_characters(
    tmp_path: Path, password: str
) -> None:
    data = config_data(["mqtt://127.0.0.1:1"], f"sqlite:///{tmp_path}/s.sqlite3")
    file = write_config(tmp_path / "station.toml", data)
    args = ("station", "user", "add", "sari", "--role", "operator", "-c", str(file))
    refused = siaga(*args, stdin=password + "\n")
    assert refused.returncode == 2
    assert "at least 10 characters" in refused.stderr and password not in refused.stderr


def test_station_commands_user_add_export_and_check_config(tmp_path: Path) -> None:
    data = config_data(["mqtt://127.0.0.1:1"], f"sqlite:///{tmp_path}/s.sqlite3")
    file = write_config(tmp_path / "station.toml", data)
    added = siaga(
        "station",
        "user",
        "add",
        "Bripka Sari",
        "--role",
        "admin",
        "-c",
        str(file),
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    archive = Archive(data["database"]["url"]).open()
    assert archive.user("Bripka Sari") is not None and archive.user("Bripka Sari")[0] == "admin"
    with archive.write() as tx:
        for device, seq in (("pi-b", 1), ("pi-a", 2), ("pi-a", 1)):
            ev = event(seq, "normal", device=device)
            tx.insert_event(
                {
                    **ev,
                    "epoch": 0,
                    "received_at": "2025-03-11T02:00:00.000Z",
                    "skew": None,
                    "payload": json.dumps(ev),
                }
            )
    archive.close()
    exported = siaga("station", "export", "--json", "-c", str(file))
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(e["device"], e["seq"]) for e in lines] == [("pi-a", 1), ("pi-a", 2), ("pi-b", 1)]
    assert all(e["received_at"] == "2025-03-11T02:00:00.000Z" for e in lines)
    assert (
        siaga("station", "export", "--since", "2026-01-01T00:00:00Z", "-c", str(file)).stdout == ""
    )
    assert siaga("station", "check-config", "--quiet", "-c", str(file)).returncode == 0
    (tmp_path / "bad.toml").write_text(
        '[http]\nlisten = "nowhere"\n[database]\nurl = "mysql://x"\n'
    )
    bad = siaga("station", "check-config", "-c", str(tmp_path / "bad.toml"))
    assert bad.returncode == 2
    assert f"{tmp_path / 'bad.toml'}: http.listen:" in bad.stderr
    assert "database.url:" in bad.stderr


def test_device_commands_import_none_of_the_station_dependencies() -> None:
    code = (
        "import sys, edge.cli; edge.cli.build_parser('run'); edge.cli.build_parser('');"
        "print([m for m in sys.modules if m.split('.')[0] in "
        "('starlette', 'uvicorn', 'psycopg', 'argon2', 'httpx', 'edge.station')"
        " or m.startswith('edge.station')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("prefix", [PREFIX])
def test_the_sites_view_lists_every_device_heard(
    broker: Mosquitto, tmp_path: Path, prefix: str
) -> None:
    config = make_config(tmp_path, broker.url)
    with running(config) as station:
        api = Api(station.url or "")
        a, b = Device(broker.port), Device(broker.port, device="pi-b")
        a.heartbeat(0, sensors={"smoke-1": "normal", "smoke-2": "fault"})
        b.status("online")
        sites = until(lambda: len(api.get("/api/sites")["sites"]) == 2 and api.get("/api/sites"))
        rows = {s["device"]: s for s in sites["sites"]}
        assert rows["pi-a"]["not_watched"] == ["smoke-2"] and rows["pi-b"]["status"] == "online"
        a.close()
        b.close()
