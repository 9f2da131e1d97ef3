"""What a page gets: alarm rows (the alarm view plus its queue order, place, site name)
and the sites list, from the station's board; and the live feed's presenter."""

from __future__ import annotations

from typing import Any

from edge.station.http.ports import StationPorts
from edge.station.web.feed import Presenter
from edge.station.web.order import hazard_class, needs_ack_since, panel, place_of, queue_key


def alarm_row(ports: StationPorts, view: dict[str, Any]) -> dict[str, Any]:
    info = ports.config.site(str(view["site"]))
    row = dict(view)
    row["site_name"] = (info.name if info is not None else "") or view["site"]
    configured = info.places.get(str(view["sensor"])) if info is not None else None
    row["place"] = place_of(view, configured)
    row["order"] = queue_key(view)
    row["panel"] = panel(view)
    row["needs_ack_since"] = needs_ack_since(view)
    row["hazard_class"] = hazard_class(view)
    return row


def site_rows(ports: StationPorts) -> list[dict[str, Any]]:
    rows = ports.board.site_views(ports.now())
    for row in rows:
        info = ports.config.site(row["site"])
        row["name"] = (info.name if info is not None else "") or row["site"]
    return rows


def snapshot(ports: StationPorts) -> dict[str, Any]:
    now = ports.now()
    return {
        "now": now,
        "station": ports.config.station.name,
        "alarms": [alarm_row(ports, v) for v in ports.board.alarms(now, open_only=True)],
        "sites": site_rows(ports),
        "health": ports.health.view(),
    }


def presenter(ports: StationPorts) -> Presenter:
    def present(change: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        kind = change.get("kind")
        if kind == "alarm":
            return "alarm", alarm_row(ports, change["alarm"])
        if kind == "sites":
            return "sites", {"sites": site_rows(ports)}
        if kind == "health":
            return "health", dict(change["health"])
        return None

    return present
