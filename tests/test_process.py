"""``siaga-edge run`` as a real process: scenarios, the Last Will, signals, sd_notify, logs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from broker import Mosquitto
from factories import unique_by_id
from harness import Listener

CONFIG = """
[site]
id = "lapas"
device = "pi-a"
language = "{language}"

[mqtt]
url = "{url}"
keepalive_s = 5
{mqtt_extra}

[storage]
path = "{store}"
allow_volatile = true

[heartbeat]
interval_s = 1

[gpio]
pin_factory = "mock"

[control]
socket = "{sock}"

[[sensors]]
id = "smoke-dapur"
kind = "smoke"
name = "Dapur"
location = "Blok A"
input = {{ type = "digital", pin = "GPIO17", active_low = true }}
delay_on_s = {delay_on}
delay_off_s = 1.0

[[sensors]]
id = "air-selokan"
kind = "water_level"
name = "Selokan utara"
location = "Tembok utara"
input = {{ type = "hcsr04", trigger = "GPIO23", echo = "GPIO24", mount_height_m = 2.5, pings = 3 }}
sample_hz = 5
unit = "m"
warning = 0.8
alarm = 1.2
hysteresis = 0.05
delay_on_s = 0.6
delay_off_s = 2.0
fault = {{ no_data_s = 3.0, min = -0.2, max = 2.5 }}
"""

SCENARIO = """
duration_s = 8.0

[[step]]
at_s = 0.0
sensor = "air-selokan"
value = 0.3

[[step]]
at_s = 1.0
sensor = "smoke-dapur"
value = 1.0

[[step]]
at_s = 2.5
sensor = "smoke-dapur"
value = 0.0

[[step]]
at_s = 2.0
sensor = "air-selokan"
value = 1.5
ramp_s = 3.0
"""


def write_config(tmp_path: Path, url: str, **fields: Any) -> Path:
    values = {
        "language": "id",
        "url": url,
        "store": tmp_path / "outbox.sqlite3",
        "sock": tmp_path / "control.sock",
        "delay_on": 0.5,
        "mqtt_extra": "",
    }
    values.update(fields)
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(**values))
    return path


def start(
    config: Path, *args: str, env: dict[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen[bytes]:
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    out = (log or config.with_name("daemon.log")).open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "-c", str(config), *args],
        env=full_env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=20)


@pytest.fixture
def sub(broker: Mosquitto) -> Iterator[Listener]:
    s = Listener(broker.port, client_id="control-room")  # returns once subscribed
    yield s
    s.close()


def wait_logged(log: Path, event: str, timeout: float = 15.0) -> bool:
    """Until the daemon's JSON log has a line with ``event`` (a positive signal)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if f'"event": "{event}"' in log.read_text(errors="replace") or (
            f'"event":"{event}"' in log.read_text(errors="replace")
        ):
            return True
        time.sleep(0.05)
    return False


def test_a_simulated_scenario_yields_exactly_the_expected_events(
    broker: Mosquitto, sub: Listener, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO)
    proc = start(write_config(tmp_path, broker.url), "--simulate", str(scenario))
    try:
        assert sub.wait_for(
            lambda s: any(
                e["sensor"] == "air-selokan" and e["state"] == "alarm" for e in s.events()
            ),
            timeout=20,
        ), (tmp_path / "daemon.log").read_text()
        time.sleep(0.5)
    finally:
        assert stop(proc) == 0
    events = unique_by_id(sub.events())
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    per_sensor = {
        sensor: [(e["state"], e["reason"]) for e in events if e["sensor"] == sensor]
        for sensor in ("smoke-dapur", "air-selokan")
    }
    assert per_sensor["smoke-dapur"] == [
        ("starting", "startup"),
        ("normal", "startup"),
        ("alarm", "contact"),
        ("normal", "cleared"),
    ]
    assert per_sensor["air-selokan"] == [
        ("starting", "startup"),
        ("normal", "startup"),
        ("warning", "level"),
        ("alarm", "level"),
    ]
    flood = next(e for e in events if e["sensor"] == "air-selokan" and e["state"] == "alarm")
    assert flood["value"] >= 1.2
    assert flood["threshold"] == 1.2
    assert flood["message"] == (
        f"BANJIR: air mencapai {flood['value']:.2f} m di Selokan utara, Tembok utara"
    )


def test_the_last_will_says_offline_when_the_daemon_is_killed(
    broker: Mosquitto, sub: Listener, tmp_path: Path
) -> None:
    proc = start(write_config(tmp_path, broker.url))
    try:
        assert sub.wait_for(lambda s: bool(s.payloads("/status")), timeout=15)
        assert sub.payloads("/status")[-1]["state"] == "online"
    finally:
        stop(proc, signal.SIGKILL)
    # keepalive 5 s: the broker gives up on the silent client after 1.5 keepalives
    assert sub.wait_for(lambda s: s.payloads("/status")[-1]["state"] == "offline", timeout=15)


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[str] = []

    def collect(self, until: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue
            if any(until in m for m in self.messages):
                return True
        return False


def test_sd_notify_ready_watchdog_status_and_stopping(broker: Mosquitto, tmp_path: Path) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    env = {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"}
    proc = start(write_config(tmp_path, broker.url), env=env)
    try:
        assert notify.collect("READY=1", timeout=15)
        assert notify.collect("WATCHDOG=1", timeout=5)
        assert any(m.startswith("STATUS=") for m in notify.messages)
    finally:
        assert stop(proc) == 0
    assert notify.collect("STOPPING=1", timeout=5)
    beats = [m for m in notify.messages if m == "WATCHDOG=1"]
    assert len(beats) >= 1


def test_ready_does_not_wait_for_the_broker(tmp_path: Path) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    down = Mosquitto()  # never started: nothing listens on its port
    proc = start(write_config(tmp_path, down.url), env={"NOTIFY_SOCKET": str(notify.path)})
    try:
        assert notify.collect("READY=1", timeout=15)
    finally:
        assert stop(proc) == 0


def test_sighup_applies_a_valid_config_and_keeps_running(
    broker: Mosquitto, sub: Listener, tmp_path: Path
) -> None:
    config = write_config(tmp_path, broker.url)
    proc = start(config)
    try:
        assert sub.wait_for(lambda s: len(s.events()) >= 4, timeout=15)
        write_config(tmp_path, broker.url, delay_on=2.0)
        proc.send_signal(signal.SIGHUP)
        assert sub.wait_for(
            lambda s: any(e["reason"] == "reload" for e in s.events()), timeout=10
        ), (tmp_path / "daemon.log").read_text()
        reload_event = next(e for e in sub.events() if e["reason"] == "reload")
        assert reload_event["sensor"] == "_device"
        assert reload_event["severity"] == "info"
        assert "changed=smoke-dapur" in reload_event["message"]
        assert proc.poll() is None
    finally:
        assert stop(proc) == 0


def test_sighup_with_an_invalid_config_keeps_the_old_one(
    broker: Mosquitto, sub: Listener, tmp_path: Path
) -> None:
    config = write_config(tmp_path, broker.url)
    proc = start(config)
    try:
        assert sub.wait_for(lambda s: len(s.events()) >= 4, timeout=15)
        config.write_text(config.read_text().replace("warning = 0.8", "warning = 9.0"))
        proc.send_signal(signal.SIGHUP)
        assert wait_logged(config.with_name("daemon.log"), "config_reload_rejected")
        assert proc.poll() is None
        assert not any(e["reason"] == "reload" for e in sub.events())
    finally:
        assert stop(proc) == 0
    log = (tmp_path / "daemon.log").read_text()
    assert "config_reload_rejected" in log
    assert "warning (9.0) must be below alarm (1.2)" in log


def test_logs_are_json_lines_and_never_contain_the_password(
    broker: Mosquitto, sub: Listener, tmp_path: Path
) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cr3t-Hunter2\n")
    secret.chmod(0o600)
    extra = f'username = "pi-a"\npassword_file = "{secret}"'
    proc = start(write_config(tmp_path, broker.url, mqtt_extra=extra))
    try:
        assert sub.wait_for(lambda s: len(s.events()) >= 4, timeout=15)
    finally:
        assert stop(proc) == 0
    lines = (tmp_path / "daemon.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert records and len(records) == len([ln for ln in lines if ln.strip()])
    assert all("event" in r and "level" in r and "timestamp" in r for r in records)
    assert {"daemon_ready", "broker_connected", "daemon_stopped"} <= {r["event"] for r in records}
    assert "s3cr3t-Hunter2" not in "\n".join(lines)


def test_a_world_readable_password_file_stops_the_daemon_with_exit_2(
    broker: Mosquitto, tmp_path: Path
) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cr3t\n")
    secret.chmod(0o644)
    extra = f'username = "pi-a"\npassword_file = "{secret}"'
    proc = start(write_config(tmp_path, broker.url, mqtt_extra=extra))
    assert proc.wait(timeout=20) == 2
    log = (tmp_path / "daemon.log").read_text()
    assert "world-readable" in log and "s3cr3t" not in log
