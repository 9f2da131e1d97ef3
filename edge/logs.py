"""structlog set-up: JSON lines under systemd (journald), readable key=value on a terminal.

Every line is an ``event`` plus key=value fields. Secrets never reach a log call: the
password is read from its file straight into paho and never bound to a logger.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, Literal


def _import_structlog_without_rich() -> None:
    """structlog, imported with rich hidden from it.

    structlog loads rich (when installed) just for pretty tracebacks on a terminal; the
    daemon never shows one and rich with pygments costs it ~4 MB of its memory budget.
    Only structlog's own import is affected: the tools that draw with rich import it
    normally afterwards.
    """
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]


_import_structlog_without_rich()
import structlog  # noqa: E402  (loaded just above; this binds it, typed)

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure(
    level: str = "info", fmt: Literal["auto", "json", "console"] = "auto", stream: Any = None
) -> None:
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if use_json:
        processors += [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ]
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=out.isatty()))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


def get(component: str) -> Any:
    """A lazy logger: modules create it at import, before ``configure`` has run."""
    return structlog.get_logger(component=component)


class Streak:
    """A failure that recurs every second while a disk is full is news once, not 5 lines
    a second into a journal on the same card: the first failure is logged, then at most
    one line every ``every_s`` counting the ones not logged, and the end of the streak."""

    def __init__(
        self,
        logger: Any,
        event: str,
        *,
        level: str = "error",
        every_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.event = event
        self.level = level
        self.every_s = every_s
        self.clock = clock
        self.failures = 0
        self._logged_at: float | None = None
        self._unlogged = 0

    def failed(self, **fields: Any) -> None:
        self.failures += 1
        now = self.clock()
        if self._logged_at is not None and now - self._logged_at < self.every_s:
            self._unlogged += 1
            return
        getattr(self.logger, self.level)(
            self.event, failures=self.failures, not_logged=self._unlogged, **fields
        )
        self._logged_at, self._unlogged = now, 0

    def ok(self) -> None:
        if self.failures:
            self.logger.info(
                f"{self.event.removesuffix('_failed')}_recovered", failures=self.failures
            )
        self.failures, self._logged_at, self._unlogged = 0, None, 0
