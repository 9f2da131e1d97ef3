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


def sensors_table(board: Board, now: float) -> Table:
    table = Table(
        box=box.ROUNDED, expand=True, title="Sensors", title_justify="left", title_style="bold"
    )
    table.add_column("", width=6, no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("site / device", no_wrap=True)
    table.add_column("sensor", no_wrap=True)
    table.add_column("hazard", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("stage", no_wrap=True)
    table.add_column("since", no_wrap=True)
    table.add_column("message", ratio=1)
    quiet_stale: dict[tuple[str, str], int] = {}
    for row in board.rows():
        dev = board.devices[(row.site, row.device)]
        stale = dev.offline or dev.silent(now)
        unacked = board.has_open(row)
        if stale and row.state == "normal" and not unacked:
            # A device nobody hears: its quiet sensors are one line, not a screenful.
            quiet_stale[dev.key] = quiet_stale.get(dev.key, 0) + 1
            continue
        flag = Text(" UNACK", style="bold white on red") if unacked else Text("")
        if stale and not unacked:
            flag = Text("stale", style="dim")
        event = row.event or {}
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


def drills_panel(board: Board) -> Panel | None:
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
        table.add_row(
            _state(str(event["state"])),
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
    text.append(" SIAGA ", style="bold white on blue")
    text.append(f"  {source}  ", style="bold")
    text.append(f"{len(board.devices)} devices, {len(board.sensors)} sensors  ")
    if unacked:
        text.append(f" {len(unacked)} UNACKNOWLEDGED ", style="bold white on red")
        text.append("  ")
    if bad:
        text.append(f" {len(bad)} DEVICE(S) SILENT/OFFLINE ", style="bold white on dark_orange3")
        text.append("  ")
    text.append(clock, style="dim")
    return text


def footer(board: Board, *, ack_as: str | None) -> Text:
    pending = board.unacknowledged()
    drills = sum(1 for e in pending if e.get("drill"))
    of_which = f" ({drills} of them drill)" if drills else ""
    if ack_as:
        keys = f"[a] acknowledge {len(pending)} open{of_which} as {ack_as!r}   [q] quit"
    else:
        keys = "read-only (start with --ack-as NAME to acknowledge)   [q] quit"
    return Text(keys, style="dim")


def render_board(
    board: Board, now: float, *, source: str, clock: str, ack_as: str | None = None
) -> RenderableType:
    parts: list[RenderableType] = [
        banner(board, now, source=source, clock=clock, ack_as=ack_as),
        sensors_table(board, now),
    ]
    drills = drills_panel(board)
    if drills is not None:
        parts.append(drills)
    parts += [devices_table(board, now), recent_table(board), footer(board, ack_as=ack_as)]
    return Group(*parts)


def row_line(row: SensorRow) -> str:
    """One sensor as plain text (for logs and tests)."""
    return f"{row.state:<8} {row.site}/{row.device} {row.sensor}"
