"""Push to partners, the shell: an httpx POST of each queued alert and one thread per
partner pumping its queue. All decisions are in ``push``; this moves bytes and time."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

from edge import logs
from edge.cap.config import PushTarget
from edge.cap.push import (
    Backoff,
    Outcome,
    PushStatus,
    PushStore,
    QueuedAlert,
    after_attempt,
    classify,
    enqueue_everywhere,
    is_due,
    status_of,
)

log = logs.get("cap.push")
MAX_WAIT_S = 60.0  # a sleeping pump looks again at least this often (a clock set back)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def redact_url(url: str) -> str:
    """The URL without any user:password part, for logs and the board."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class HttpSender:
    """POSTs one alert to one partner and says what came of it; never raises. Secrets are
    read from their files at every attempt (a rotated token needs no restart)."""

    def __init__(self, target: PushTarget, client: httpx.Client) -> None:
        self.target = target
        self.client = client

    def _credentials(self) -> tuple[dict[str, str], httpx.BasicAuth | None]:
        t = self.target
        if t.auth == "bearer" and t.token_file is not None:
            token = t.token_file.read_text(encoding="utf-8").strip()
            return {"Authorization": f"Bearer {token}"}, None
        if t.auth == "basic" and t.password_file is not None and t.username is not None:
            password = t.password_file.read_text(encoding="utf-8").rstrip("\r\n")
            return {}, httpx.BasicAuth(t.username, password)
        return {}, None

    def post(self, item: QueuedAlert) -> tuple[Outcome, str | None]:
        try:
            headers, auth = self._credentials()
        except OSError as exc:
            return Outcome.RETRY, f"cannot read the secret file: {exc.strerror or exc}"
        headers |= {"Content-Type": self.target.content_type, "Idempotency-Key": item.identifier}
        try:
            response = self.client.post(
                self.target.url,
                content=item.body,
                headers=headers,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                timeout=self.target.timeout_s,
            )
        except httpx.HTTPError as exc:
            return Outcome.RETRY, f"{type(exc).__name__}: {exc}"[:300]
        outcome = classify(response.status_code)
        return outcome, None if outcome is Outcome.DELIVERED else f"HTTP {response.status_code}"


class PartnerPusher:
    """One partner's queue: attempt its head when due, record what came of it."""

    def __init__(self, key: str, sender: HttpSender, store: PushStore, backoff: Backoff) -> None:
        self.key, self.sender, self.store, self.backoff = key, sender, store, backoff

    def pump(self, now: datetime, jitter: float) -> datetime | None:
        """One step. Returns when to call again: ``now`` (more may be queued), the time
        of the next retry, or None (the queue is empty: wait for an enqueue)."""
        state = self.store.state(self.key)
        if not is_due(state, now):
            return state.next_attempt_at
        item = self.store.head(self.key)
        if item is None:
            return None
        outcome, error = self.sender.post(item)
        new = after_attempt(
            state, outcome, now=now, jitter=jitter, backoff=self.backoff, error=error
        )
        self.store.settle(item, outcome, new)
        fields = {"partner": self.key, "identifier": item.identifier}
        if outcome is Outcome.DELIVERED:
            log.info("cap_push_delivered", **fields, after_failures=state.failures)
            return now
        if outcome is Outcome.REJECTED:
            log.error("cap_push_rejected", **fields, error=error)
            return now
        retry_in = (new.next_attempt_at - now).total_seconds() if new.next_attempt_at else 0
        log.warning(
            "cap_push_failed", **fields, failures=new.failures, error=error, retry_in_s=retry_in
        )
        return new.next_attempt_at


class PushWorker:
    """Every ``[[cap.push]]`` partner's pump on its own thread, so a partner that hangs
    until its timeout never delays another. ``submit`` queues an alert for all and wakes
    them; ``statuses`` is what the board shows."""

    def __init__(
        self,
        store: PushStore,
        targets: Sequence[PushTarget],
        *,
        client: httpx.Client | None = None,
        clock: Clock = utc_now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.store, self.targets = store, list(targets)
        self._own_client = client is None
        self.client = client or httpx.Client(follow_redirects=False)
        self.clock, self.jitter = clock, jitter
        self._stop = threading.Event()
        self._wake = {t.key: threading.Event() for t in self.targets}
        self._threads: list[threading.Thread] = []
        self.pushers = [
            PartnerPusher(
                t.key, HttpSender(t, self.client), store, Backoff(t.backoff_s, t.backoff_max_s)
            )
            for t in self.targets
        ]

    def submit(self, identifier: str, body: bytes, at: datetime) -> list[str]:
        """Queue one alert (its XML) for every partner, durably, then wake the pumps."""
        added = enqueue_everywhere(self.store, [t.key for t in self.targets], identifier, body, at)
        for key in added:
            self._wake[key].set()
        return added

    def wake(self) -> None:
        """Look at every queue now: alerts were queued elsewhere (in the transaction
        that issued them, or by another station sharing the database)."""
        for event in self._wake.values():
            event.set()

    def statuses(self) -> list[PushStatus]:
        return [status_of(self.store, t.key, redact_url(t.url)) for t in self.targets]

    def start(self) -> None:
        for pusher in self.pushers:
            thread = threading.Thread(
                target=self._run, args=(pusher,), name=f"cap-push-{pusher.key}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop after the attempts in flight (each bounded by its timeout)."""
        self._stop.set()
        for event in self._wake.values():
            event.set()
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads.clear()
        if self._own_client:
            self.client.close()

    def _run(self, pusher: PartnerPusher) -> None:
        wake = self._wake[pusher.key]
        while not self._stop.is_set():
            wake.clear()  # before the pump: a submit during it is not missed
            now = self.clock()
            try:
                again = pusher.pump(now, self.jitter())
            except Exception as exc:  # a store failure must not kill the thread
                log.error("cap_push_pump_failed", partner=pusher.key, error=str(exc))
                again = None
            if again is not None and again <= now:
                continue
            wait = MAX_WAIT_S if again is None else (again - now).total_seconds()
            wake.wait(max(0.0, min(wait, MAX_WAIT_S)))
