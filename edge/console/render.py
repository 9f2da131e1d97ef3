"""The board drawn with rich: a pure function of the :class:`Board` and the time.

Worst first: a banner with the count of unacknowledged alarms, the sensors (alarms, then
faults, warnings, the rest; an unacknowledged one in white on red with ``UNACK``), the
devices (offline and silent ones in red, with the gaps in their ``seq``), drills in their
own magenta panel (never mixed with the real rows), and the latest events.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from edge.console.board import Board, Device, SensorRow

STATE_STYLE = {
    "alarm": "bold white on red",
    "fault": "bold black on yellow",
    "warning": "bold yellow",
    "normal": "green",
    "starting": "cyan",
    "disabled": "dim",
}
DRILL_STYLE = "bold magenta"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _value(event: dict[str, Any] | None, health: dict[str, Any] | None) -> str:
    for source in (health, event):
        if source is not None and isinstance(source.get("value"), int | float):
            unit = source.get("unit") or ""
            return f"{source['value']:.3g} {unit}".strip()
    return "-"


def _state(state: str, *, stale: bool = False) -> Text:
    style = "dim strike" if stale else STATE_STYLE.get(state, "")
    return Text(f" {state.upper()} ", style=style)


def device_status(dev: Device, now: float) -> Text:
    if dev.offline:
        return Text(" OFFLINE ", style="bold white on red")
    if dev.silent(now):
        since = dev.heartbeat_age(now)
        return Text(f" SILENT {_age(since)} ", style="bold white on dark_orange3")
    if dev.status == "online":
        return Text("online", style="green")
    return Text("?", style="dim")


def sensors_table(
    board: Board, now: float, *, selected: str | None = None, max_rows: int | None = None
) -> Table:
    table = Table(
        box=box.ROUNDED, expand=True, title="Sensors", title_justify="left", title_style="bold"
    )
    table.add_column("", min_width=6, max_width=24, no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("site / device", no_wrap=True)
    table.add_column("sensor", no_wrap=True)
    table.add_column("hazard", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("stage", no_wrap=True)
    table.add_column("since", no_wrap=True)
    table.add_column("message", ratio=1, no_wrap=True, overflow="ellipsis")
    quiet_stale: dict[tuple[str, str], int] = {}
    hidden = 0
    for row in board.rows():
        if max_rows is not None and table.row_count >= max_rows:
            hidden += 1
            continue
        dev = board.devices[(row.site, row.device)]
        stale = dev.offline or dev.silent(now)
        unacked = board.has_open(row)
        if stale and row.state == "normal" and not unacked:
            # A device nobody hears: its quiet sensors are one line, not a screenful.
            quiet_stale[dev.key] = quiet_stale.get(dev.key, 0) + 1
            continue
        event = row.event or {}
        flag = Text(" UNACK", style="bold white on red") if unacked else Text("")
        acked_by = board.acked_by.get(str(event.get("id", "")))
        if not unacked and acked_by:
            flag = Text(f"ack: {acked_by}", style="green")
        if stale and not unacked:
            flag = Text("stale", style="dim")
        if selected is not None and event.get("id") == selected:
            flag = Text("› " + flag.plain, style="bold reverse")
        table.add_row(
            flag,
            _state(row.state, stale=stale),
            f"{row.site}/{row.device}",
            Text(row.sensor, style="bold" if row.state in ("alarm", "fault") else ""),
            escape(str(event.get("hazard") or "")),
            _value(row.event, row.health),
            escape(str(event.get("stage") or "")),
            str(event.get("ts", ""))[11:19],
            escape(
                "ALARM by the device's heartbeat; its event has not arrived yet"
                if row.live_alarm
                else str(event.get("message", ""))
            ),
            style="on grey23" if unacked and row.state == "alarm" else None,
        )
    if hidden:
        more = Text(f"… {hidden} more sensors, the quietest, out of view", style="dim")
        table.add_row("", "", "", "", "", "", "", more)
    for (site, device), count in quiet_stale.items():
        dev = board.devices[(site, device)]
        why = "offline" if dev.offline else "silent"
        table.add_row(
            Text("stale", style="dim"),
            _state("normal", stale=True),
            f"{site}/{device}",
            Text(f"{count} sensor{'s' if count > 1 else ''}", style="dim"),
            "",
            "",
            "",
            "",
            Text(f"last known normal; the device is {why}: NOT WATCHED", style="dim"),
        )
    return table


def devices_table(board: Board, now: float) -> Table:
    table = Table(
        box=box.ROUNDED, expand=True, title="Devices", title_justify="left", title_style="bold"
    )
    for name, justify in (
        ("site / device", "left"),
        ("status", "left"),
        ("heartbeat", "right"),
        ("seq", "right"),
        ("outbox", "right"),
        ("unacked", "right"),
        ("gaps", "left"),
        ("note", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=name != "note")  # type: ignore[arg-type]
    for dev in sorted(board.devices.values(), key=lambda d: _device_rank(d, now)):
        beat = dev.heartbeat or {}
        missing = dev.missing()
        gaps = (
            Text(
                ", ".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in missing[:3])
                + (" (asked)" if dev.requests else ""),
                style="bold red",
            )
            if missing
            else Text(f"{dev.lost} lost", style="red")
            if dev.lost
            else Text("none", style="dim")
        )
        note = ""
        if dev.device_event is not None:
            note = str(dev.device_event.get("message", ""))
        if beat.get("broker_connected") is False:
            note = "device reports broker link down " + note
        unacked = beat.get("unacknowledged_alarms")
        table.add_row(
            f"{dev.site}/{dev.device}",
            device_status(dev, now),
            _age(dev.heartbeat_age(now)),
            str(max(dev.high_seq, dev.watermark or 0) or "-"),
            str(beat.get("outbox_depth", "-")),
            Text(str(unacked), style="bold red") if unacked else Text(str(unacked or 0)),
            gaps,
            escape(note),
        )
    return table


def _device_rank(dev: Device, now: float) -> tuple[int, str, str]:
    rank = 0 if dev.offline else 1 if dev.silent(now) else 2
    return (rank, dev.site, dev.device)


def drills_panel(board: Board, selected: str | None = None) -> Panel | None:
    rows = board.drill_rows()
    notes = [d.drill_note for d in board.devices.values() if d.drill_note is not None]
    if not rows and not notes:
        return None
    table = Table(expand=True, show_header=False, box=None)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(ratio=1)
    for event in rows:
        mark = "› " if selected is not None and event.get("id") == selected else ""
        table.add_row(
            Text(mark) + _state(str(event["state"])),
            f"{event['site']}/{event['device']}",
            event["sensor"],
            escape(str(event.get("message", ""))),
        )
    for note in notes:
        table.add_row(
            Text("drill", style="magenta"),
            f"{note['site']}/{note['device']}",
            "",
            Text(str(note.get("message", "")), style="magenta"),
        )
    return Panel(
        table,
        title="[bold magenta]LATIHAN / DRILL · UJI / TEST — not real[/]",
        border_style="magenta",
        title_align="left",
    )


def recent_table(board: Board) -> Table:
    table = Table(
        expand=True,
        title="Latest events",
        title_justify="left",
        title_style="bold",
        show_header=False,
        box=None,
    )
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(ratio=1)
    for event in reversed(board.recent):
        drill = bool(event.get("drill") or event.get("test"))
        label = " DRILL " if event.get("drill") else " TEST "
        table.add_row(
            Text(str(event.get("ts", ""))[11:23], style="dim"),
            f"#{event['seq']}",
            Text(label, style=DRILL_STYLE) if drill else _state(str(event["state"])),
            f"{event['device']}/{event['sensor']}",
            Text(str(event.get("message", "")), style="magenta" if drill else ""),
        )
    return table


def banner(board: Board, now: float, *, source: str, clock: str, ack_as: str | None) -> Text:
    unacked = [e for e in board.unacknowledged() if not e.get("drill")]
    bad = [d for d in board.devices.values() if d.offline or d.silent(now)]
    text = Text()
    if not board.link_up:
        since = "" if board.link_since is None else f" for {_age(now - board.link_since)}"
        text.append(
            f" CONSOLE NOT CONNECTED TO THE BROKER{since}: what is shown is not current; "
            "the sites are not to blame ",
            style="bold white on red",
        )
        text.append("\n")
    text.append(" SIAGA ", style="bold white on blue")
    text.append(f"  {source}  ", style="bold")
    text.append(f"{len(board.devices)} devices, {len(board.sensors)} sensors  ")
    if unacked:
        text.append(f" {len(unacked)} UNACKNOWLEDGED ", style="bold white on red")
        text.append("  ")
    drills = [e for e in board.unacknowledged() if e.get("drill")]
    if drills:
        text.append(f" {len(drills)} drill open ", style=DRILL_STYLE)
        text.append("  ")
    if bad:
        text.append(f" {len(bad)} DEVICE(S) SILENT/OFFLINE ", style="bold white on dark_orange3")
        text.append("  ")
    text.append(clock, style="dim")
    return text


def footer(board: Board, *, ack_as: str | None, confirming: str | None = None) -> Text:
    if confirming is not None and ack_as:
        event = board.open.get(confirming, {})
        what = (
            f"{event.get('site')}/{event.get('device')}/{event.get('sensor')} #{event.get('seq')}"
        )
        drill = " (DRILL)" if event.get("drill") else ""
        return Text(
            f" Acknowledge {what}{drill} as {ack_as!r}? [y] yes  [n] no ",
            style="bold black on yellow",
        )
    if ack_as:
        keys = f"[↑/↓ j/k] select   [a] acknowledge the selected one as {ack_as!r}   [q] quit"
    else:
        keys = "read-only (start with --ack-as NAME to acknowledge)   [q] quit"
    return Text(keys, style="dim")


def render_board(
    board: Board,
    now: float,
    *,
    source: str,
    clock: str,
    ack_as: str | None = None,
    selected: str | None = None,
    confirming: str | None = None,
    notes: list[str] | None = None,
    height: int | None = None,
) -> RenderableType:
    """``height``: fit a screen that tall (the sensors get what the rest leaves; the
    latest events go first when space is short); ``notes``: the console's own, last first."""
    shown_notes = (notes or [])[-3:]
    devices = devices_table(board, now)
    drills = drills_panel(board, selected)
    max_rows = None
    recent = True
    if height is not None:
        fixed = 8 + len(shown_notes) + devices.row_count + (0 if board.link_up else 1)
        fixed += 0 if drills is None else len(board.drill_rows()) + 2
        max_rows = max(3, height - fixed - 6)
        recent = height - fixed - 6 - len(board.sensors) > len(board.recent) + 2
    parts: list[RenderableType] = [
        banner(board, now, source=source, clock=clock, ack_as=ack_as),
        sensors_table(board, now, selected=selected, max_rows=max_rows),
    ]
    if drills is not None:
        parts.append(drills)
    parts.append(devices)
    if recent:
        parts.append(recent_table(board))
    parts += [Text(note, style="cyan") for note in shown_notes]
    parts.append(footer(board, ack_as=ack_as, confirming=confirming))
    return Group(*parts)


def row_line(row: SensorRow) -> str:
    """One sensor as plain text (for logs and tests)."""
    return f"{row.state:<8} {row.site}/{row.device} {row.sensor}"
