"""The whole path with nothing played: the real daemon on mock pins, a real mosquitto and
the real station. A pin goes into alarm; the operator acknowledges on the station; the
device records it, stops repeating, and only its receipt turns the alarm confirmed."""

from __future__ import annotations

from pathlib import Path

from broker import Mosquitto
from factories import smoke_config
from gpiozero.pins.mock import MockFactory
from harness import running_daemon
from stationkit import Api, add_user, config_data, running, until

from edge.station.config import StationConfig


def test_a_real_alarm_is_acknowledged_at_the_station_and_confirmed_by_the_real_device(
    broker: Mosquitto, tmp_path: Path, mock_factory: MockFactory
) -> None:
    station_cfg = StationConfig(
        **config_data([broker.url], f"sqlite:///{tmp_path}/station.sqlite3")
    )
    add_user(station_cfg)
    device_cfg = smoke_config(broker.url, tmp_path / "outbox.sqlite3", alerts__repeat_s=1.0)
    with running(station_cfg) as station, running_daemon(device_cfg, mock_factory) as device:
        api = Api(station.url or "")
        device.smoke_pin.drive_low()
        (alarm,) = until(api.real_alarms, what="the device's alarm on the station's board")
        assert (alarm["site"], alarm["sensor"], alarm["hazard"]) == ("lapas", "smoke-1", "fire")
        assert alarm["ack"] == "none"
        response = api.post(f"/api/alarms/{alarm['alarm_id']}/ack", {"note": "unit sent"})
        assert response.status_code == 200 and response.json()["ack"] in ("pending", "confirmed")
        confirmed = until(lambda: [a for a in api.real_alarms() if a["ack"] == "confirmed"])
        assert confirmed[0]["acked_by"] == "sari"
        outbox = device.daemon.outbox
        assert device.daemon.call(lambda: outbox.is_acked(alarm["last_event_id"]))
        assert device.daemon.call(outbox.unacked_alarms) == 0  # repeats stop, siren off
