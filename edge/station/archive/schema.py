"""The archive's schema, one migration per version, the same on SQLite and PostgreSQL.

Portable SQL throughout (TEXT timestamps in ISO 8601 UTC with milliseconds and ``Z``,
which sort as they read; booleans as 0/1 INTEGER); only the auto-numbered key and the
trigger that keeps the audit append-only differ, as ``{serial}`` and per-dialect extras.
Never edit a released migration: add the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    statements: tuple[str, ...]
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Dialect name -> statements only it runs (after the common ones)."""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        (
            """CREATE TABLE events (
                id TEXT PRIMARY KEY,
                site TEXT NOT NULL,
                device TEXT NOT NULL,
                seq BIGINT NOT NULL,
                epoch INTEGER NOT NULL DEFAULT 0,
                sensor TEXT NOT NULL,
                state TEXT NOT NULL,
                drill INTEGER NOT NULL,
                test INTEGER NOT NULL,
                ts TEXT NOT NULL,
                received_at TEXT NOT NULL,
                skew TEXT,
                payload TEXT NOT NULL)""",
            "CREATE INDEX events_by_device ON events (site, device, seq)",
            "CREATE INDEX events_by_received ON events (received_at)",
            """CREATE TABLE statuses (
                n {serial},
                site TEXT NOT NULL,
                device TEXT NOT NULL,
                state TEXT NOT NULL,
                received_at TEXT NOT NULL,
                payload TEXT NOT NULL)""",
            "CREATE INDEX statuses_by_device ON statuses (site, device, n)",
            """CREATE TABLE devices (
                site TEXT NOT NULL,
                device TEXT NOT NULL,
                status TEXT,
                status_at TEXT,
                last_heard TEXT,
                heartbeat TEXT,
                heartbeat_at TEXT,
                interval_s DOUBLE PRECISION,
                broker TEXT,
                epoch INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (site, device))""",
            """CREATE TABLE alarms (
                alarm_id TEXT PRIMARY KEY,
                site TEXT NOT NULL,
                device TEXT NOT NULL,
                sensor TEXT NOT NULL,
                category TEXT NOT NULL,
                closed INTEGER NOT NULL,
                first_at TEXT NOT NULL,
                last_at TEXT NOT NULL,
                data TEXT NOT NULL)""",
            "CREATE INDEX alarms_by_sensor ON alarms (site, device, sensor, category, first_at)",
            "CREATE INDEX alarms_open ON alarms (closed, last_at)",
            """CREATE TABLE acks (
                n {serial},
                alarm_id TEXT NOT NULL,
                event_id TEXT NOT NULL,
                site TEXT NOT NULL,
                device TEXT NOT NULL,
                by_name TEXT NOT NULL,
                sent_at TEXT NOT NULL,
                payload TEXT NOT NULL)""",
            """CREATE TABLE receipts (
                n {serial},
                site TEXT NOT NULL,
                device TEXT NOT NULL,
                event_id TEXT NOT NULL,
                by_name TEXT NOT NULL,
                accepted INTEGER NOT NULL,
                reason TEXT,
                received_at TEXT NOT NULL,
                payload TEXT NOT NULL)""",
            """CREATE TABLE audit (
                n {serial},
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT NOT NULL,
                detail TEXT NOT NULL)""",
            """CREATE TABLE lost (
                n {serial},
                site TEXT NOT NULL,
                device TEXT NOT NULL,
                from_seq BIGINT NOT NULL,
                to_seq BIGINT NOT NULL,
                at TEXT NOT NULL)""",
            """CREATE TABLE users (
                name TEXT PRIMARY KEY,
                role TEXT NOT NULL,
                hash TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL)""",
        ),
        {
            "sqlite": (
                """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
                   BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END""",
                """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
                   BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END""",
            ),
            "postgresql": (
                """CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
                   $$ BEGIN RAISE EXCEPTION 'the audit is append-only'; END $$""",
                """CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
                   FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
            ),
        },
    ),
)

MIGRATIONS += (
    Migration(
        2,
        (
            # Station-wide settings every station on the database shares (the key that
            # signs the board's session cookies, so any of them accepts a login).
            "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE INDEX audit_by_target ON audit (target, n)",
            "CREATE INDEX audit_by_at ON audit (at)",
        ),
    ),
)

CAP = Migration(
    3,
    (
        # Every CAP alert the station issued, as served and pushed (the chain's memory).
        """CREATE TABLE cap_alerts (
            identifier TEXT PRIMARY KEY,
            alarm_id TEXT NOT NULL,
            n INTEGER NOT NULL,
            sent TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            msg_type TEXT NOT NULL,
            expires_at TEXT,
            xml TEXT NOT NULL,
            UNIQUE (alarm_id, n))""",
        "CREATE INDEX cap_alerts_by_sent ON cap_alerts (sent_at)",
        # Each partner's push queue, in order; a settled row stays as the delivery record.
        """CREATE TABLE cap_push_queue (
            position {serial},
            partner TEXT NOT NULL,
            identifier TEXT NOT NULL,
            body TEXT NOT NULL,
            queued_at TEXT NOT NULL,
            settled_at TEXT,
            outcome TEXT,
            UNIQUE (partner, identifier))""",
        "CREATE INDEX cap_push_pending ON cap_push_queue (partner, settled_at, position)",
        """CREATE TABLE cap_push_state (
            partner TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            next_attempt_at TEXT,
            last_attempt_at TEXT,
            last_delivered_at TEXT,
            last_error TEXT,
            delivered BIGINT NOT NULL,
            rejected BIGINT NOT NULL)""",
    ),
)

MIGRATIONS = (*MIGRATIONS, CAP)

LATEST = MIGRATIONS[-1].version
