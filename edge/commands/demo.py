"""A newcomer's first run: a private broker, the daemon on simulated sensors, the alerts.

Starts mosquitto on a free loopback port (unless ``--broker``), runs ``siaga-edge run
--simulate`` on the example config with the built-in fire, flood and earthquake scenario,
and prints every event as a control-room subscriber receives it. Stops cleanly after
``--duration`` seconds and says whether every event arrived, in order.
"""

from __future__ import annotations

import argparse
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
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console

from edge.localbroker import Mosquitto
from edge.simulate import DEMO_SCENARIO, load_scenario

EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "data" / "config.example.toml"
STYLE = {
    "alarm": "bold white on red",
    "fault": "bold black on yellow",
    "warning": "bold yellow",
    "normal": "green",
    "starting": "dim",
    "disabled": "dim",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, help="seconds to run (default: the scenario's)")
    parser.add_argument(
        "--broker", help="use this broker instead of starting one (mqtt://host:port)"
    )
    parser.add_argument("--scenario", type=Path, default=DEMO_SCENARIO, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
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
            "SIAGA_HEARTBEAT__INTERVAL_S": "5",
            "SIAGA_ALERTS__REPEAT_S": "20",
            "SIAGA_LOGGING__FORMAT": "json",
            "SIAGA_CONTROL__SOCKET": str(work / "control.sock"),
        }
    )
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
    if broker is not None:
        broker.close()
    return feed.summary(code, log_path)


class _Feed:
    """A control-room subscriber that prints each event once, as it arrives."""

    def __init__(self, url: str, console: Console) -> None:
        self.console = console
        self.seen: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        parts = urlsplit(url)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.on_connect = lambda c, *_: c.subscribe("siaga/v1/#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        topic = msg.topic
        try:
            payload = json.loads(msg.payload)
        except ValueError:
            return
        if topic.endswith("/status"):
            self.console.print(f"[dim]{payload.get('ts', '')}[/]  device {payload.get('state')}")
            return
        if not topic.endswith("/events"):
            return
        with self.lock:
            if payload["id"] in self.seen:
                return  # a repeat of an unacknowledged alarm: same id, shown once
            self.seen[payload["id"]] = payload
        state = payload["state"]
        style = STYLE.get(state, "")
        stage = f" [{payload['stage']}]" if payload.get("stage") else ""
        self.console.print(
            f"[dim]{payload['ts'][11:23]}[/] #{payload['seq']:<3} "
            f"[{style}]{state.upper():<8}[/] {payload['sensor']:<14} "
            f"{payload['message']}{stage}"
        )

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def summary(self, code: int | None, log_path: Path) -> int:
        events = sorted(self.seen.values(), key=lambda e: e["seq"])
        seqs = [e["seq"] for e in events]
        gap_free = seqs == list(range(1, len(seqs) + 1))
        alarms = sum(1 for e in events if e["state"] == "alarm")
        faults = sum(1 for e in events if e["state"] == "fault")
        self.console.print(
            f"\n[bold]{len(events)} events received[/] ({alarms} alarms, {faults} faults); "
            f"seq 1..{seqs[-1] if seqs else 0} "
            + ("[green]without gaps[/]" if gap_free else "[red]WITH GAPS[/]")
            + f"; daemon exit code {code}"
        )
        if code != 0 or not gap_free or not events:
            self.console.print(f"[red]something went wrong; see {log_path}[/]")
            return 1
        return 0
