"""Push to partners, the pure part: one durable queue per partner, delivered in order,
head of line first; a failure holds the queue and retries with capped exponential
back-off (jitter passed in). At-least-once: an alert whose answer was lost is sent again,
so a partner deduplicates by CAP identifier (also sent as ``Idempotency-Key``).

The station backs :class:`PushStore` with its database; ``push_sqlite`` is a standalone
SQLite one."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol

RETRY_STATUSES = frozenset({401, 403, 404, 408, 425, 429})
"""Answers that a later attempt may not get: a credential or URL being fixed, a partner
asking to slow down. Other 4xx answers refuse this alert for good."""


class Outcome(StrEnum):
    DELIVERED = "delivered"  # 2xx: the partner has it
    RETRY = "retry"  # no answer, 5xx, or a 4xx that may pass later: hold the queue
    REJECTED = "rejected"  # the partner refuses this alert for good: skip it, log it


def classify(status: int | None) -> Outcome:
    """What an HTTP answer means for the queue; ``None``: no answer at all."""
    if status is None:
        return Outcome.RETRY
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if 400 <= status < 500 and status not in RETRY_STATUSES:
        return Outcome.REJECTED
    return Outcome.RETRY


@dataclass(frozen=True, slots=True)
class Backoff:
    first_s: float = 5.0
    max_s: float = 600.0

    def delay(self, failures: int, jitter: float) -> timedelta:
        """Wait after the ``failures``-th failure in a row: doubling from ``first_s``,
        capped at ``max_s``, then spread over its upper half by ``jitter`` in [0, 1) so
        many stations do not retry a recovering partner in step."""
        if failures < 1:
            return timedelta(0)
        if not 0.0 <= jitter < 1.0:
            raise ValueError("jitter is in [0, 1)")
        base = min(self.max_s, self.first_s * 2.0 ** min(failures - 1, 60))
        return timedelta(seconds=base / 2 + base / 2 * jitter)


@dataclass(frozen=True, slots=True)
class QueuedAlert:
    partner: str
    position: int  # order in this partner's queue, increasing
    identifier: str
    body: bytes
    queued_at: datetime


@dataclass(frozen=True, slots=True)
class PartnerState:
    """What a partner's queue remembers between attempts (and restarts)."""

    partner: str
    failures: int = 0  # in a row, since the last delivery
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_delivered_at: datetime | None = None
    last_error: str | None = None
    delivered: int = 0
    rejected: int = 0


def is_due(state: PartnerState, now: datetime) -> bool:
    return state.next_attempt_at is None or state.next_attempt_at <= now


def after_attempt(
    state: PartnerState,
    outcome: Outcome,
    *,
    now: datetime,
    jitter: float,
    backoff: Backoff,
    error: str | None = None,
) -> PartnerState:
    """The state after one attempt at the head of the queue."""
    if outcome is Outcome.DELIVERED:
        return replace(
            state,
            failures=0,
            next_attempt_at=None,
            last_attempt_at=now,
            last_delivered_at=now,
            last_error=None,
            delivered=state.delivered + 1,
        )
    if outcome is Outcome.REJECTED:
        return replace(
            state,
            failures=0,
            next_attempt_at=None,
            last_attempt_at=now,
            last_error=error,
            rejected=state.rejected + 1,
        )
    failures = state.failures + 1
    return replace(
        state,
        failures=failures,
        next_attempt_at=now + backoff.delay(failures, jitter),
        last_attempt_at=now,
        last_error=error,
    )


class PushStore(Protocol):
    """Durable per-partner queues. ``settle`` must be atomic: the head leaves the queue
    and the new state is saved together, or neither."""

    def enqueue(self, partner: str, identifier: str, body: bytes, at: datetime) -> bool:
        """Append unless this partner already has this identifier; True if appended."""
        ...

    def head(self, partner: str) -> QueuedAlert | None:
        """The oldest alert not yet delivered or rejected."""
        ...

    def settle(self, item: QueuedAlert, outcome: Outcome, state: PartnerState) -> None:
        """Record an attempt: DELIVERED/REJECTED take ``item`` off the queue."""
        ...

    def state(self, partner: str) -> PartnerState: ...

    def backlog(self, partner: str) -> tuple[int, datetime | None]:
        """How many wait, and since when the oldest has waited."""
        ...


def enqueue_everywhere(
    store: PushStore, partners: list[str], identifier: str, body: bytes, at: datetime
) -> list[str]:
    """Fan one alert out to every partner queue; the partners it was new for."""
    return [p for p in partners if store.enqueue(p, identifier, body, at)]


@dataclass(frozen=True, slots=True)
class PushStatus:
    """A partner's delivery, as the board shows it."""

    partner: str
    url: str
    state: Literal["idle", "sending", "retrying"]
    queued: int
    oldest_queued_at: datetime | None
    failures: int
    next_attempt_at: datetime | None
    last_delivered_at: datetime | None
    last_error: str | None
    delivered: int
    rejected: int


def status_of(store: PushStore, partner: str, url: str) -> PushStatus:
    state = store.state(partner)
    queued, oldest = store.backlog(partner)
    word: Literal["idle", "sending", "retrying"] = (
        "retrying" if state.failures else "sending" if queued else "idle"
    )
    return PushStatus(
        partner=partner,
        url=url,
        state=word,
        queued=queued,
        oldest_queued_at=oldest,
        failures=state.failures,
        next_attempt_at=state.next_attempt_at if queued else None,
        last_delivered_at=state.last_delivered_at,
        last_error=state.last_error,
        delivered=state.delivered,
        rejected=state.rejected,
    )
