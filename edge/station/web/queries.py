"""What the board's pages read from the archive (history, timelines, audit, drills), and
the station-wide key that signs session cookies. Reads only, except the key's first
creation; every write of the board goes through the service's worker (``ports.audit``).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from edge.config import DEVICE_SENSOR
from edge.station.alarms import Alarm
from edge.station.archive import Archive
from edge.station.archive.store import alarm_from_json
from edge.station.config import HttpConfig

FAR_FUTURE = "9999-12-31T00:00:00.000Z"
SCAN_BATCH = 2000


def session_secret(http: HttpConfig, archive: Archive) -> bytes:
    """``http.secret_file`` when set, else the one kept in the database (made once, the
    same for every station sharing it, so a restart logs nobody out)."""
    if http.secret_file is not None:
        key = http.secret_file.read_bytes().strip()
        if len(key) < 32:
            raise ValueError(f"{http.secret_file}: the key needs at least 32 bytes")
        return key
    with archive.write() as tx:
        tx.cur.execute(
            tx.d.sql(
                "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
            ),
            ("session_secret", secrets.token_hex(32)),
        )
        tx.cur.execute(tx.d.sql("SELECT value FROM settings WHERE name = ?"), ("session_secret",))
        return str(tx.cur.fetchall()[0][0]).encode()


@dataclass(frozen=True, slots=True)
class Search:
    """History filters; None: any."""

    site: str | None = None
    device: str | None = None
    sensor: str | None = None
    hazard: str | None = None
    state: str | None = None
    drill: bool | None = None
    since: str | None = None
    until: str | None = None
    limit: int = 500


def _audit_row(row: tuple[Any, ...]) -> dict[str, Any]:
    try:
        detail: Any = json.loads(row[4])
    except ValueError:
        detail = row[4]
    if not isinstance(detail, dict):
        detail = {"text": detail}
    return {"at": row[0], "actor": row[1], "action": row[2], "target": row[3], "detail": detail}


class BoardQueries:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    # ------------------------------------------------------------------ audit

    def audit_of(self, target: str) -> list[dict[str, Any]]:
        rows = self.archive.query(
            "SELECT at, actor, action, target, detail FROM audit WHERE target = ? ORDER BY n",
            (target,),
        )
        return [_audit_row(r) for r in rows]

    def audit_between(
        self, since: str, until: str, actions: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        which = f" AND action IN ({', '.join('?' for _ in actions)})" if actions else ""
        rows = self.archive.query(
            "SELECT at, actor, action, target, detail FROM audit "
            f"WHERE at >= ? AND at < ?{which} ORDER BY n",
            (since, until, *actions),
        )
        return [_audit_row(r) for r in rows]

    # ------------------------------------------------------------------ one alarm

    def alarm(self, alarm_id: str) -> Alarm | None:
        found = self.archive.alarms_by_id([alarm_id])
        return found[0] if found else None

    def episode(self, alarm: Alarm) -> list[dict[str, Any]]:
        """The events of the alarm's episode, oldest first, each payload + received_at."""
        rows = self.archive.query(
            "SELECT payload, received_at FROM events WHERE site = ? AND device = ? "
            "AND sensor = ? AND drill = ? AND test = ? AND received_at >= ? "
            "AND received_at <= ? ORDER BY received_at, seq LIMIT 5000",
            (
                alarm.site,
                alarm.device,
                alarm.sensor,
                int(alarm.drill),
                int(alarm.test),
                alarm.first_at,
                alarm.closed_at or FAR_FUTURE,
            ),
        )
        return [{**json.loads(r[0]), "received_at": r[1]} for r in rows]

    def acks_of(self, alarm_id: str) -> list[dict[str, Any]]:
        rows = self.archive.query(
            "SELECT event_id, by_name, sent_at FROM acks WHERE alarm_id = ? ORDER BY n",
            (alarm_id,),
        )
        return [{"event_id": r[0], "by": r[1], "at": r[2]} for r in rows]

    def receipts_of(self, site: str, device: str, event_ids: list[str]) -> list[dict[str, Any]]:
        if not event_ids:
            return []
        marks = ", ".join("?" for _ in event_ids)
        rows = self.archive.query(
            "SELECT event_id, by_name, accepted, reason, received_at FROM receipts "
            f"WHERE site = ? AND device = ? AND event_id IN ({marks}) ORDER BY n",
            (site, device, *event_ids),
        )
        return [
            {"event_id": r[0], "by": r[1], "accepted": bool(r[2]), "reason": r[3], "at": r[4]}
            for r in rows
        ]

    # ------------------------------------------------------------------ history

    def search_events(self, q: Search) -> list[dict[str, Any]]:
        """Archived events, newest first; hazard is matched in the payload."""
        clauses, args = _where(q, "received_at")
        for column, value in (("sensor", q.sensor), ("state", q.state)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if q.drill is not None:
            clauses.append("drill = ?")
            args.append(int(q.drill))
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        out: list[dict[str, Any]] = []
        offset = 0
        while len(out) < q.limit:
            rows = self.archive.query(
                f"SELECT payload, received_at FROM events {where} "
                "ORDER BY received_at DESC, seq DESC LIMIT ? OFFSET ?",
                (*args, SCAN_BATCH, offset),
            )
            for payload, received_at in rows:
                event = {**json.loads(payload), "received_at": received_at}
                if q.hazard is None or event.get("hazard") == q.hazard:
                    out.append(event)
            if len(rows) < SCAN_BATCH or q.hazard is None:
                break
            offset += SCAN_BATCH
        return out[: q.limit]

    def search_alarms(self, q: Search, *, closed_only: bool = False) -> list[Alarm]:
        clauses, args = _where(q, "first_at")
        if q.sensor is not None:
            clauses.append("sensor = ?")
            args.append(q.sensor)
        if closed_only:
            clauses.append("closed = 1")
        if q.drill is not None:
            clauses.append("category = 'real'" if not q.drill else "category <> 'real'")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self.archive.query(
            f"SELECT data FROM alarms {where} ORDER BY first_at DESC LIMIT ?",
            (*args, q.limit * 4 if (q.hazard or q.state) else q.limit),
        )
        found = [alarm_from_json(r[0]) for r in rows]
        found = [
            a
            for a in found
            if (q.hazard is None or a.hazard == q.hazard)
            and (q.state is None or a.state == q.state)
        ]
        return found[: q.limit]

    def alarms_in(self, since: str, until: str) -> list[Alarm]:
        """Every alarm open at some moment of [since, until)."""
        rows = self.archive.query(
            "SELECT data FROM alarms WHERE first_at < ? AND (closed = 0 OR last_at >= ?)",
            (until, since),
        )
        closed_then = [r["target"] for r in self.audit_between(since, until, ("close",))]
        by_id = {a.alarm_id: a for a in (alarm_from_json(r[0]) for r in rows)}
        for alarm in self.archive.alarms_by_id(closed_then):
            by_id[alarm.alarm_id] = alarm
        return sorted(
            (a for a in by_id.values() if not a.closed or (a.closed_at or "") >= since),
            key=lambda a: a.first_at,
        )

    # ------------------------------------------------------------------ drills

    def drill_markers(self) -> list[dict[str, Any]]:
        """Every drill start and end marker (``_device`` events flagged drill), oldest first."""
        rows = self.archive.query(
            "SELECT payload, received_at, epoch FROM events WHERE sensor = ? AND drill = 1 "
            "ORDER BY received_at, seq",
            (DEVICE_SENSOR,),
        )
        markers = []
        for payload, received_at, epoch in rows:
            event = json.loads(payload)
            if event.get("reason") == "drill":
                markers.append({**event, "received_at": received_at, "epoch": epoch})
        return markers

    def drill_alarms(self, site: str, device: str, since: str, until: str) -> list[Alarm]:
        rows = self.archive.query(
            "SELECT data FROM alarms WHERE site = ? AND device = ? AND category = 'drill' "
            "AND first_at >= ? AND first_at <= ? ORDER BY first_at",
            (site, device, since, until),
        )
        return [alarm_from_json(r[0]) for r in rows]


def _where(q: Search, time_column: str) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, op, value in (
        ("site", "=", q.site),
        ("device", "=", q.device),
        (time_column, ">=", q.since),
        (time_column, "<", q.until),
    ):
        if value is not None:
            clauses.append(f"{column} {op} ?")
            args.append(value)
    return clauses, args
