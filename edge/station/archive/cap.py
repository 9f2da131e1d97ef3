"""The archive's CAP tables: the alerts the station issued (``cap_alerts``) and the
partners' push queues (``cap_push_queue``, ``cap_push_state``), over the same dialect
layer as the rest, so SQLite and PostgreSQL run one implementation.

An alert and its queue entries are written in the transaction that changed the alarm
(:func:`add_alert`, :func:`enqueue`), so an alert exists exactly when its alarm change
does, and is queued for every partner exactly once. :class:`ArchivePushStore` is the
:class:`~edge.cap.push.PushStore` the push worker pumps, on a connection of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime

from edge.cap.push import Outcome, PartnerState, QueuedAlert
from edge.clock import iso_ms
from edge.station.archive.store import Archive, Tx

LEASE = "cap-push/{partner}"
"""Several stations on one PostgreSQL: one at a time pumps a partner's queue."""


def _utc(at: datetime) -> str:
    """Sortable text (ISO 8601 UTC, milliseconds, ``Z``), as every other archive time."""
    return iso_ms(at.timestamp())


def _iso(at: datetime | None) -> str | None:
    return None if at is None else _utc(at)


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---------------------------------------------------------------------- alerts


def alerts_of(tx: Tx, alarm_id: str) -> list[str]:
    """The XML of every alert issued for the alarm, oldest first (read under its lock)."""
    rows = tx.run(
        "SELECT xml FROM cap_alerts WHERE alarm_id = ? ORDER BY n", (alarm_id,)
    ).fetchall()
    return [r[0] for r in rows]


def chain_of(tx: Tx, alarm_id: str) -> tuple[int, list[str]]:
    """How many alerts the alarm has, and the XML of its current chain (its last Alert
    and what followed), oldest first: what an Update or Cancel continues, read in
    constant time however often the alarm has come and gone."""
    rows = tx.run(
        "SELECT n, xml FROM cap_alerts WHERE alarm_id = ? AND n >= (SELECT "
        "coalesce(max(n), 0) FROM cap_alerts WHERE alarm_id = ? AND msg_type = 'Alert') "
        "ORDER BY n",
        (alarm_id, alarm_id),
    ).fetchall()
    return (int(rows[-1][0]) if rows else 0), [r[1] for r in rows]


def add_alert(
    tx: Tx,
    *,
    identifier: str,
    alarm_id: str,
    n: int,
    sent: str,
    sent_at: datetime,
    msg_type: str,
    expires_at: datetime | None,
    xml: str,
) -> bool:
    """True when new: an identifier already stored (another station's) is left alone."""
    cur = tx.run(
        "INSERT INTO cap_alerts (identifier, alarm_id, n, sent, sent_at, msg_type, "
        "expires_at, xml) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (identifier, alarm_id, n, sent, _utc(sent_at), msg_type, _iso(expires_at), xml),
    )
    return int(cur.rowcount) == 1


def enqueue(tx: Tx, partner: str, identifier: str, body: str, at: datetime) -> bool:
    cur = tx.run(
        "INSERT INTO cap_push_queue (partner, identifier, body, queued_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (partner, identifier) DO NOTHING",
        (partner, identifier, body, _utc(at)),
    )
    return int(cur.rowcount) == 1


def refresh_candidates(archive: Archive, before: datetime) -> list[str]:
    """Open alarms whose newest alert is not a Cancel and expires before ``before``."""
    rows = archive.query(
        "SELECT c.alarm_id FROM cap_alerts c "
        "JOIN (SELECT alarm_id, max(n) AS n FROM cap_alerts GROUP BY alarm_id) m "
        "ON c.alarm_id = m.alarm_id AND c.n = m.n "
        "JOIN alarms a ON a.alarm_id = c.alarm_id "
        "WHERE a.closed = 0 AND c.msg_type <> 'Cancel' AND c.expires_at <= ? "
        "ORDER BY c.alarm_id",
        (_utc(before),),
    )
    return [r[0] for r in rows]


def alert_xml(archive: Archive, identifier: str) -> str | None:
    rows = archive.query("SELECT xml FROM cap_alerts WHERE identifier = ?", (identifier,))
    return rows[0][0] if rows else None


def newest_alerts(archive: Archive, limit: int) -> list[str]:
    rows = archive.query(
        "SELECT xml FROM cap_alerts ORDER BY sent_at DESC, alarm_id DESC, n DESC LIMIT ?",
        (limit,),
    )
    return [r[0] for r in rows]


def event_payload(tx: Tx, event_id: str) -> str | None:
    rows = tx.run("SELECT payload FROM events WHERE id = ?", (event_id,)).fetchall()
    return rows[0][0] if rows else None


# ---------------------------------------------------------------------- push queue


class ArchivePushStore:
    """The push queues in the station's database (``PushStore``). One connection of its
    own, shared by the partners' pump threads behind the archive's lock."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def close(self) -> None:
        self.archive.close()

    def enqueue(self, partner: str, identifier: str, body: bytes, at: datetime) -> bool:
        with self.archive.write() as tx:
            return enqueue(tx, partner, identifier, body.decode("utf-8"), at)

    def head(self, partner: str) -> QueuedAlert | None:
        """None as well while another station sharing the database pumps this partner."""
        if not self.archive.lease(LEASE.format(partner=partner)):
            return None
        rows = self.archive.query(
            "SELECT position, identifier, body, queued_at FROM cap_push_queue "
            "WHERE partner = ? AND settled_at IS NULL ORDER BY position LIMIT 1",
            (partner,),
        )
        if not rows:
            return None
        position, identifier, body, queued_at = rows[0]
        at = _at(queued_at) or datetime.now(UTC)
        return QueuedAlert(partner, int(position), identifier, str(body).encode("utf-8"), at)

    def settle(self, item: QueuedAlert, outcome: Outcome, state: PartnerState) -> None:
        with self.archive.write() as tx:
            if outcome is not Outcome.RETRY:
                tx.run(
                    "UPDATE cap_push_queue SET settled_at = ?, outcome = ? "
                    "WHERE position = ? AND partner = ?",
                    (_iso(state.last_attempt_at), str(outcome), item.position, item.partner),
                )
            tx.run(
                "INSERT INTO cap_push_state (partner, failures, next_attempt_at, "
                "last_attempt_at, last_delivered_at, last_error, delivered, rejected) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (partner) DO UPDATE SET "
                "failures = excluded.failures, next_attempt_at = excluded.next_attempt_at, "
                "last_attempt_at = excluded.last_attempt_at, "
                "last_delivered_at = excluded.last_delivered_at, "
                "last_error = excluded.last_error, delivered = excluded.delivered, "
                "rejected = excluded.rejected",
                (
                    state.partner,
                    state.failures,
                    _iso(state.next_attempt_at),
                    _iso(state.last_attempt_at),
                    _iso(state.last_delivered_at),
                    state.last_error,
                    state.delivered,
                    state.rejected,
                ),
            )

    def state(self, partner: str) -> PartnerState:
        rows = self.archive.query(
            "SELECT failures, next_attempt_at, last_attempt_at, last_delivered_at, "
            "last_error, delivered, rejected FROM cap_push_state WHERE partner = ?",
            (partner,),
        )
        if not rows:
            return PartnerState(partner)
        row = rows[0]
        return PartnerState(
            partner=partner,
            failures=int(row[0]),
            next_attempt_at=_at(row[1]),
            last_attempt_at=_at(row[2]),
            last_delivered_at=_at(row[3]),
            last_error=row[4],
            delivered=int(row[5]),
            rejected=int(row[6]),
        )

    def backlog(self, partner: str) -> tuple[int, datetime | None]:
        rows = self.archive.query(
            "SELECT count(*), min(queued_at) FROM cap_push_queue "
            "WHERE partner = ? AND settled_at IS NULL",
            (partner,),
        )
        return int(rows[0][0]), _at(rows[0][1])

    def delivered(self, partner: str) -> list[str]:
        """Identifiers delivered to the partner, in queue order (tests and tools)."""
        rows = self.archive.query(
            "SELECT identifier FROM cap_push_queue WHERE partner = ? AND outcome = ? "
            "ORDER BY position",
            (partner, str(Outcome.DELIVERED)),
        )
        return [r[0] for r in rows]
