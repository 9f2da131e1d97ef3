"""``siaga-edge console --station URL``: the station's board on a terminal (over SSH).

Not a command of its own: ``console`` hands over to it when ``--station`` is given. The
live board takes keys (↑/↓ or j/k select, ``a`` then ``y`` acknowledges the selected
alarm, ``q`` quits); without a terminal, or with ``--json``, every change is printed as a
line (``--json``: the station's change objects) and stdin takes ``ack ALARM_ID`` and
``quit``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import select
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape

from edge import logs
from edge.commands import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from edge.console.station_board import StationBoard
from edge.console.station_link import StationClient
from edge.console.station_render import render_station
from edge.console.station_session import StationSession

PASSWORD_ENV = "SIAGA_STATION_PASSWORD"
REFRESH_S = 0.25
KEYS = {"\x1b[A": "up", "\x1b[B": "down"}


def run_station(args: argparse.Namespace) -> int:
    err = Console(stderr=True, highlight=False)
    if not args.user:
        err.print("siaga-edge console: --station needs --user NAME (a station account)")
        return EXIT_USAGE
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if not sys.stdin.isatty():
            err.print(f"siaga-edge console: set ${PASSWORD_ENV} (no terminal to ask on)")
            return EXIT_USAGE
        password = getpass.getpass(f"password for {args.user} at {args.station}: ")
    try:
        client = StationClient(args.station, args.user, password)
    except ValueError as exc:
        err.print(f"siaga-edge console: --station {exc}")
        return EXIT_USAGE
    live = not args.json and sys.stdout.isatty() and sys.stdin.isatty()
    logs.configure("error" if live else "warning", "console")
    board = StationBoard()
    out = Console(highlight=False, soft_wrap=True)

    def printed(change: dict[str, Any]) -> None:
        if live:
            return
        if args.json:
            sys.stdout.write(json.dumps(change, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        elif change.get("kind") == "alarm":
            a = change["alarm"]
            out.print(
                f"{a['ack']:<9} {a['hazard']:<10} {a['site']}/{a['device']}/{a['sensor']} "
                f"{escape(str(a.get('marker') or a.get('message') or ''))}"
            )

    session = StationSession(client, board, user=args.user, on_change=printed)
    session.start()
    if board.link_lost_since is not None and not board.alarms and not board.sites:
        err.print(f"siaga-edge console: {board.link_why}")
    try:
        if live:
            _live(session, board, args)
        else:
            session.run(args.duration, on_step=_lines(session, board, err))
    except KeyboardInterrupt:
        pass
    finally:
        session.stop()
    return EXIT_OK if board.station else EXIT_FAILURE


def _lines(session: StationSession, board: StationBoard, err: Console) -> Callable[[], None]:
    """Commands from stdin on a thread; the function that prints new notes after each step."""
    shown = [0]

    def commands() -> None:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] in ("q", "quit", "exit"):
                session.stop()
                return
            if words[0] in ("a", "ack") and len(words) == 2:
                session.inbox.put(("ack", words[1]))
            else:
                err.print("commands: 'ack ALARM_ID' or 'quit'")

    threading.Thread(target=commands, name="console-stdin", daemon=True).start()

    def notes() -> None:
        new = min(board.noted - shown[0], len(board.notes))
        for when, text in list(board.notes)[len(board.notes) - new :]:
            err.print(f"[dim]{when}[/] {escape(text)}")
        shown[0] = board.noted

    return notes


def _live(session: StationSession, board: StationBoard, args: argparse.Namespace) -> None:
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    console = Console()
    last = 0.0

    def view() -> Any:
        return render_station(
            board,
            height=console.size.height,
            source=args.station,
            clock=time.strftime("%Y-%m-%d %H:%M:%S"),
            user=args.user,
        )

    try:
        with Live(view(), console=console, screen=True, auto_refresh=False) as live:

            def refresh() -> None:
                nonlocal last
                while select.select([fd], [], [], 0)[0]:
                    raw = os.read(fd, 16).decode(errors="ignore")
                    key = KEYS.get(raw, raw[:1].lower())
                    session.inbox.put(("key", key))
                now = time.monotonic()
                if now - last >= REFRESH_S:
                    live.update(view(), refresh=True)
                    last = now

            session.run(args.duration, on_step=refresh)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
