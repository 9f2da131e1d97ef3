"""``siaga-edge console --station URL``: the station's truth on a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from broker import Mosquitto
from rich.console import Console
from stationkit import PASSWORD, REPO, Device, add_user, config_data, event, running, until

from edge.console.station_board import StationBoard
from edge.console.station_link import StationClient
from edge.console.station_render import render_station
from edge.console.station_session import StationSession
from edge.station.config import StationConfig


def alarm(n: int, **kw: Any) -> dict[str, Any]:
    base = {
        "alarm_id": f"a{n}",
        "site": "lapas",
        "device": f"pi-{n % 3}",
        "sensor": f"smoke-{n}",
        "hazard": "fire",
        "severity": "critical",
        "active": True,
        "state": "alarm",
        "ack": "none",
        "acked_by": None,
        "closed": False,
        "first_at": f"2025-03-11T02:{n % 60:02d}:00.000Z",
        "events": 1,
        "drill": False,
        "test": False,
        "counted": True,
        "marker": None,
        "message": "KEBAKARAN",
    }
    base.update(kw)
    return base


def board_with(
    alarms: list[dict[str, Any]], sites: list[dict[str, Any]] | None = None, language: str = "en"
) -> StationBoard:
    board = StationBoard()
    board.snapshot(
        {"alarms": alarms},
        {
            "station": {"name": "Polresta", "language": language, "banner": None},
            "sites": sites or [],
        },
    )
    return board


def test_the_counts_come_from_the_list_shown_and_drills_are_apart() -> None:
    board = board_with(
        [
            alarm(1),
            alarm(2, ack="pending", acked_by="sari"),
            alarm(3, ack="confirmed"),
            alarm(4, drill=True, counted=False),
            alarm(5, test=True, counted=False),
        ]
    )
    assert board.counts() == {"open": 3, "unacked": 1, "pending": 1, "drills": 2}
    assert [a["alarm_id"] for a in board.ordered()] == ["a1", "a2", "a3", "a4", "a5"]


def test_only_the_selected_alarm_is_acknowledged_after_a_confirmation() -> None:
    board = board_with([alarm(1), alarm(2), alarm(3, drill=True, counted=False)])
    board.move(1)
    assert board.selected == "a2"
    assert board.ask_ack() == "a2"
    assert board.answer(False) is None  # "n": nothing is sent
    board.ask_ack()
    assert board.answer(True) == "a2"


def test_a_handled_alarm_cannot_be_acknowledged_again() -> None:
    board = board_with([alarm(1, ack="confirmed")])
    assert board.ask_ack() is None


def test_the_link_loss_is_one_banner_and_the_last_board_stays() -> None:
    board = board_with([alarm(1)])
    board.link_lost("connection refused", "10:00:00")
    board.link_lost("connection refused", "10:00:05")
    assert board.link_lost_since == "10:00:00" and len(board.alarms) == 1
    text = screen(board)
    assert "CONSOLE CANNOT REACH THE STATION since 10:00:00" in text
    assert "not to blame" in text


def screen(board: StationBoard, height: int = 30) -> str:
    console = Console(width=120, height=height, record=True, color_system=None)
    console.print(
        render_station(board, height=height, source="http://st", clock="now", user="sari")
    )
    return console.export_text()


def test_alarms_and_offline_devices_stay_visible_on_120_by_30() -> None:
    sites = [
        {"site": "lapas", "device": "pi-0", "status": "offline", "not_watched": ["smoke-1"]},
        {"site": "lapas", "device": "pi-1", "status": "silent", "not_watched": []},
        {"site": "rutan", "device": "pi-9", "status": "online", "not_watched": ["gas-1"]},
        *(
            {"site": "x", "device": f"d{i}", "status": "online", "not_watched": []}
            for i in range(20)
        ),
    ]
    board = board_with([alarm(i) for i in range(1, 41)], sites)
    for _ in range(25):
        board.move(1)
    text = screen(board)
    lines = text.rstrip("\n").splitlines()
    assert len(lines) <= 30
    assert "OFFLINE" in text and "SILENT" in text and "not watched: gas-1" in text
    assert "lapas/pi-2/smoke-26" in text  # the selected one is in view
    assert "… " in text and "more" in text  # and what is not is counted
    assert "40 open" in text and "40 unacknowledged" in text


def test_labels_follow_the_station_language() -> None:
    board = board_with([alarm(1)], language="id")
    text = screen(board)
    assert "terbuka" in text and "belum dikonfirmasi" in text


def test_who_acknowledged_is_shown_and_pending_is_never_drawn_handled() -> None:
    board = board_with([alarm(1, ack="pending", acked_by="Bripka Sari")])
    text = screen(board)
    assert "waiting for the device: Bripka Sari" in text
    assert "handled" not in text


def test_against_a_real_station_an_ack_from_the_console_is_shown_handled_only_on_the_receipt(
    broker: Mosquitto, tmp_path: Path
) -> None:
    config = StationConfig(**config_data([broker.url], f"sqlite:///{tmp_path}/s.sqlite3"))
    add_user(config)
    with running(config) as station:
        board = StationBoard()
        session = StationSession(
            StationClient(station.url or "", "sari", PASSWORD), board, user="sari"
        )
        session.start()
        device = Device(broker.port)
        device.refuse = "held"
        device.send(event(1))

        def step_until(predicate: Any, what: str) -> None:
            def check() -> Any:
                session.step(0.05)
                return predicate()

            until(check, what=what)

        step_until(lambda: board.counts()["unacked"] == 1, "the alarm on the console")
        session.key("a")
        session.key("y")
        step_until(
            lambda: board.alarms and next(iter(board.alarms.values()))["ack_refused"],
            "the device's refusal",
        )
        assert board.counts()["unacked"] == 1  # refused: still unacknowledged
        device.refuse = None
        session.key("a")
        session.key("y")
        step_until(lambda: next(iter(board.alarms.values()))["ack"] == "confirmed", "the receipt")
        assert any("acknowledged" in text for _, text in board.notes)
        device.close()
    # The station is gone: one banner at once, the last board kept.
    until(lambda: (session.step(0.05), board.link_lost_since)[1], what="the link loss")
    assert len(board.alarms) == 1
    session.stop()


def test_console_station_json_lines_for_scripts(broker: Mosquitto, tmp_path: Path) -> None:
    config = StationConfig(**config_data([broker.url], f"sqlite:///{tmp_path}/s.sqlite3"))
    add_user(config)
    with running(config) as station:
        device = Device(broker.port)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge",
                "console",
                "--station",
                station.url or "",
                "--user",
                "sari",
                "--json",
                "--duration",
                "6",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            env={**os.environ, "SIAGA_STATION_PASSWORD": PASSWORD},
            text=True,
        )
        until(lambda: station.hub.listeners > 0, what="the console following the stream")
        device.send(event(1))
        out, err = proc.communicate(timeout=30)
        device.close()
    assert proc.returncode == 0, err
    assert '"kind": "alarm"' in out and event(1)["id"] in out


def test_console_station_needs_a_user() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edge", "console", "--station", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2 and "--user" in result.stderr
