"""Feed a scenario into the running daemon's detection as a drill (latihan).

The daemon on this Pi receives the scenario over its local control socket
(``control.socket``; root, the service user or its group only, never over MQTT). It runs
the scenario through separate copies of the named sensors' detection, at their sample
rates: the real sensors keep running untouched, and a real alarm during a drill is sent
as real. Every event of the drill carries ``"drill": true`` and its message starts with
LATIHAN (or DRILL); its start and end are in the audit log and are published as info
events of the device (sensor ``_device``, reason ``drill``).

The command follows the drill and prints its events until the scenario's end. Ctrl-C
stops the drill early; ``--detach`` starts it and returns at once; ``--stop`` stops a
running drill. ``--json`` prints the drill's events one a line.

Exit 0 when the drill ran, 2 for a bad scenario or config, 1 when no daemon answers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from edge.commands import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from edge.config import config_path, load_config
from edge.console.render import STATE_STYLE
from edge.control import ControlClient, ControlError, NoDaemonError
from edge.simulate import ScenarioError, load_scenario

POLL_S = 0.25


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO", type=Path, nargs="?", help="TOML file")
    parser.add_argument("--detach", action="store_true", help="start the drill and return")
    parser.add_argument("--stop", action="store_true", help="stop the running drill")
    parser.add_argument("--json", action="store_true", help="the drill's events, one a line")


def run(args: argparse.Namespace) -> int:
    config = load_config(config_path(args.config))
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False)
    socket_path = config.control.socket
    if args.stop:
        try:
            with ControlClient(socket_path) as client:
                client.request("drill_stop")
        except ControlError as exc:
            err.print(f"siaga-edge drill: {exc}")
            return EXIT_FAILURE
        err.print("drill stopped")
        return EXIT_OK
    if args.scenario is None:
        err.print("siaga-edge drill: give a SCENARIO file (or --stop)")
        return EXIT_USAGE
    try:
        scenario = load_scenario(args.scenario)
        traces = scenario.load_traces()
        scenario.check_against(config)
    except ScenarioError as exc:
        err.print(f"siaga-edge drill: invalid scenario\n{exc}", markup=False)
        return EXIT_USAGE
    request: dict[str, Any] = {
        "name": args.scenario.name,
        "scenario": scenario.model_dump(mode="json", by_alias=True),
        "traces": traces,
    }
    try:
        client = ControlClient(socket_path)
    except NoDaemonError as exc:
        err.print(f"siaga-edge drill: {exc}; is siaga-edge running with this config?")
        return EXIT_FAILURE
    except ControlError as exc:
        err.print(f"siaga-edge drill: {exc}")
        return EXIT_FAILURE
    with client:
        try:
            started = client.request("drill_start", **request)
        except ControlError as exc:
            err.print(f"siaga-edge drill: {exc}", markup=False)
            return EXIT_FAILURE
        err.print(
            f"[bold magenta]LATIHAN / DRILL[/] {started['name']} started on "
            f"{config.site.id}/{config.site.device}: {', '.join(started['sensors'])}, "
            f"{started['duration_s']:g} s" + ("" if args.detach else "  (Ctrl-C stops the drill)")
        )
        if args.detach:
            return EXIT_OK
        return _follow(client, int(started["drill"]), out, err, as_json=args.json)


def _follow(
    client: ControlClient, drill_id: int, out: Console, err: Console, *, as_json: bool
) -> int:
    since = 0
    try:
        while True:
            status = client.request("drill_status", since=since)
            for event in status["events"]:
                _show(event, out, as_json=as_json)
            since = int(status["next"])
            if status["drill"] != drill_id or not status["running"]:
                break
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        try:
            client.request("drill_stop")
            status = client.request("drill_status", since=since)
            for event in status["events"]:
                _show(event, out, as_json=as_json)
        except ControlError as exc:
            err.print(f"siaga-edge drill: {exc}")
            return EXIT_FAILURE
        err.print("drill stopped early")
        return EXIT_OK
    except ControlError as exc:
        err.print(f"siaga-edge drill: {exc}")
        return EXIT_FAILURE
    err.print("drill finished")
    return EXIT_OK


def _show(event: dict[str, Any], out: Console, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(event, ensure_ascii=False), flush=True)
        return
    state = str(event["state"])
    style = STATE_STYLE.get(state, "")
    out.print(
        f"[dim]{event['ts'][11:23]}[/] #{event['seq']:<4} [magenta]DRILL[/] "
        f"[{style}]{state.upper():<8}[/] {event['sensor']:<14} {escape(str(event['message']))}",
        markup=True,
    )
    sys.stdout.flush()
