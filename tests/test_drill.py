"""Drills: a scenario through separate detection, flagged as a drill from end to end."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker import Mosquitto
from gpiozero.pins.mock import MockFactory
from harness import Listener, ThreadedDaemon
from tools_support import cli, tool_daemon, write_config

from edge.cli import main
from edge.config import load_config
from edge.control import ControlClient, ControlError
from edge.detect.types import Reason, State
from edge.drill import Drill, DrillError
from edge.outbox import Outbox
from edge.simulate import Scenario, ScenarioError, load_scenario

FIRE = """
duration_s = 0.6
[[step]]
at_s = 0.1
sensor = "smoke-1"
value = 1.0
"""


def scenario(tmp: Path, text: str, name: str = "fire.toml") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def drill_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``siaga-edge drill ARGS`` in this process (the daemon is in a thread here)."""
    code = main(["drill", *args])
    out, err = capsys.readouterr()
    return code, out, err


def states(transitions: list[object]) -> list[tuple[str, State]]:
    return [(t.sensor, t.state) for t in transitions]  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the pure drill


def test_a_drill_runs_only_the_sensors_its_scenario_names(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    drill = Drill(load_scenario(scenario(tmp_path, FIRE)), {}, config, name="fire")
    assert list(drill.machines) == ["smoke-1"]


def test_a_drill_contact_alarms_after_the_sensors_delay_on(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    drill = Drill(load_scenario(scenario(tmp_path, FIRE)), {}, config, name="fire")
    drill.start(100.0)
    out = []
    t = 100.0
    while not drill.finished(t):
        t = drill.next_due()
        out += drill.advance(t)
    alarm = [tr for tr in out if tr.state is State.ALARM]
    assert [tr.reason for tr in alarm] == [Reason.CONTACT]
    assert alarm[0].t == pytest.approx(100.0 + 0.1 + 0.2, abs=0.051)


def test_a_drill_samples_an_analog_sensor_at_its_sample_rate(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    text = 'duration_s = 2.0\n[[step]]\nat_s = 0.0\nsensor = "gas-1"\nvalue = 100.0\n'
    drill = Drill(load_scenario(scenario(tmp_path, text)), {}, config, name="gas")
    drill.start(0.0)
    drill.advance(2.0)
    assert drill.samples_fed == 21  # 10 Hz from t = 0 to t = 2, both ends included


def test_a_drill_on_an_unknown_sensor_is_refused(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    text = 'duration_s = 1.0\n[[step]]\nat_s = 0.0\nsensor = "nowhere"\nvalue = 1.0\n'
    with pytest.raises(ScenarioError, match="no sensor 'nowhere'"):
        Drill(load_scenario(scenario(tmp_path, text)), {}, config, name="x")


def test_a_drill_on_a_disabled_sensor_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace('id = "smoke-1"', 'id = "smoke-1"\nenabled = false'))
    config = load_config(path)
    with pytest.raises(DrillError, match="disabled"):
        Drill(load_scenario(scenario(tmp_path, FIRE)), {}, config, name="fire")


# ---------------------------------------------------------------- end to end


Site = tuple[ThreadedDaemon, Listener, Path]


@pytest.fixture
def site(broker: Mosquitto, tmp_path: Path, mock_factory: MockFactory) -> Iterator[Site]:
    sub = Listener(broker.port)
    time.sleep(0.2)
    config_file = write_config(tmp_path, broker.url)
    running = tool_daemon(config_file, mock_factory)
    assert sub.wait_for(lambda s: len(s.events()) >= 4)  # starting + normal, both sensors
    yield running, sub, config_file
    if running.thread.is_alive():
        running.stop()
    sub.client.disconnect()
    sub.client.loop_stop()


def test_drill_events_carry_drill_true_and_say_latihan(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, sub, config_file = site
    code, out, err = drill_cli(
        str(scenario(tmp_path, FIRE)), "-c", str(config_file), "--json", capsys=capsys
    )
    assert code == 0, err
    # (the daemon in this process logs to stdout too; its lines are not JSON)
    printed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert sub.wait_for(lambda s: len([e for e in s.events() if e["drill"]]) >= 3)
    drill = [e for e in sub.events() if e["drill"]]
    assert [(e["sensor"], e["state"]) for e in drill] == [
        ("_device", "normal"),
        ("smoke-1", "alarm"),
        ("_device", "normal"),
    ]
    assert drill[1]["message"] == "LATIHAN — KEBAKARAN: asap terdeteksi di Dapur, Blok A"
    assert [e["reason"] for e in drill[::2]] == ["drill", "drill"]
    assert drill[0]["message"].startswith("Latihan: dimulai: fire.toml")
    assert drill[2]["message"] == (
        "Latihan: selesai: fire.toml; 1 kejadian latihan yang belum dikonfirmasi ditutup"
    )
    assert [e["id"] for e in printed] == [e["id"] for e in drill]


def test_a_drill_never_touches_the_real_sensor_or_its_retained_state(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running, sub, config_file = site
    code, _, err = drill_cli(str(scenario(tmp_path, FIRE)), "-c", str(config_file), capsys=capsys)
    assert code == 0, err
    assert running.daemon.sensors.machines["smoke-1"].state is State.NORMAL
    retained = sub.payloads("/state/smoke-1")
    assert retained and not any(e["drill"] for e in retained)


def test_a_real_alarm_during_a_drill_is_sent_as_real(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running, sub, config_file = site
    text = 'duration_s = 3.0\n[[step]]\nat_s = 0.0\nsensor = "gas-1"\nvalue = 700.0\n'
    code, _, err = drill_cli(
        str(scenario(tmp_path, text)), "-c", str(config_file), "--detach", capsys=capsys
    )
    assert code == 0, err
    running.smoke_pin.drive_low()
    assert sub.wait_for(lambda s: any(e["state"] == "alarm" and not e["drill"] for e in s.events()))
    real = next(e for e in sub.events() if e["state"] == "alarm" and not e["drill"])
    assert real["sensor"] == "smoke-1"
    assert not real["message"].startswith("LATIHAN")


def test_a_drill_alarm_leaves_the_local_siren_silent(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A drill exercises the response chain; a siren sounding in a prison for no fire is
    # itself an incident. Only real alarms sound it.
    running, sub, config_file = site
    code, _, err = drill_cli(str(scenario(tmp_path, FIRE)), "-c", str(config_file), capsys=capsys)
    assert code == 0, err
    assert any(e["drill"] and e["state"] == "alarm" for e in sub.events())
    siren = running.factory.pin("GPIO27")
    assert not siren.state
    running.smoke_pin.drive_low()
    assert sub.wait_for(lambda s: any(e["state"] == "alarm" and not e["drill"] for e in s.events()))
    deadline = time.monotonic() + 5
    while not siren.state and time.monotonic() < deadline:
        time.sleep(0.01)
    assert siren.state


def test_a_drill_alarm_still_open_at_the_end_is_closed_and_stops_repeating(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running, sub, config_file = site
    code, _, err = drill_cli(str(scenario(tmp_path, FIRE)), "-c", str(config_file), capsys=capsys)
    assert code == 0, err
    assert sub.wait_for(lambda s: any("selesai" in e["message"] for e in s.events()))
    alarm = next(e for e in sub.events() if e["drill"] and e["state"] == "alarm")
    running.stop()
    store = Outbox(running.config.storage.path)
    try:
        assert store.is_acked(alarm["id"])
        assert store.due_repeats(0.0, 100) == []
        closed = [d for _, event, d in store.audit_log() if event == "drill_events_closed"]
        assert closed == ["count=1 by=(drill ended)"]
    finally:
        store.close()


def test_drill_start_and_end_are_in_the_audit_log(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running, _, config_file = site
    code, _, err = drill_cli(str(scenario(tmp_path, FIRE)), "-c", str(config_file), capsys=capsys)
    assert code == 0, err
    running.stop()
    store = Outbox(running.config.storage.path)
    names = [event for _, event, _ in store.audit_log()]
    store.close()
    assert names.count("drill_started") == 1
    assert names.count("drill_ended") == 1


def test_a_second_drill_is_refused_while_one_runs(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, config_file = site
    path = scenario(tmp_path, FIRE.replace("duration_s = 0.6", "duration_s = 5"))
    assert drill_cli(str(path), "-c", str(config_file), "--detach", capsys=capsys)[0] == 0
    code, _, err = drill_cli(str(path), "-c", str(config_file), capsys=capsys)
    assert code == 1
    assert "a drill is already running" in err


def test_drill_stop_ends_a_running_drill_early(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, sub, config_file = site
    path = scenario(tmp_path, FIRE.replace("duration_s = 0.6", "duration_s = 30"))
    assert drill_cli(str(path), "-c", str(config_file), "--detach", capsys=capsys)[0] == 0
    assert drill_cli("--stop", "-c", str(config_file), capsys=capsys)[0] == 0
    assert sub.wait_for(lambda s: any("dihentikan" in e["message"] for e in s.events()))


def test_the_control_socket_is_a_socket_with_mode_0660(site: Site) -> None:
    running, _, _ = site
    mode = running.config.control.socket.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o660


def test_a_scenario_the_daemon_cannot_parse_is_refused_over_the_socket(site: Site) -> None:
    running, _, _ = site
    with (
        ControlClient(running.config.control.socket) as client,
        pytest.raises(ControlError, match="drill refused"),
    ):
        client.request("drill_start", name="bad", scenario={"duration_s": -1})


def test_drill_with_no_daemon_running_exits_1(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    result = cli("drill", str(scenario(tmp_path, FIRE)), "-c", str(config_file))
    assert result.returncode == 1
    assert "no daemon answers" in result.stderr


def test_a_scenario_naming_an_unknown_sensor_exits_2_before_any_daemon_is_asked(
    tmp_path: Path,
) -> None:
    config_file = write_config(tmp_path)
    text = 'duration_s = 1.0\n[[step]]\nat_s = 0.0\nsensor = "nowhere"\nvalue = 1.0\n'
    result = cli("drill", str(scenario(tmp_path, text)), "-c", str(config_file))
    assert result.returncode == 2
    assert "no sensor 'nowhere'" in result.stderr


def test_scenario_round_trips_through_the_control_channel_encoding(tmp_path: Path) -> None:
    loaded = load_scenario(scenario(tmp_path, FIRE))
    again = Scenario.model_validate(json.loads(json.dumps(loaded.model_dump(by_alias=True))))
    assert again.model_dump() == loaded.model_dump()


def test_a_reload_that_changes_a_drilled_sensor_stops_the_drill_and_the_daemon_runs_on(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running, sub, config_file = site
    text = 'duration_s = 30.0\n[[step]]\nat_s = 0.0\nsensor = "gas-1"\nvalue = 700.0\n'
    path = scenario(tmp_path, text)
    assert drill_cli(str(path), "-c", str(config_file), "--detach", capsys=capsys)[0] == 0
    config_file.write_text(config_file.read_text().replace("alarm = 600.0", "alarm = 650.0"))
    running.daemon.reload()
    assert sub.wait_for(lambda s: any("dihentikan" in e["message"] for e in s.events()))
    assert sub.wait_for(lambda s: any(e["reason"] == "reload" for e in s.events()))
    assert running.thread.is_alive()


def test_a_reload_that_only_renames_a_sensor_keeps_its_alarm_and_history(site: Site) -> None:
    running, sub, config_file = site
    running.smoke_pin.drive_low()
    assert sub.wait_for(lambda s: any(e["state"] == "alarm" for e in s.events()))
    before = len(sub.events())
    config_file.write_text(
        config_file.read_text().replace('name = "Dapur"', 'name = "Dapur utama"')
    )
    running.daemon.reload()
    assert sub.wait_for(lambda s: any(e["reason"] == "reload" for e in s.events()))
    reload_event = next(e for e in sub.events() if e["reason"] == "reload")
    assert "renamed=smoke-1" in reload_event["message"]
    assert "changed=-" in reload_event["message"]
    after = [e for e in sub.events()[before:] if e["sensor"] == "smoke-1"]
    assert after == []  # no "starting", no second alarm needing its own ack
    running.smoke_pin.drive_high()
    assert sub.wait_for(lambda s: any(e["sensor"] == "smoke-1" for e in s.events()[before:]))
    cleared = next(e for e in sub.events()[before:] if e["sensor"] == "smoke-1")
    assert (cleared["previous"], cleared["reason"]) == ("alarm", "cleared")
    assert "Dapur utama" in cleared["message"]
