"""The archive: every fact the station heard or did, on SQLite or PostgreSQL, same SQL.

``Archive.write()`` is one transaction (a :class:`Tx`); the ingest commits a batch of
messages in one, and PUBACKs them only after it returns. Reads outside a transaction
serve the API and the export. Any failure of the database itself is raised as
:class:`ArchiveDownError` and the connection is dropped, to be opened again on the next use:
the station shows one banner and retries, never loses what it has not acknowledged.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from edge.station.alarms import AckState, Alarm
from edge.station.archive.dialects import Dialect, dialect_for
from edge.station.archive.schema import LATEST, MIGRATIONS

DEVICE_COLUMNS = (
    "site",
    "device",
    "status",
    "status_at",
    "last_heard",
    "heartbeat",
    "heartbeat_at",
    "interval_s",
    "broker",
    "epoch",
)
EVENT_COLUMNS = (
    "id, site, device, seq, epoch, sensor, state, drill, test, ts, received_at, skew, payload"
)
ALARM_COLUMNS = "alarm_id, site, device, sensor, category, closed, first_at, last_at, data"


CHANNEL = "siaga_station"
"""PostgreSQL LISTEN/NOTIFY channel: what one station committed, for the others."""


class ArchiveDownError(Exception):
    """The database cannot be reached or written: retry later, acknowledge nothing."""


def alarm_to_json(alarm: Alarm) -> str:
    data = asdict(alarm)
    data["ack"] = alarm.ack.value
    data.pop("extra", None)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def alarm_from_json(text: str) -> Alarm:
    data = json.loads(text)
    data["ack"] = AckState(data["ack"])
    data["waiting"] = tuple(data.get("waiting", ()))
    data["pending"] = tuple(tuple(p) for p in data.get("pending", ()))
    return Alarm(**data)


class Tx:
    """One writing transaction. Every method is a statement or two; rules live elsewhere."""

    def __init__(self, dialect: Dialect, cur: Any) -> None:
        self.d = dialect
        self.cur = cur

    def _x(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        self.cur.execute(self.d.sql(sql), args)
        return self.cur

    def run(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        """One statement (``?`` placeholders) for the modules keeping their own tables."""
        return self._x(sql, args)

    def insert_event(self, row: dict[str, Any]) -> bool:
        """True when new; an id already archived is left as it is (de-duplication)."""
        cur = self._x(
            f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO NOTHING",
            _event_args(row),
        )
        return bool(cur.rowcount == 1)

    def insert_events(self, rows: list[dict[str, Any]]) -> set[str]:
        """Many at once: the ids that were new."""
        if not rows:
            return set()
        sql = self.d.sql(
            f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO NOTHING RETURNING id"
        )
        return set(self.d.returning_many(self.cur, sql, [_event_args(r) for r in rows]))

    def lock(self, key: str) -> None:
        self.d.lock(self.cur, key)

    def notify(self, payload: str) -> None:
        self.d.notify(self.cur, CHANNEL, payload)

    def latest_alarm(self, site: str, device: str, sensor: str, cat: str) -> Alarm | None:
        rows = self._x(
            "SELECT data FROM alarms WHERE site = ? AND device = ? AND sensor = ? "
            "AND category = ? ORDER BY closed, first_at DESC LIMIT 1",
            (site, device, sensor, cat),
        ).fetchall()
        return alarm_from_json(rows[0][0]) if rows else None

    def newest_event(
        self, site: str, device: str, sensor: str, drill: bool, test: bool, but: str
    ) -> tuple[str, int, int, str, str, str] | None:
        """(id, epoch, seq, state, ts, payload) of the sensor's newest archived event
        other than ``but``, by (epoch, seq)."""
        rows = self._x(
            "SELECT id, epoch, seq, state, ts, payload FROM events WHERE site = ? "
            "AND device = ? AND sensor = ? AND drill = ? AND test = ? AND id <> ? "
            "ORDER BY epoch DESC, seq DESC LIMIT 1",
            (site, device, sensor, int(drill), int(test), but),
        ).fetchall()
        if not rows:
            return None
        r = rows[0]
        return (str(r[0]), int(r[1]), int(r[2]), str(r[3]), str(r[4]), str(r[5]))

    def alarm(self, alarm_id: str) -> Alarm | None:
        rows = self._x("SELECT data FROM alarms WHERE alarm_id = ?", (alarm_id,)).fetchall()
        return alarm_from_json(rows[0][0]) if rows else None

    def open_alarms_of(self, site: str, device: str) -> list[Alarm]:
        rows = self._x(
            "SELECT data FROM alarms WHERE site = ? AND device = ? AND closed = 0",
            (site, device),
        ).fetchall()
        return [alarm_from_json(r[0]) for r in rows]

    def put_alarm(self, alarm: Alarm) -> None:
        self._x(
            f"INSERT INTO alarms ({ALARM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (alarm_id) DO UPDATE SET closed = excluded.closed, "
            "last_at = excluded.last_at, data = excluded.data",
            (
                alarm.alarm_id,
                alarm.site,
                alarm.device,
                alarm.sensor,
                alarm.category,
                int(alarm.closed),
                alarm.first_at,
                alarm.last_at,
                alarm_to_json(alarm),
            ),
        )

    def put_device(self, row: dict[str, Any]) -> None:
        self._x(
            "INSERT INTO devices (site, device, status, status_at, last_heard, heartbeat, "
            "heartbeat_at, interval_s, broker, epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (site, device) DO UPDATE SET status = excluded.status, "
            "status_at = excluded.status_at, last_heard = excluded.last_heard, "
            "heartbeat = excluded.heartbeat, heartbeat_at = excluded.heartbeat_at, "
            "interval_s = excluded.interval_s, broker = excluded.broker, epoch = excluded.epoch",
            (
                row["site"],
                row["device"],
                row["status"],
                row["status_at"],
                row["last_heard"],
                row["heartbeat"],
                row["heartbeat_at"],
                row["interval_s"],
                row["broker"],
                row["epoch"],
            ),
        )

    def add_status(self, site: str, device: str, state: str, at: str, payload: str) -> None:
        self._x(
            "INSERT INTO statuses (site, device, state, received_at, payload) "
            "VALUES (?, ?, ?, ?, ?)",
            (site, device, state, at, payload),
        )

    def add_receipt(
        self,
        site: str,
        device: str,
        event_id: str,
        by: str,
        accepted: bool,
        reason: str | None,
        at: str,
        payload: str,
    ) -> None:
        self._x(
            "INSERT INTO receipts (site, device, event_id, by_name, accepted, reason, "
            "received_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (site, device, event_id, by, int(accepted), reason, at, payload),
        )

    def add_ack(
        self, alarm_id: str, event_id: str, site: str, device: str, by: str, at: str, payload: str
    ) -> None:
        self._x(
            "INSERT INTO acks (alarm_id, event_id, site, device, by_name, sent_at, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (alarm_id, event_id, site, device, by, at, payload),
        )

    def audit(self, at: str, actor: str, action: str, target: str, detail: str) -> None:
        self._x(
            "INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (at, actor, action, target, detail),
        )

    def add_lost(self, site: str, device: str, lo: int, hi: int, at: str) -> None:
        self._x(
            "INSERT INTO lost (site, device, from_seq, to_seq, at) VALUES (?, ?, ?, ?, ?)",
            (site, device, lo, hi, at),
        )

    def put_user(self, name: str, role: str, hashed: str, at: str) -> bool:
        """True when the account is new."""
        exists = self._x("SELECT 1 FROM users WHERE name = ?", (name,)).fetchall()
        self._x(
            "INSERT INTO users (name, role, hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET role = excluded.role, hash = excluded.hash, "
            "updated_at = excluded.updated_at",
            (name, role, hashed, at, at),
        )
        return not exists

    def prune(self, before: str) -> int:
        """Retention: events received before ``before`` that no open alarm names."""
        cur = self._x(
            "DELETE FROM events WHERE received_at < ? AND id NOT IN "
            "(SELECT alarm_id FROM alarms WHERE closed = 0)",
            (before,),
        )
        removed = int(cur.rowcount)
        self._x("DELETE FROM statuses WHERE received_at < ?", (before,))
        self._x("DELETE FROM receipts WHERE received_at < ?", (before,))
        return removed


class Archive:
    """One connection, used by one thread at a time (``lock``); open another for another
    thread (:meth:`reader`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = dialect_for(url)
        self.backend = self.dialect.name
        self._conn: Any = None
        self._leases: set[str] = set()
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ connection

    def open(self) -> Archive:
        """Connect and bring the schema to the latest version (idempotent)."""
        with self.lock:
            self._connection()
            self._migrate()
        return self

    def reader(self) -> Archive:
        """A second archive on the same database, for another thread (no migrations)."""
        return Archive(self.url)

    def close(self) -> None:
        with self.lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):  # a dead connection: nothing to keep
                    self._conn.close()
                self._conn = None
                self._leases.clear()

    def _connection(self) -> Any:
        if self._conn is None:
            try:
                self._conn = self.dialect.connect()
            except self.dialect.down_errors as exc:
                raise ArchiveDownError(str(exc).strip() or type(exc).__name__) from exc
        return self._conn

    def _migrate(self) -> None:
        d = self.dialect
        conn = self._connection()
        cur = conn.cursor()
        d.migration_lock(cur, True)
        try:
            cur.execute(d.begin())
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            rows = cur.execute("SELECT max(version) FROM schema_version").fetchall()
            current = rows[0][0] or 0
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                for statement in migration.statements + migration.extra.get(d.name, ()):
                    cur.execute(statement.replace("{serial}", d.serial))
                cur.execute(d.sql("INSERT INTO schema_version VALUES (?)"), (migration.version,))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            d.migration_lock(cur, False)

    @property
    def version(self) -> int:
        rows = self._read("SELECT max(version) FROM schema_version")
        return int(rows[0][0] or 0) if rows else 0

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One transaction; commits when the block ends, rolls back on any exception."""
        with self.lock:
            conn = self._connection()
            try:
                cur = conn.cursor()
                cur.execute(self.dialect.begin())
            except self.dialect.down_errors as exc:
                self._drop()
                raise ArchiveDownError(str(exc).strip()) from exc
            try:
                yield Tx(self.dialect, cur)
                cur.execute("COMMIT")
            except self.dialect.down_errors as exc:
                self._drop()
                raise ArchiveDownError(str(exc).strip()) from exc
            except BaseException:
                try:
                    cur.execute("ROLLBACK")
                except self.dialect.down_errors:
                    self._drop()
                raise

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._leases.clear()
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken
                conn.close()

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            conn = self._connection()
            try:
                cur = conn.cursor()
                cur.execute(self.dialect.sql(sql), args)
                return list(cur.fetchall())
            except self.dialect.down_errors as exc:
                self._drop()
                raise ArchiveDownError(str(exc).strip()) from exc

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read (``?`` placeholders), outside any transaction."""
        return self._read(sql, args)

    def lease(self, key: str) -> bool:
        """Whether this connection holds ``key`` (taken now if free): one station at a
        time does a job the stations sharing a database must not do twice."""
        with self.lock:
            if key in self._leases:
                return True
            conn = self._connection()
            try:
                got = self.dialect.try_lease(conn.cursor(), key)
            except self.dialect.down_errors as exc:
                self._drop()
                raise ArchiveDownError(str(exc).strip()) from exc
            if got:
                self._leases.add(key)
            return got

    def ping(self) -> bool:
        try:
            self._read("SELECT 1")
        except ArchiveDownError:
            return False
        return True

    # ------------------------------------------------------------------ reads

    def alarms(self, *, open_only: bool = False, limit: int = 1000) -> list[Alarm]:
        where = "WHERE closed = 0 " if open_only else ""
        rows = self._read(f"SELECT data FROM alarms {where}ORDER BY last_at DESC LIMIT ?", (limit,))
        return [alarm_from_json(r[0]) for r in rows]

    def alarms_by_id(self, ids: list[str]) -> list[Alarm]:
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self._read(f"SELECT data FROM alarms WHERE alarm_id IN ({marks})", tuple(ids))
        return [alarm_from_json(r[0]) for r in rows]

    def devices(self) -> list[dict[str, Any]]:
        rows = self._read(f"SELECT {', '.join(DEVICE_COLUMNS)} FROM devices ORDER BY site, device")
        keys = DEVICE_COLUMNS
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def device_seqs(self, site: str, device: str, epoch: int, limit: int) -> list[int]:
        """The device's highest ``limit`` seqs of this numbering, ascending."""
        rows = self._read(
            "SELECT seq FROM events WHERE site = ? AND device = ? AND epoch = ? "
            "ORDER BY seq DESC LIMIT ?",
            (site, device, epoch, limit),
        )
        return sorted(int(r[0]) for r in rows)

    def status_reasons(self) -> dict[tuple[str, str], str | None]:
        """Each device's last status ``reason`` (None from an older device)."""
        out: dict[tuple[str, str], str | None] = {}
        for site, device, payload in self._read(
            "SELECT site, device, payload FROM statuses WHERE n IN "
            "(SELECT max(n) FROM statuses GROUP BY site, device)"
        ):
            try:
                reason = json.loads(payload).get("reason")
            except (ValueError, AttributeError):
                reason = None
            out[(str(site), str(device))] = reason if isinstance(reason, str) else None
        return out

    def sensor_states(self) -> list[tuple[str, str, str, str, int, int]]:
        """(site, device, sensor, state, epoch, seq) of each sensor's newest real event."""
        return [
            (r[0], r[1], r[2], r[3], int(r[4]), int(r[5]))
            for r in self._read(
                # Ranked by (epoch, seq) as a pair: folding them into one number
                # (epoch * 2**62 + seq) overflowed BIGINT from epoch 2 on.
                "SELECT site, device, sensor, state, epoch, seq FROM (SELECT site, device, "
                "sensor, state, epoch, seq, ROW_NUMBER() OVER (PARTITION BY site, device, "
                "sensor ORDER BY epoch DESC, seq DESC) AS newest FROM events "
                "WHERE drill = 0 AND test = 0) ranked WHERE newest = 1"
            )
        ]

    def events(
        self,
        *,
        site: str | None = None,
        device: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Archived events, newest first, each ``payload`` plus ``received_at``."""
        clauses, args = _filters(site, device, since, until)
        rows = self._read(
            f"SELECT payload, received_at, skew FROM events {clauses} "
            "ORDER BY received_at DESC, seq DESC LIMIT ?",
            (*args, limit),
        )
        return [_event_out(r) for r in rows]

    def export(self, since: str | None = None, batch: int = 5000) -> Iterator[dict[str, Any]]:
        """Every archived event ordered by site, device, seq (each id once: the key)."""
        last: tuple[str, str, int, str] | None = None
        base = "SELECT payload, received_at, NULL, site, device, seq, id FROM events"
        while True:
            clauses, args = _filters(None, None, since, None)
            if last is not None:
                clauses += (
                    " AND " if clauses else "WHERE "
                ) + "(site, device, seq, id) > (?, ?, ?, ?)"
                args = (*args, *last)
            rows = self._read(
                f"{base} {clauses} ORDER BY site, device, seq, id LIMIT ?", (*args, batch)
            )
            for row in rows:
                yield _event_out(row)
            if len(rows) < batch:
                return
            last = (rows[-1][3], rows[-1][4], int(rows[-1][5]), rows[-1][6])

    def count_events(self) -> int:
        return int(self._read("SELECT count(*) FROM events")[0][0])

    def event_ids(self) -> list[str]:
        return [r[0] for r in self._read("SELECT id FROM events")]

    def user(self, name: str) -> tuple[str, str] | None:
        """(role, hash) of an account."""
        rows = self._read("SELECT role, hash FROM users WHERE name = ?", (name,))
        return (rows[0][0], rows[0][1]) if rows else None

    def audit_rows(self) -> list[tuple[str, str, str, str, str]]:
        return [
            (r[0], r[1], r[2], r[3], r[4])
            for r in self._read("SELECT at, actor, action, target, detail FROM audit ORDER BY n")
        ]

    def table(self, name: str) -> list[tuple[Any, ...]]:
        """Every row of one table (tests and tools)."""
        assert name.isidentifier()
        return self._read(f"SELECT * FROM {name}")


def _event_args(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["id"],
        row["site"],
        row["device"],
        row["seq"],
        row["epoch"],
        row["sensor"],
        row["state"],
        int(row["drill"]),
        int(row["test"]),
        row["ts"],
        row["received_at"],
        row["skew"],
        row["payload"],
    )


def _filters(
    site: str | None, device: str | None, since: str | None, until: str | None
) -> tuple[str, tuple[Any, ...]]:
    parts, args = [], []
    for column, op, value in (
        ("site", "=", site),
        ("device", "=", device),
        ("received_at", ">=", since),
        ("received_at", "<", until),
    ):
        if value is not None:
            parts.append(f"{column} {op} ?")
            args.append(value)
    return ("WHERE " + " AND ".join(parts) if parts else ""), tuple(args)


def _event_out(row: tuple[Any, ...]) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(row[0])
    event["received_at"] = row[1]
    if row[2] is not None:
        event["skew"] = row[2]
    return event


__all__ = ["LATEST", "Archive", "ArchiveDownError", "Tx", "alarm_from_json", "alarm_to_json"]
