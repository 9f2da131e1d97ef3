"""A newcomer's first run: a private broker, the daemon on simulated sensors, the alerts.

Starts mosquitto on a free loopback port (unless ``--broker``), runs ``siaga-edge run
--simulate`` on the example config with the built-in scenario (a fire, a flood, an
earthquake and a fence climb the example calls an intrusion),
and shows the control room's console (``siaga-edge console``) receiving the alerts: its
live board on a terminal, one line per event otherwise. Beside it a **station** on SQLite
(``siaga-edge station run`` on the example station config) serves the operators' board;
a demo operator is created and the board's URL and login are printed, so the whole path
from a pin to an operator's screen is there on the first run. Stops cleanly after
``--duration`` seconds (on a terminal, the station stays up until Enter) and says whether
every event arrived, in order.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape

from edge import logs
from edge.clock import SystemClock
from edge.commands import argtypes
from edge.commands.console import event_line
from edge.config import MqttConfig
from edge.console.app import ConsoleSession, wait_connected
from edge.console.board import Board, Update
from edge.console.render import render_board
from edge.localbroker import Mosquitto, free_port
from edge.simulate import DEMO_SCENARIO, load_scenario

EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "data" / "config.example.toml"
STATION_CONFIG = Path(__file__).resolve().parents[1] / "data" / "station.example.toml"
DEMO_USER = "demo"
DEMO_PASSWORD = "siaga-demo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration", type=argtypes.seconds, help="seconds to run (default: the scenario's)"
    )
    parser.add_argument(
        "--broker", help="use this broker instead of starting one (mqtt://host:port)"
    )
    parser.add_argument("--scenario", type=Path, default=DEMO_SCENARIO, help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-station", action="store_true", help="only the daemon and the console, no web board"
    )


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    logs.configure("warning", "console")  # the console's own MQTT link: only its troubles
    scenario = load_scenario(args.scenario)
    duration = args.duration if args.duration is not None else scenario.duration_s + 5.0
    broker = None
    if args.broker:
        url = args.broker
    else:
        broker = Mosquitto().start()
        url = broker.url
        console.print(f"[bold]broker[/] mosquitto on {url} (private, stops with the demo)")
    work = Path(tempfile.mkdtemp(prefix="siaga-demo-"))
    env = dict(os.environ)
    env.update(
        {
            "SIAGA_MQTT__URL": url,
            "SIAGA_STORAGE__PATH": str(work / "outbox.sqlite3"),
            "SIAGA_STORAGE__ALLOW_VOLATILE": "true",  # /tmp may be RAM: fine for a demo
            "SIAGA_HEARTBEAT__INTERVAL_S": "5",
            "SIAGA_ALERTS__REPEAT_S": "20",
            "SIAGA_LOGGING__FORMAT": "json",
            "SIAGA_CONTROL__SOCKET": str(work / "control.sock"),
        }
    )
    station = None if args.no_station else _Station(url, work, console)
    feed = _Feed(url, console)
    log_path = work / "daemon.log"
    console.print(
        f"[bold]daemon[/] siaga-edge run --simulate {args.scenario.name} "
        f"(example config, logs in {log_path})\n"
    )
    with log_path.open("wb") as log:
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge",
                "run",
                "--simulate",
                str(args.scenario),
                "-c",
                str(EXAMPLE_CONFIG),
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + duration
            while time.monotonic() < deadline and daemon.poll() is None:
                time.sleep(0.1)
        except KeyboardInterrupt:
            pass
        finally:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
            try:
                code = daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                code = daemon.wait()
    time.sleep(0.5)
    feed.close()
    result = feed.summary(code, log_path)
    if station is not None:
        if sys.stdin.isatty():
            console.print(f"[bold]board[/] still at {station.url}: press Enter to stop")
            with contextlib.suppress(EOFError, KeyboardInterrupt):
                input()
        station.close()
    if broker is not None:
        broker.close()
    return result


class _Station:
    """``siaga-edge station run`` on SQLite in the demo's folder, with a demo operator."""

    def __init__(self, url: str, work: Path, console: Console) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.env = dict(os.environ)
        self.env.update(
            {
                "SIAGA_STATION_MQTT__URLS": json.dumps([url]),
                "SIAGA_STATION_MQTT__CLIENT_ID": f"siaga-demo-station-{os.getpid()}",
                "SIAGA_STATION_DATABASE__URL": f"sqlite:///{work}/station.sqlite3",
                "SIAGA_STATION_HTTP__LISTEN": f"127.0.0.1:{port}",
                "SIAGA_STATION_LOGGING__FORMAT": "json",
            }
        )
        command = [sys.executable, "-m", "edge", "station"]
        config = ["-c", str(STATION_CONFIG)]
        subprocess.run(
            [*command, "user", "add", DEMO_USER, "--role", "operator", *config],
            input=DEMO_PASSWORD + "\n",
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        self.log = work / "station.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*command, "run", *config], env=self.env, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 20
        while b"station_ready" not in self.log.read_bytes() and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        console.print(
            f"[bold]station[/] the operators' board: [bold]{self.url}[/]  login "
            f"[bold]{DEMO_USER}[/] / [bold]{DEMO_PASSWORD}[/] (logs in {self.log})"
        )

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class _Feed:
    """The control room's console (edge.console) watching the demo: a live board on a
    terminal, one line per event otherwise."""

    def __init__(self, url: str, console: Console) -> None:
        self.console = console
        self.live_board = console.is_terminal
        self.board = Board()
        self.events: list[dict[str, Any]] = []
        self.session = ConsoleSession(
            MqttConfig(url=url),
            client_id=f"siaga-demo-console-{os.getpid()}",
            board=self.board,
            clock=SystemClock(),
            on_update=self._on_update,
            on_note=self._on_note,
        )
        self.session.start()
        wait_connected(self.session, 10.0)
        self.live: Live | None = None
        if self.live_board:
            self.live = Live(
                self._view(), console=console, auto_refresh=False, vertical_overflow="ellipsis"
            )
            self.live.start()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-console", daemon=True)
        self._thread.start()

    def _view(self) -> Any:
        return render_board(
            self.board,
            self.session.clock.monotonic(),
            source="siaga-edge demo",
            clock=time.strftime("%H:%M:%S"),
        )

    def _run(self) -> None:
        last = 0.0
        while not self._stop.is_set():
            self.session.step(0.1)
            now = time.monotonic()
            if self.live is not None and now - last >= 0.25:
                self.live.update(self._view(), refresh=True)
                last = now

    def _on_update(self, update: Update) -> None:
        self.events += update.events
        if not self.live_board:
            for event in update.events:
                self.console.print(event_line(event))

    def _on_note(self, note: str) -> None:
        if not self.live_board:
            self.console.print(f"[dim]{time.strftime('%H:%M:%S')} {escape(note)}[/]")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.live is not None:
            self.live.update(self._view(), refresh=True)
            self.live.stop()
        self.session.close()

    def summary(self, code: int | None, log_path: Path) -> int:
        seqs = sorted(e["seq"] for e in self.events)
        gaps = [gap for dev in self.board.devices.values() for gap in dev.missing()]
        gap_free = not gaps and seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True
        alarms = sum(1 for e in self.events if e["state"] == "alarm")
        faults = sum(1 for e in self.events if e["state"] == "fault")
        self.console.print(
            f"\n[bold]{len(self.events)} events received[/] "
            f"({_count(alarms, 'alarm')}, {_count(faults, 'fault')}); "
            f"seq {seqs[0] if seqs else 0}..{seqs[-1] if seqs else 0} "
            + ("[green]without gaps[/]" if gap_free else "[red]WITH GAPS[/]")
            + f"; daemon exit code {code}"
        )
        if code != 0 or not gap_free or not self.events:
            self.console.print(f"[red]something went wrong; see {log_path}[/]")
            return 1
        return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
