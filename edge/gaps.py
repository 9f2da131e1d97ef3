"""Per-device ``seq`` accounting, sans I/O: what is missing, when to ask, when to give up.

Shared by the terminal console's board and the station. Both feed it every seq they hear
and every heartbeat's ``last_seq - outbox_depth``, and call :func:`due` as time passes
(``now`` passed in, never read): it answers with the ranges to ask for on ``resend`` and
the ranges the device can no longer fill (LOST, reported once).

Rules:

- The first seq (or delivered mark) heard sets the baseline: history before it is not
  asked for, unless a saved watermark says where the listener left off.
- Any seq missing above the watermark, up to the highest heard or the device's delivered
  mark, is a gap; a gap still open after :data:`GAP_GRACE_S` is asked for, again after
  :data:`RESEND_RETRY_S` doubling up to :data:`RESEND_MAX_S`.
- A gap asked for :data:`GIVE_UP_REQUESTS` times, with a heartbeat heard after the first
  request (the device is there and has had the requests), is lost: accounted for, never
  asked for again.
- A store that started over numbers from a lower seq again: :meth:`SeqLedger.start_over`
  forgets the old numbering's accounting and counts an ``epoch``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from edge.payloads import MAX_RESEND_SPAN

GAP_GRACE_S = 2.0
RESEND_RETRY_S = 15.0
RESEND_MAX_S = 300.0
MAX_GAP_RANGES = 20
GIVE_UP_REQUESTS = 4

Span = tuple[int, int]


@dataclass(slots=True, kw_only=True)
class SeqLedger:
    """One device's seq accounting (inclusive ranges throughout)."""

    watermark: int | None = None
    """Every seq up to here is accounted for (received, or before the baseline)."""
    received: set[int] = field(default_factory=set)
    """Seqs received above the watermark."""
    high_seq: int = 0
    delivered_seq: int = 0
    """What the last heartbeat says the device has delivered: last_seq - outbox_depth."""
    gap_since: float | None = None
    first_request: float | None = None
    last_request: float | None = None
    requests: int = 0
    resends_asked: int = 0
    lost: int = 0
    """Seqs given up on: asked for and never sent, so no longer on the device."""
    epoch: int = 0
    """How many times this device's numbering started over."""

    def missing(self) -> list[Span]:
        """Missing seq ranges, lowest first.

        Walks what was received, never the range itself: one forged or far-ahead seq must
        not cost a loop over every number below it."""
        if self.watermark is None:
            return []
        top = max(self.high_seq, self.delivered_seq)
        out: list[Span] = []
        lo = self.watermark + 1
        for seq in sorted(self.received):
            if seq > lo:
                out.append((lo, seq - 1))
            lo = seq + 1
        if lo <= top:
            out.append((lo, top))
        return out

    def copy(self) -> SeqLedger:
        """A copy to go back to (a transaction that failed noted nothing)."""
        return replace(self, received=set(self.received))

    def start_over(self, seq: int) -> None:
        """The device numbers from ``seq`` again: forget the old numbering's accounting."""
        self.epoch += 1
        self.watermark = seq - 1
        self.received.clear()
        self.high_seq = self.delivered_seq = 0
        self.gap_since = self.first_request = self.last_request = None
        self.requests = 0

    def give_up(self, ranges: list[Span]) -> None:
        """Count these seqs as lost: accounted for, never asked for again."""
        for lo, hi in ranges:
            self.lost += hi - lo + 1
            if self.watermark is not None and lo == self.watermark + 1:
                self.watermark = hi
            else:
                self.received.update(range(lo, hi + 1))
        assert self.watermark is not None
        self._advance()

    def note_seq(self, seq: int) -> None:
        if self.watermark is None:
            self.watermark = seq - 1
        self.high_seq = max(self.high_seq, seq)
        if seq > self.watermark:
            self.received.add(seq)
        self._advance()

    def note_delivered(self, last_seq: int, outbox_depth: int) -> bool:
        """A heartbeat's counters; True when they show the numbering started over."""
        delivered = max(0, last_seq - outbox_depth)
        started_over = last_seq < self.high_seq
        if started_over:
            self.start_over(delivered + 1)
        if self.watermark is None:
            self.watermark = delivered
        self.delivered_seq = max(self.delivered_seq, delivered)
        return started_over

    def _advance(self) -> None:
        assert self.watermark is not None
        while self.watermark + 1 in self.received:
            self.watermark += 1
            self.received.discard(self.watermark)


@dataclass(frozen=True, slots=True)
class GapVerdict:
    ask: list[Span] = field(default_factory=list)
    """Ranges to publish on ``resend`` now (each at most MAX_RESEND_SPAN long)."""
    lost: list[Span] = field(default_factory=list)
    """Ranges given up on just now: tell the operator (and the archive) once."""


def due(ledger: SeqLedger, now: float, heard_since: float | None) -> GapVerdict:
    """What to do about this device's gaps at ``now``; ``heard_since``: when its last
    heartbeat was heard (None: never), to know it has had the requests."""
    missing = ledger.missing()
    lost: list[Span] = []
    if (
        missing
        and ledger.requests >= GIVE_UP_REQUESTS
        and ledger.first_request is not None
        and heard_since is not None
        and heard_since > ledger.first_request
    ):
        ledger.give_up(missing)
        lost, missing = missing, []
    if not missing:
        ledger.gap_since = ledger.first_request = ledger.last_request = None
        ledger.requests = 0
        return GapVerdict(lost=lost)
    if ledger.gap_since is None:
        ledger.gap_since = now
    if now - ledger.gap_since < GAP_GRACE_S:
        return GapVerdict()
    if ledger.last_request is not None:
        wait = min(RESEND_RETRY_S * 2 ** (ledger.requests - 1), RESEND_MAX_S)
        if now - ledger.last_request < wait:
            return GapVerdict()
    ledger.last_request = now
    if ledger.first_request is None:
        ledger.first_request = now
    ledger.requests += 1
    ask: list[Span] = []
    for span in spans(missing):
        if len(ask) == MAX_GAP_RANGES:
            break
        ask.append(span)
    ledger.resends_asked += len(ask)
    return GapVerdict(ask=ask)


def spans(ranges: Iterable[Span]) -> Iterator[Span]:
    """Split ranges so none is longer than the device will answer in one resend (lazily:
    a gap of a billion seqs is a billion / MAX_RESEND_SPAN spans, of which few are asked)."""
    for first, last in ranges:
        lo = first
        while lo <= last:
            top = min(last, lo + MAX_RESEND_SPAN - 1)
            yield lo, top
            lo = top + 1
