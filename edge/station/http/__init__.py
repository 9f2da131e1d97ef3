"""The station's web side: the JSON API now, the board pages and CAP feed on top later."""

from edge.station.http.app import create_app
from edge.station.http.ports import StationPorts

__all__ = ["StationPorts", "create_app"]
