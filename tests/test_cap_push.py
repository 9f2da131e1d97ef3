"""Push to partners: a durable queue per partner, in order, retried with capped back-off;
every alert arrives in order after the partner recovers or comes back."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cap_http import Receiver

from edge.cap.config import PushTarget
from edge.cap.push import (
    Backoff,
    Outcome,
    PartnerState,
    after_attempt,
    classify,
    enqueue_everywhere,
    is_due,
    status_of,
)
from edge.cap.push_http import HttpSender, PartnerPusher, PushWorker, redact_url
from edge.cap.push_sqlite import SqlitePushStore

T = datetime(2025, 3, 11, 2, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlitePushStore]:
    db = SqlitePushStore(tmp_path / "push.sqlite3")
    yield db
    db.close()


def _target(url: str = "http://partner.test/cap", **fields: Any) -> PushTarget:
    return PushTarget.model_validate({"name": "bpbd", "url": url, **fields})


# --- the pure state machine ------------------------------------------------------------


def test_back_off_doubles_from_the_first_wait_and_is_capped() -> None:
    backoff = Backoff(first_s=5, max_s=60)
    full = [backoff.delay(n, jitter=0.999999).total_seconds() for n in range(1, 7)]
    assert [round(s) for s in full] == [5, 10, 20, 40, 60, 60]


def test_jitter_spreads_each_wait_over_its_upper_half() -> None:
    backoff = Backoff(first_s=8, max_s=600)
    assert backoff.delay(2, jitter=0.0) == timedelta(seconds=8)
    assert backoff.delay(2, jitter=0.5) == timedelta(seconds=12)
    with pytest.raises(ValueError, match="jitter"):
        backoff.delay(2, jitter=1.0)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (None, Outcome.RETRY),
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
        (429, Outcome.RETRY),
        (401, Outcome.RETRY),
        (404, Outcome.RETRY),
        (400, Outcome.REJECTED),
        (422, Outcome.REJECTED),
    ],
)
def test_an_answer_delivers_retries_or_rejects(status: int | None, outcome: Outcome) -> None:
    assert classify(status) is outcome


def test_a_failure_holds_the_queue_until_the_back_off_has_passed() -> None:
    state = after_attempt(
        PartnerState("p"), Outcome.RETRY, now=T, jitter=0.0, backoff=Backoff(10, 600), error="x"
    )
    assert (state.failures, state.next_attempt_at, state.last_error) == (
        1,
        T + timedelta(seconds=5),
        "x",
    )
    assert not is_due(state, T + timedelta(seconds=4))
    assert is_due(state, T + timedelta(seconds=5))


def test_a_delivery_clears_the_failures_and_counts() -> None:
    failing = PartnerState("p", failures=3, next_attempt_at=T, last_error="HTTP 503")
    state = after_attempt(failing, Outcome.DELIVERED, now=T, jitter=0.3, backoff=Backoff())
    assert (state.failures, state.next_attempt_at, state.last_error, state.delivered) == (
        0,
        None,
        None,
        1,
    )
    assert state.last_delivered_at == T


# --- the SQLite store ------------------------------------------------------------------


def test_a_partner_gets_each_alert_once_in_the_order_queued(store: SqlitePushStore) -> None:
    assert enqueue_everywhere(store, ["a", "b"], "id-1", b"<1/>", T) == ["a", "b"]
    assert enqueue_everywhere(store, ["a", "b"], "id-1", b"<1/>", T) == []
    store.enqueue("a", "id-2", b"<2/>", T + timedelta(seconds=1))
    head = store.head("a")
    assert head is not None and (head.identifier, head.body) == ("id-1", b"<1/>")
    assert store.backlog("a") == (2, T)
    store.settle(head, Outcome.DELIVERED, PartnerState("a", delivered=1, last_attempt_at=T))
    nxt = store.head("a")
    assert nxt is not None and nxt.identifier == "id-2"
    assert store.backlog("b") == (1, T)


def test_a_retry_keeps_the_head_and_saves_the_state(store: SqlitePushStore) -> None:
    store.enqueue("a", "id-1", b"<1/>", T)
    head = store.head("a")
    assert head is not None
    state = PartnerState("a", failures=2, next_attempt_at=T, last_error="HTTP 503")
    store.settle(head, Outcome.RETRY, state)
    assert store.head("a") == head
    assert store.state("a") == state


def test_the_queue_and_its_state_survive_a_restart(tmp_path: Path) -> None:
    first = SqlitePushStore(tmp_path / "q.sqlite3")
    first.enqueue("a", "id-1", b"<1/>", T)
    head = first.head("a")
    assert head is not None
    first.settle(head, Outcome.RETRY, PartnerState("a", failures=1, next_attempt_at=T))
    first.close()
    again = SqlitePushStore(tmp_path / "q.sqlite3")
    try:
        assert again.head("a") == head
        assert again.state("a").failures == 1
    finally:
        again.close()


# --- the sender, with an injected transport --------------------------------------------


class Partner:
    """An httpx MockTransport answering from a script of statuses (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def _pusher(store: SqlitePushStore, partner: Partner, **fields: Any) -> PartnerPusher:
    target = _target(**fields)
    return PartnerPusher(target.key, HttpSender(target, partner.client()), store, Backoff(10, 600))


def test_a_refused_alert_is_retried_first_before_any_later_one(store: SqlitePushStore) -> None:
    partner = Partner([503])
    pusher = _pusher(store, partner)
    for n in (1, 2):
        store.enqueue("bpbd", f"id-{n}", f"<{n}/>".encode(), T)
    assert pusher.pump(T, jitter=0.0) == T + timedelta(seconds=5)
    assert pusher.pump(T + timedelta(seconds=4), jitter=0.0) == T + timedelta(seconds=5)
    assert len(partner.requests) == 1  # not due yet: nothing sent
    later = T + timedelta(seconds=5)
    assert pusher.pump(later, jitter=0.0) == later
    assert pusher.pump(later, jitter=0.0) == later
    assert pusher.pump(later, jitter=0.0) is None
    assert [r.content for r in partner.requests] == [b"<1/>", b"<1/>", b"<2/>"]


def test_an_alert_the_partner_rejects_for_good_is_skipped_and_counted(
    store: SqlitePushStore,
) -> None:
    partner = Partner([400])
    pusher = _pusher(store, partner)
    for n in (1, 2):
        store.enqueue("bpbd", f"id-{n}", f"<{n}/>".encode(), T)
    pusher.pump(T, 0.0)
    pusher.pump(T, 0.0)
    status = status_of(store, "bpbd", "http://partner.test/cap")
    assert (status.state, status.queued, status.delivered, status.rejected) == ("idle", 0, 1, 1)
    assert status.last_error is None


def test_each_post_carries_the_cap_type_and_the_identifier_as_idempotency_key(
    store: SqlitePushStore,
) -> None:
    partner = Partner()
    store.enqueue("bpbd", "id-1", b"<alert/>", T)
    _pusher(store, partner).pump(T, 0.0)
    (request,) = partner.requests
    assert request.method == "POST" and request.content == b"<alert/>"
    assert request.headers["content-type"] == "application/cap+xml"
    assert request.headers["idempotency-key"] == "id-1"
    assert "authorization" not in request.headers


def test_basic_auth_reads_the_password_from_its_file(
    store: SqlitePushStore, tmp_path: Path
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("rahasia\n")
    partner = Partner()
    store.enqueue("bpbd", "id-1", b"<alert/>", T)
    _pusher(store, partner, auth="basic", username="siaga", password_file=secret).pump(T, 0.0)
    expected = "Basic " + base64.b64encode(b"siaga:rahasia").decode()
    assert partner.requests[0].headers["authorization"] == expected


def test_a_bearer_token_is_read_from_its_file_at_every_attempt(
    store: SqlitePushStore, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("tok-1\n")
    partner = Partner()
    pusher = _pusher(store, partner, auth="bearer", token_file=token)
    store.enqueue("bpbd", "id-1", b"<1/>", T)
    pusher.pump(T, 0.0)
    token.write_text("tok-2\n")
    store.enqueue("bpbd", "id-2", b"<2/>", T)
    pusher.pump(T, 0.0)
    assert [r.headers["authorization"] for r in partner.requests] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]


def test_an_unreadable_token_file_is_a_retry_that_names_no_secret(
    store: SqlitePushStore, tmp_path: Path
) -> None:
    partner = Partner()
    pusher = _pusher(store, partner, auth="bearer", token_file=tmp_path / "missing")
    store.enqueue("bpbd", "id-1", b"<1/>", T)
    pusher.pump(T, 0.0)
    status = status_of(store, "bpbd", "http://partner.test/cap")
    assert (status.state, status.failures, partner.requests) == ("retrying", 1, [])
    assert status.last_error is not None and "secret file" in status.last_error


def test_no_answer_at_all_is_a_retry(store: SqlitePushStore) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    target = _target()
    client = httpx.Client(transport=httpx.MockTransport(refuse))
    pusher = PartnerPusher("bpbd", HttpSender(target, client), store, Backoff(10, 600))
    store.enqueue("bpbd", "id-1", b"<1/>", T)
    pusher.pump(T, 0.0)
    status = status_of(store, "bpbd", target.url)
    assert status.state == "retrying" and "ConnectError" in (status.last_error or "")
    assert status.next_attempt_at == T + timedelta(seconds=5)


def test_the_board_never_sees_credentials_in_a_url() -> None:
    assert redact_url("https://user:pw@partner.test:8443/cap") == "https://partner.test:8443/cap"
    assert redact_url("https://partner.test/cap") == "https://partner.test/cap"


# --- against a real partner that fails, recovers and is restarted ----------------------


def _wait(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def _alert(n: int) -> tuple[str, bytes]:
    return f"siaga.a.{n}", f"<alert n='{n}'/>".encode()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    partner = Receiver().start()
    yield partner
    partner.stop()


def _worker(store: SqlitePushStore, receiver: Receiver) -> PushWorker:
    target = _target(receiver.url, backoff_s=0.05, backoff_max_s=0.2, timeout_s=2)
    return PushWorker(store, [target], client=httpx.Client())


def test_a_partner_that_fails_recovers_and_is_restarted_gets_every_alert_in_order_once(
    store: SqlitePushStore, receiver: Receiver
) -> None:
    worker = _worker(store, receiver)
    worker.start()
    try:
        receiver.refuse = 3  # the partner answers 503 three times, then recovers
        for n in range(1, 6):
            worker.submit(*_alert(n), at=T)
        receiver.wait_for(accepted=5, refused=3)
        receiver.stop()  # the partner goes away ...
        for n in range(6, 9):
            worker.submit(*_alert(n), at=T)
        _wait(lambda: worker.statuses()[0].failures >= 2)
        assert worker.statuses()[0].state == "retrying"
        receiver.start()  # ... and comes back on the same port
        receiver.wait_for(accepted=8)
        _wait(lambda: worker.statuses()[0].state == "idle")
    finally:
        worker.stop()
    bodies = [body for body, _ in receiver.accepted]
    assert bodies == [_alert(n)[1] for n in range(1, 9)]
    keys = [headers["Idempotency-Key"] for _, headers in receiver.accepted]
    assert keys == [_alert(n)[0] for n in range(1, 9)]
    status = worker.statuses()[0]
    assert (status.queued, status.delivered, status.failures) == (0, 8, 0)


def test_alerts_queued_before_a_station_restart_are_delivered_after_it(
    tmp_path: Path, receiver: Receiver
) -> None:
    path = tmp_path / "station.sqlite3"
    before = SqlitePushStore(path)
    receiver.stop()
    worker = _worker(before, receiver)
    worker.start()
    for n in (1, 2, 3):
        worker.submit(*_alert(n), at=T)
    _wait(lambda: worker.statuses()[0].failures >= 1)
    worker.stop()
    before.close()
    receiver.start()
    after = SqlitePushStore(path)
    worker = _worker(after, receiver)
    worker.start()
    try:
        receiver.wait_for(accepted=3)
        _wait(lambda: worker.statuses()[0].state == "idle")
    finally:
        worker.stop()
        after.close()
    assert [body for body, _ in receiver.accepted] == [_alert(n)[1] for n in (1, 2, 3)]


def test_one_partner_down_never_delays_another(store: SqlitePushStore, receiver: Receiver) -> None:
    hanging = threading.Event()

    def stall(request: httpx.Request) -> httpx.Response:
        hanging.wait(10)
        raise httpx.ReadTimeout("timed out", request=request)

    slow = PushTarget.model_validate({"name": "slow", "url": "http://slow.test/cap"})
    fast = _target(receiver.url)
    worker = PushWorker(
        store,
        [slow, fast],
        client=httpx.Client(
            transport=httpx.MockTransport(
                lambda r: stall(r) if r.url.host == "slow.test" else _forward(r)
            )
        ),
    )
    worker.start()
    try:
        worker.submit(*_alert(1), at=T)
        receiver.wait_for(accepted=1)
        assert worker.statuses()[0].queued == 1
    finally:
        hanging.set()
        worker.stop()


def _forward(request: httpx.Request) -> httpx.Response:
    """Hands the fast partner's request on to the real receiver."""
    with httpx.Client() as client:
        return client.post(str(request.url), content=request.content, headers=request.headers)
