"""``siaga-edge replay``: a recorded trace through a sensor's configured detection."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tools_support import cli

from edge.cli import main
from edge.clock import iso_ms
from edge.config import load_config
from edge.payloads import Event
from edge.replay import EPOCH, ZoneReplay, replay, replay_zone

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "edge" / "data" / "config.example.toml"
QUAKE = ROOT / "edge" / "data" / "quake.csv"

SMOKE = [(0.0, 0.0), (10.0, 1.0), (20.0, 0.0), (55.0, 0.0)]


def write(tmp_path: Path, text: str, name: str = "trace.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def smoke_trace(tmp_path: Path) -> Path:
    return write(tmp_path, "t_s,value\n" + "".join(f"{t},{v}\n" for t, v in SMOKE))


def test_replay_reports_each_change_at_its_own_time_even_between_samples() -> None:
    result = replay(load_config(EXAMPLE), "smoke-dapur", SMOKE)
    rows = [(t, e.state.value, e.reason.value) for t, e in result.events]
    assert rows == [
        (0.0, "starting", "startup"),
        (0.0, "normal", "startup"),
        (13.0, "alarm", "contact"),
        (50.0, "normal", "cleared"),
    ]


def test_replayed_events_are_api_events_numbered_from_1_stamped_from_a_fixed_epoch() -> None:
    result = replay(load_config(EXAMPLE), "smoke-dapur", SMOKE)
    assert [e.seq for _, e in result.events] == [1, 2, 3, 4]
    assert [e.ts for _, e in result.events] == [iso_ms(EPOCH + t) for t, _ in result.events]
    assert all(e.site == "lapas-banyuwangi" and e.sensor == "smoke-dapur" for _, e in result.events)
    assert result.events[2][1].requires_ack


def test_replaying_the_same_trace_gives_the_same_ids() -> None:
    config = load_config(EXAMPLE)
    first = [e.id for _, e in replay(config, "smoke-dapur", SMOKE).events]
    assert first == [e.id for _, e in replay(config, "smoke-dapur", SMOKE).events]
    assert len(set(first)) == len(first)


def test_nothing_is_invented_after_the_last_sample_a_waiting_change_is_pending() -> None:
    result = replay(load_config(EXAMPLE), "smoke-dapur", [(0.0, 0.0), (10.0, 1.0), (20.0, 0.0)])
    assert [e.state.value for _, e in result.events][-1] == "alarm"
    assert result.pending is not None
    assert (result.pending.t_s, result.pending.state.value) == (50.0, "normal")


def test_a_trace_starting_late_shows_the_silence_before_it_as_missing_data() -> None:
    result = replay(load_config(EXAMPLE), "air-selokan", [(30.0, 0.5), (30.5, 0.5)])
    assert [(t, e.state.value, e.reason.value) for t, e in result.events][:2] == [
        (0.0, "starting", "startup"),
        (10.0, "fault", "no_data"),
    ]


def test_the_bundled_quake_warns_then_alarms_then_clears() -> None:
    from edge.trace import load_trace

    result = replay(load_config(EXAMPLE), "getar-fondasi", load_trace(QUAKE))
    states = [e.state.value for _, e in result.events]
    assert states == ["starting", "normal", "warning", "alarm", "normal"]


def test_a_trace_at_another_rate_than_the_accelerometer_is_said_not_silently_replayed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found commissioning: the bundled quake decimated to 20 Hz replayed on the 100 Hz
    getar-fondasi gave a 10 s warm-up and no warning at all, with nothing said: the
    STA/LTA and high-pass count samples at sample_hz, not seconds."""
    from edge.trace import load_trace

    every_fifth = load_trace(QUAKE)[::5]
    trace = write(tmp_path, "t_s,value\n" + "".join(f"{t},{v}\n" for t, v in every_fifth))
    assert main(["replay", "-c", str(EXAMPLE), "getar-fondasi", str(trace)]) == 0
    err = capsys.readouterr().err
    assert "sampled at 20 Hz but the sensor at sample_hz 100" in err
    assert "5 times as long" in err
    # at the sensor's own rate nothing is said
    assert main(["replay", "-c", str(EXAMPLE), "getar-fondasi", str(QUAKE)]) == 0
    assert "warning" not in capsys.readouterr().err
    # a zone's member is checked as well
    door = ROOT / "edge" / "data" / "door-slam.csv"
    args = [f"getar-fondasi={trace}", f"getar-atap={door}"]
    assert main(["replay", "-c", str(EXAMPLE), "gempa-blok-a", *args]) == 0
    err = capsys.readouterr().err
    assert err.count("sampled at") == 1 and "getar-fondasi:" in err


def test_cli_json_prints_one_api_event_a_line_plus_t_s(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", "-c", str(EXAMPLE), "smoke-dapur", str(smoke_trace(tmp_path)), "--json"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["t_s"] for line in lines] == [0.0, 0.0, 13.0, 50.0]
    for line in lines:
        del line["t_s"]
        Event.model_validate(line)
    assert lines[2]["state"] == "alarm"
    assert lines[2]["schema"] == "siaga.event/1"


def test_cli_prints_a_table_and_what_was_pending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write(tmp_path, "# kitchen, 11 March\nt_s,value\n0,0\n10,1\n20,0\n")
    assert main(["replay", "-c", str(EXAMPLE), "smoke-dapur", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "13.00  alarm" in out
    assert "KEBAKARAN" in out
    assert "pending at the end: normal at t_s 50.00" in out


def test_cli_malformed_trace_exits_2_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write(tmp_path, "t_s,value\n0,0\n1,oops\n")
    assert main(["replay", "-c", str(EXAMPLE), "smoke-dapur", str(trace)]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err
    assert "oops" in err


def test_cli_invalid_config_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, EXAMPLE.read_text().replace("warning = 0.8", "warning = 1.5"), "c.toml")
    assert main(["replay", "-c", str(bad), "air-selokan", str(smoke_trace(tmp_path))]) == 2
    assert "air-selokan" in capsys.readouterr().err


def test_cli_unknown_sensor_exits_2_listing_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", "-c", str(EXAMPLE), "nope", str(smoke_trace(tmp_path))]) == 2
    assert "smoke-dapur" in capsys.readouterr().err


def test_cli_plot_writes_an_image(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "quake.png"
    assert (
        main(["replay", "-c", str(EXAMPLE), "getar-fondasi", str(QUAKE), "--plot", str(out)]) == 0
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("sensor", "values"),
    [
        ("smoke-dapur", [0.0, 1.0, 1.0, 0.0]),
        ("smoke-gudang", [100.0, 400.0, 700.0, 100.0]),
        ("air-selokan", [0.5, 0.9, 1.3, 0.5]),
        ("getar-pagar", [0.0, 1.0, 1.0, 1.0]),
    ],
)
def test_plot_draws_every_kind_of_sensor(tmp_path: Path, sensor: str, values: list[float]) -> None:
    pytest.importorskip("matplotlib")
    from edge.plot import plot_replay

    config = load_config(EXAMPLE)
    samples = [(i * 0.5, values[i * len(values) // 400]) for i in range(400)]
    out = tmp_path / f"{sensor}.png"
    plot_replay(config.sensor(sensor), samples, replay(config, sensor, samples), out)
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_cli_plot_without_matplotlib_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "x.png"
    code = main(
        [
            "replay",
            "-c",
            str(EXAMPLE),
            "smoke-dapur",
            str(smoke_trace(tmp_path)),
            "--plot",
            str(out),
        ]
    )
    assert code == 1
    assert "siaga-edge[plot]" in capsys.readouterr().err
    assert not out.exists()


def test_replay_with_an_invalid_config_exits_2_naming_the_field(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text('[site]\nid = "Lapas"\n')
    trace = tmp_path / "t.csv"
    trace.write_text("t_s,value\n0,1\n")
    result = cli("replay", "smoke-1", str(trace), "-c", str(config_file))
    assert result.returncode == 2
    assert f"siaga-edge: invalid config\n{config_file}: site.id: " in result.stderr


# ---------------------------------------------------------------- zones

SLAM = ROOT / "edge" / "data" / "door-slam.csv"


def quiet() -> list[tuple[float, float]]:
    """The door-slam trace's background without the knock: a sensor that felt nothing."""
    from edge.trace import load_trace

    return [(t, 0.0 if 12.0 <= t < 12.3 else v) for t, v in load_trace(SLAM)]


def zone_rows(result: ZoneReplay, ident: str) -> list[tuple[str, str]]:
    return [(e.state.value, e.reason.value) for _, e in result.events if e.sensor == ident]


def test_a_door_slam_next_to_one_accelerometer_no_longer_announces_an_earthquake() -> None:
    from edge.trace import load_trace

    traces = {"getar-fondasi": quiet(), "getar-atap": load_trace(SLAM)}
    result = replay_zone(load_config(EXAMPLE), "gempa-blok-a", traces)
    assert ("alarm", "level") in zone_rows(result, "getar-atap")  # the sensor itself
    assert zone_rows(result, "gempa-blok-a") == [("starting", "startup"), ("normal", "startup")]
    assert {e.zone for _, e in result.events} == {"gempa-blok-a"}


def test_a_quake_felt_by_both_accelerometers_warns_then_alarms_the_zone() -> None:
    from edge.trace import load_trace

    quake = load_trace(QUAKE)
    result = replay_zone(
        load_config(EXAMPLE), "gempa-blok-a", {"getar-fondasi": quake, "getar-atap": quake}
    )
    assert zone_rows(result, "gempa-blok-a") == [
        ("starting", "startup"),
        ("normal", "startup"),
        ("warning", "coincidence"),
        ("alarm", "coincidence"),
        ("normal", "cleared"),
    ]
    assert [e.seq for _, e in result.events] == list(range(1, len(result.events) + 1))
    assert len({e.id for _, e in result.events}) == len(result.events)
    warning = next(
        e for _, e in result.events if e.sensor == "gempa-blok-a" and e.state.value == "warning"
    )
    assert warning.members == ["getar-fondasi", "getar-atap"]


def test_a_kitchen_zone_replays_its_pre_alarm_then_its_alarm() -> None:
    traces = {
        "smoke-dapur": [(0.0, 0.0), (6.0, 1.0), (40.0, 1.0)],
        "smoke-dapur-2": [(0.0, 0.0), (11.0, 1.0), (40.0, 1.0)],
        "titik-dapur": [(0.0, 0.0), (40.0, 0.0)],
    }
    result = replay_zone(load_config(EXAMPLE), "dapur", traces)
    rows = [(t, e.state.value, e.reason.value) for t, e in result.events if e.sensor == "dapur"]
    assert rows[2:] == [(9.0, "warning", "confirming"), (14.0, "alarm", "confirmed")]


def test_cli_replays_a_zone_one_trace_a_member_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["replay", "-c", str(EXAMPLE), "gempa-blok-a", "--json"]
    code = main([*args, f"getar-fondasi={QUAKE}", f"getar-atap={QUAKE}"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for line in lines:
        assert isinstance(line.pop("t_s"), float)
        Event.model_validate(line)
    assert {line["sensor"] for line in lines} == {"gempa-blok-a", "getar-fondasi", "getar-atap"}
    assert any(line["sensor"] == "gempa-blok-a" and line["state"] == "alarm" for line in lines)


def test_cli_zone_table_marks_the_zones_own_events(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["replay", "-c", str(EXAMPLE), "gempa-blok-a"]
    assert main([*args, f"getar-fondasi={QUAKE}", f"getar-atap={QUAKE}"]) == 0
    out = capsys.readouterr().out
    assert "* gempa-blok-a" in out
    assert "gempa-blok-a (coincidence): 2 members" in out


@pytest.mark.parametrize(
    ("traces", "names"),
    [
        ([f"getar-fondasi={QUAKE}"], "missing: getar-atap"),
        ([f"getar-fondasi={QUAKE}", f"getar-pagar={QUAKE}"], "'getar-pagar' is not a member"),
        ([str(QUAKE)], "give SENSOR=TRACE.csv for each member"),
    ],
)
def test_cli_zone_replay_needs_one_trace_for_each_member(
    capsys: pytest.CaptureFixture[str], traces: list[str], names: str
) -> None:
    assert main(["replay", "-c", str(EXAMPLE), "gempa-blok-a", *traces]) == 2
    assert names in capsys.readouterr().err


def test_cli_zone_plot_writes_an_image(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "zone.png"
    args = ["replay", "-c", str(EXAMPLE), "gempa-blok-a", "--plot", str(out)]
    assert main([*args, f"getar-fondasi={QUAKE}", f"getar-atap={SLAM}"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
