"""What the web side needs from the station, as ports: the board pages (issue 13) and
the CAP feed (issue 14) are built on these, never on the service's internals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from edge.station.accounts import Account, Accounts
from edge.station.archive import Archive
from edge.station.board import BoardView
from edge.station.changes import ChangeHub
from edge.station.config import StationConfig
from edge.station.health import StationHealth

AlarmAction = Callable[[str, Account, str], Awaitable[dict[str, Any]]]
"""(alarm_id, operator, note) -> the alarm's view after the action, once committed.
Raises recorder.NotFoundError, alarms.AlarmError or archive.ArchiveDownError."""

AuditWrite = Callable[[str, str, str, str], Awaitable[None]]
"""(actor, action, target, detail) -> None once the audit row is committed: what the
board records besides acks and closes (logins, first views, handover notes)."""

EventQuery = Callable[..., Awaitable[list[dict[str, Any]]]]
"""(site=, device=, since=, until=, limit=) -> archived events, newest first."""


@dataclass(frozen=True)
class CapPorts:
    """The CAP feed's reads (issue 14): documents as bytes, status as JSON-ready data."""

    feed: Callable[[], Awaitable[bytes]]
    """The Atom feed, newest first, bounded by ``[cap] feed_limit``."""
    alert: Callable[[str], Awaitable[bytes | None]]
    """One alert's XML by identifier; None when the station never issued it."""
    status: Callable[[], dict[str, Any]]
    """``{"push": [PushStatus...], "feeds": [FeedStatus...]}`` as last seen."""
    health: Callable[[], dict[str, str]]
    """Partner -> idle | sending | retrying (for ``/healthz``)."""
    atom_type: str = "application/atom+xml"


@dataclass(frozen=True)
class StationPorts:
    config: StationConfig
    board: BoardView
    health: StationHealth
    hub: ChangeHub
    accounts: Accounts
    acknowledge: AlarmAction
    close: AlarmAction
    events: EventQuery
    now: Callable[[], float]
    """The station's wall clock (seconds)."""
    audit: AuditWrite | None = None
    reader: Archive | None = None
    """A read-only archive connection for the web side's own queries (history, reports)."""
    cap: CapPorts | None = None
    extra: dict[str, Any] = field(default_factory=dict)
