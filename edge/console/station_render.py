"""The ``--station`` board drawn with rich, for a 120×30 terminal: a pure function of the
:class:`StationBoard`, the screen height and the time.

What must never scroll off comes first and is bounded: the banner (the station's, or the
console's own link loss), the counts, the devices that are offline, silent or not
watching, the operator's notes, the keys. The alarms get the rest of the height, in a
window that follows the selection, real ones first, drills and walk tests after them in
magenta; "… N more" says what is out of view.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from edge.console.station_board import StationBoard

MAX_DEVICE_ROWS = 6
FIXED_ROWS = 9  # header, counts, alarm table header and rule, devices title, footer, margins


def _ack(alarm: dict[str, Any], words: dict[str, str]) -> Text:
    who = alarm.get("acked_by") or ""
    if alarm["ack"] == "confirmed":
        return Text(f"{words['handled']}: {who}", style="green")
    if alarm["ack"] == "pending":
        return Text(f"{words['pending']}: {who}", style="bold yellow")
    refused = alarm.get("ack_refused")
    text = Text(" UNACK ", style="bold white on red")
    if refused:
        text.append(f" refused: {refused}", style="red")
    return text


def _state(alarm: dict[str, Any], words: dict[str, str]) -> Text:
    if alarm.get("drill") or alarm.get("test"):
        return Text(f" {words['drill' if alarm.get('drill') else 'test']} ", style="bold magenta")
    state = str(alarm["state"]).split(":")[0]  # a silent site's state is a sentence
    if alarm["active"]:
        style = "bold white on red" if alarm["severity"] == "critical" else "bold black on yellow"
        return Text(f" {state.upper()} ", style=style)
    return Text(state, style="dim")


def alarm_rows(board: StationBoard, rows: int) -> tuple[list[dict[str, Any]], int, int]:
    """The window of alarms shown: (alarms, hidden above, hidden below)."""
    order = board.ordered()
    if len(order) <= rows:
        return order, 0, 0
    rows = max(rows - 1, 1)  # one line says how many are out of view
    index = next((i for i, a in enumerate(order) if a["alarm_id"] == board.selected), 0)
    start = min(max(0, index - rows // 2), len(order) - rows)
    return order[start : start + rows], start, len(order) - start - rows


def alarms_table(board: StationBoard, rows: int) -> Table:
    words = board.words
    table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False, show_edge=False)
    for name, kw in (
        ("", {"width": 1}),
        ("state", {"min_width": 9}),
        ("hazard", {"min_width": 6}),
        ("site / device / sensor", {"min_width": 22, "max_width": 36}),
        ("ack", {"min_width": 14, "max_width": 40}),
        ("since", {"min_width": 8}),
        ("n", {"justify": "right", "min_width": 3}),
        ("", {"ratio": 1}),
    ):
        table.add_column(name, no_wrap=True, **kw)
    shown, above, below = alarm_rows(board, rows)
    if above:
        table.add_row("", "", "", Text(words["more"].format(n=above), style="dim"))
    for alarm in shown:
        selected = alarm["alarm_id"] == board.selected
        note = alarm.get("marker") or alarm.get("message") or ""
        if alarm.get("sensor") == "_site":
            note = alarm.get("message") or ""
        table.add_row(
            Text("›", style="bold") if selected else "",
            _state(alarm, words),
            str(alarm["hazard"]),
            f"{alarm['site']}/{alarm['device']}/{alarm['sensor']}",
            _ack(alarm, words),
            str(alarm.get("first_at", ""))[11:19],
            str(alarm.get("events", "")),
            Text(escape(str(note)), style="bold red" if alarm.get("marker") else ""),
            style="reverse" if selected else None,
        )
    if below:
        table.add_row("", "", "", Text(words["more"].format(n=below), style="dim"))
    if not shown:
        table.add_row("", "", "", Text(words["no_alarms"], style="green"))
    return table


def devices_table(board: StationBoard) -> Table:
    words = board.words
    table = Table(box=None, expand=True, show_header=False, pad_edge=False)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(ratio=1)
    troubled = board.troubled_devices()
    for site in troubled[:MAX_DEVICE_ROWS]:
        status = site["status"]
        flag = (
            Text(f" {words[status]} ", style="bold white on red")
            if status in ("offline", "silent")
            else Text(words["not_watched"], style="bold yellow")
        )
        unwatched = ", ".join(site.get("not_watched", []))
        table.add_row(
            flag,
            f"{site['site']}/{site['device']}",
            Text(f"{words['not_watched']}: {unwatched}" if unwatched else "", style="yellow"),
        )
    if len(troubled) > MAX_DEVICE_ROWS:
        table.add_row("", Text(words["more"].format(n=len(troubled) - MAX_DEVICE_ROWS)), "")
    fine = len(board.sites) - len(troubled)
    if fine:
        table.add_row("", Text(words["devices_ok"].format(n=fine), style="dim green"), "")
    return table


def render_station(
    board: StationBoard, *, height: int, source: str, clock: str, user: str | None
) -> RenderableType:
    """``user``: who acknowledges from this console (None: read-only)."""
    words = board.words
    head = Text()
    head.append(" SIAGA ", style="bold white on blue")
    head.append(f"  {board.station.get('name', '')}  ", style="bold")
    head.append(f"{source}  ", style="dim")
    head.append(clock, style="dim")
    parts: list[RenderableType] = [head]
    if board.link_lost_since is not None:
        text = words["link_lost"].format(since=board.link_lost_since, why=board.link_why)
        parts.append(Text(f" {text} ", style="bold white on red"))
    elif board.station.get("banner"):
        parts.append(Text(f" {board.station['banner']} ", style="bold white on red"))
    counts = board.counts()
    line = Text()
    line.append(f" {counts['open']} {words['open']} ", style="bold")
    line.append("· ")
    line.append(
        f"{counts['unacked']} {words['unacked']}",
        style="bold white on red" if counts["unacked"] else "green",
    )
    line.append(f" · {counts['pending']} {words['pending']}")
    line.append(f" · {counts['drills']} {words['drills']}", style="magenta")
    parts.append(line)
    devices = devices_table(board)
    notes = list(board.notes)[-3:]
    used = FIXED_ROWS + len(parts) + devices.row_count + len(notes)
    parts.append(alarms_table(board, max(3, height - used)))
    parts.append(devices)
    for when, text in notes:
        parts.append(Text(f"{when} {text}", style="cyan"))
    if board.confirming is not None:
        ask = words["confirm"].format(what=board.describe(board.confirming), who=user)
        parts.append(Text(f" {ask} ", style="bold black on yellow"))
    else:
        parts.append(Text(words["keys"] if user else words["read_only"], style="dim"))
    return Group(*parts)
