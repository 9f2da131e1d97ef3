"""Log lines that stay informative through months: a recurring failure is news once."""

from __future__ import annotations

from structlog.testing import capture_logs

from edge import logs


def test_a_failure_that_recurs_is_logged_once_then_counted_then_its_end() -> None:
    now = [0.0]
    streak = logs.Streak(logs.get("test"), "checkpoint_failed", every_s=600.0, clock=lambda: now[0])
    with capture_logs() as lines:
        for _ in range(300):  # 5 minutes of one attempt a second
            streak.failed(error="database or disk is full")
            now[0] += 1.0
        now[0] = 601.0
        streak.failed(error="database or disk is full")
        streak.ok()
        streak.ok()
    assert [(e["event"], e.get("failures"), e.get("not_logged")) for e in lines] == [
        ("checkpoint_failed", 1, 0),
        ("checkpoint_failed", 301, 299),
        ("checkpoint_recovered", 301, None),
    ]
