"""The control room's live board of every site, device and sensor heard under the prefix.

Alarms first, then faults, warnings, the rest; an unacknowledged alarm or fault is
flagged UNACK in white on red. A device whose status is ``offline``, or whose heartbeat
is older than 3 of its intervals, is flagged OFFLINE / SILENT and its sensors as stale.
Drill events appear only in their own magenta LATIHAN / DRILL panel, never as real.
Gaps in a device's ``seq`` are asked for on ``resend`` automatically.

Acknowledging is a person's act: start the console with ``--ack-as NAME``, move the
selection over the open alarms and faults (↑/↓ or j/k; drills after the real ones), press
``a`` and confirm with ``y``: the selected one is acknowledged as NAME (``q`` quits). Who
acknowledged each event is shown beside it. Without ``--ack-as`` the console is read-only.
When stdin is not a terminal, and with ``--json``, commands are read as lines instead:
``ack`` (every open real one, never drills), ``ack EVENT_ID``, ``quit``. While the
console's own broker link is down a banner says so and no site is counted silent.

``--station URL --user NAME`` shows a station's board instead (its archive, its alarms and
their acknowledgements as the devices confirmed them), read over its HTTP API.

``--json`` prints the de-duplicated event stream, one MQTT API event a line (each event
``id`` once per run, in arrival order), for scripts and archives; notes go to stderr. A
restarted console does not remember the ids it printed before: the device's repeat of an
alarm still open, or an event re-sent for a gap, is printed again; an archive keeps the
first line per ``id``.

The MQTT session is persistent (fixed client id, see ``--client-id``): events that
arrive while the console is down are delivered when it comes back. The broker comes from
``--broker``, else the config's ``mqtt`` section (TLS files and username included); a
control-room config may hold only ``[mqtt]``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import signal
import socket
import sys
import time
import tomllib
from collections import deque
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.markup import escape

from edge import logs
from edge.clock import SystemClock
from edge.commands import EXIT_FAILURE, EXIT_OK, argtypes
from edge.config import (
    ConfigError,
    MqttConfig,
    config_path,
    describe_errors,
    load_config,
)
from edge.console.app import (
    ConsoleSession,
    KeyReader,
    LineReader,
    default_state_file,
    load_watermarks,
)
from edge.console.board import Board, Update
from edge.console.render import STATE_STYLE, render_board

REFRESH_S = 0.25
NOTES_KEPT = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker", metavar="URL", help="mqtt://host:port (default: the config's)")
    parser.add_argument(
        "--station",
        metavar="URL",
        help="show a station's board (http://host:port) instead of listening on MQTT",
    )
    parser.add_argument(
        "--user",
        metavar="NAME",
        help="with --station: the station account (password from $SIAGA_STATION_PASSWORD "
        "or asked for)",
    )
    parser.add_argument("--site", metavar="S", help="only this site")
    parser.add_argument("--json", action="store_true", help="the event stream, one a line")
    parser.add_argument("--ack-as", metavar="NAME", help="operator name; enables acknowledging")
    parser.add_argument(
        "--client-id", help="MQTT client id of the persistent session (default per host and user)"
    )
    parser.add_argument(
        "--state", metavar="FILE", type=Path, help="where the last seq per device is kept"
    )
    parser.add_argument(
        "--duration", type=argtypes.seconds, metavar="S", help="stop after S seconds"
    )


def mqtt_settings(explicit: str | None, broker: str | None) -> tuple[MqttConfig, str]:
    """The ``mqtt`` section (and topic prefix) of the config, ``--broker`` overriding."""
    path = config_path(explicit)
    mqtt: MqttConfig
    if not explicit and not path.exists():
        mqtt = MqttConfig()
    else:
        try:
            mqtt = load_config(path).mqtt
        except ConfigError as full:
            # A control-room machine's config may have nothing but [mqtt].
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
                mqtt = MqttConfig.model_validate(data.get("mqtt", {}))
            except (OSError, tomllib.TOMLDecodeError):
                raise full from None
            except ValidationError as exc:
                raise ConfigError(
                    path, [("mqtt." + p if p else "mqtt", r) for p, r in describe_errors(exc, data)]
                ) from None
    if broker:
        try:
            mqtt = MqttConfig.model_validate(
                {**mqtt.model_dump(exclude={"url", "urls"}), "url": broker}
            )
        except ValidationError as exc:
            raise ConfigError(Path("--broker"), describe_errors(exc, {})) from None
    return mqtt, mqtt.topic_prefix


def run(args: argparse.Namespace) -> int:
    if args.station:
        from edge.commands.console_station import run_station

        return run_station(args)
    mqtt, prefix = mqtt_settings(args.config, args.broker)
    user = getpass.getuser()
    client_id = (
        args.client_id
        or (f"siaga-console-{socket.gethostname()}-{user}" + ("-json" if args.json else ""))[:64]
    )
    state_file = args.state or default_state_file(client_id)
    board = Board(prefix, watermarks=load_watermarks(state_file))
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False, soft_wrap=True)
    live_board = not args.json and sys.stdout.isatty() and sys.stdin.isatty()
    # A live board owns the screen: only errors may be written over it.
    logs.configure("error" if live_board else "warning", "console")

    notes: deque[str] = deque(maxlen=NOTES_KEPT)

    def note(text: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {text}"
        notes.append(stamped)  # the live board shows its own notes on screen
        if not live_board:
            err.print(f"[dim]{stamped[:8]}[/] {escape(text)}")

    def print_events(update: Update) -> None:
        for event in update.events:
            if args.json:
                sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
                sys.stdout.flush()
            elif not live_board:
                out.print(event_line(event))

    session = ConsoleSession(
        mqtt,
        client_id=client_id,
        board=board,
        clock=SystemClock(),
        site=args.site,
        ack_as=args.ack_as,
        state_file=state_file,
        on_update=print_events,
        on_note=note,
    )
    signal.signal(signal.SIGTERM, lambda *_: session.stop())
    session.start()
    try:
        if live_board:
            _live(session, board, args, mqtt, notes)
        else:
            LineReader(session)
            session.run(args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        session.close()
    if session.failed:
        err.print(f"siaga-edge console: MQTT failed: {session.failed}")
        return EXIT_FAILURE
    return EXIT_OK


def _live(
    session: ConsoleSession,
    board: Board,
    args: argparse.Namespace,
    mqtt: MqttConfig,
    notes: deque[str],
) -> None:
    keys = KeyReader(session)
    screen = Console()
    clock = session.clock
    source = args.site or "all sites"
    last = 0.0

    def view() -> Any:
        url = mqtt.broker_urls[0] if session.connected_url is None else session.connected_url
        state = "" if session.connected_url else "  [connecting…]"
        return render_board(
            board,
            clock.monotonic(),
            source=f"{source} @ {url.split(' ')[0]}{state}",
            clock=time.strftime("%Y-%m-%d %H:%M:%S"),
            ack_as=args.ack_as,
            selected=session.selected,
            confirming=session.confirming,
            notes=list(notes),
            height=screen.size.height,
        )

    try:
        with Live(view(), console=screen, screen=True, auto_refresh=False, transient=False) as live:

            def refresh() -> None:
                nonlocal last
                keys.poll()
                now = clock.monotonic()
                if now - last >= REFRESH_S:
                    live.update(view(), refresh=True)
                    last = now

            session.run(args.duration, on_step=refresh)
    finally:
        keys.close()


def event_line(event: dict[str, Any]) -> str:
    """One event as a line of rich markup, for a console that is not a live board."""
    state = str(event["state"])
    style = STATE_STYLE.get(state, "")
    drill = "[bold magenta]DRILL[/] " if event.get("drill") else ""
    ack = " [bold red]UNACK[/]" if event.get("requires_ack") else ""
    return (
        f"[dim]{str(event.get('ts', ''))[11:23]}[/] #{event['seq']:<4} {drill}"
        f"[{style}]{state.upper():<8}[/] {event['site']}/{event['device']}/{event['sensor']} "
        f"{escape(str(event.get('message', '')))}{ack}"
    )
