"""A small ``sd_notify`` client: tell systemd we are ready, alive, reloading or stopping.

Follows the protocol of sd_notify(3): each notification is one datagram of newline-separated
``VARIABLE=value`` assignments, sent on an ``AF_UNIX`` ``SOCK_DGRAM`` socket to the address in
``$NOTIFY_SOCKET`` (a file-system path, or ``@name`` for the abstract namespace). systemd
learns who sent it from the kernel's socket credentials, so ``NotifyAccess=main`` accepts
only datagrams from the daemon's own process.

Without ``$NOTIFY_SOCKET`` (not started by systemd, or by a ``Type=`` that does not listen)
every call is a no-op that returns ``False``. With it set, a datagram that cannot be sent
raises :class:`NotifyError` instead of being swallowed: a watchdog ping that silently fails
ends in systemd killing the daemon, and the log should say why beforehand.

We do not use the PyPI ``sdnotify`` package: it swallows send errors and ignores
``$WATCHDOG_USEC``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping

import structlog

__all__ = [
    "Notifier",
    "NotifyError",
    "notify",
    "ready",
    "reloading",
    "status",
    "stopping",
    "watchdog",
    "watchdog_interval",
]

SEND_TIMEOUT_S = 2.0  # a stuck service manager must not stall the daemon's loop for long


class NotifyError(OSError):
    """A notification could not be delivered to ``$NOTIFY_SOCKET``."""


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _address(raw: str) -> str | bytes:
    """``/path`` stays a path; ``@name`` becomes the abstract address ``\\0name``."""
    if raw.startswith("/"):
        return raw
    if raw.startswith("@") and len(raw) > 1:
        return b"\0" + raw[1:].encode()
    raise NotifyError(f"NOTIFY_SOCKET={raw!r}: not a path or an @abstract socket address")


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``message`` (``"READY=1"``, or several assignments joined by newlines) verbatim.

    Returns ``False`` when ``$NOTIFY_SOCKET`` is unset or empty (nothing to tell), ``True``
    once the datagram is sent. Raises :class:`NotifyError` when it cannot be sent.
    """
    raw = _environ(environ).get("NOTIFY_SOCKET", "")
    if not raw:
        return False
    address = _address(raw)
    data = message.encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.settimeout(SEND_TIMEOUT_S)
            sock.connect(address)
            sent = sock.send(data)
    except OSError as exc:
        reason = f"sd_notify to {raw!r} failed: {exc.strerror or exc or type(exc).__name__}"
        if exc.errno is None:
            raise NotifyError(reason) from exc
        raise NotifyError(exc.errno, reason) from exc
    if sent != len(data):  # a datagram goes whole or not at all; be sure
        raise NotifyError(f"sd_notify to {raw!r}: sent {sent} of {len(data)} bytes")
    return True


def _one_line(text: str) -> str:
    # A newline would start another assignment: STATUS must stay one line.
    return " ".join(text.splitlines())


def ready(status_text: str | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """``READY=1``: start-up finished (``Type=notify`` waits for this), optionally with STATUS."""
    message = "READY=1"
    if status_text is not None:
        message += "\nSTATUS=" + _one_line(status_text)
    return notify(message, environ)


def watchdog(environ: Mapping[str, str] | None = None) -> bool:
    """``WATCHDOG=1``: alive; must come at least every ``WatchdogSec`` (send at half of it)."""
    return notify("WATCHDOG=1", environ)


def status(text: str, environ: Mapping[str, str] | None = None) -> bool:
    """``STATUS=...``: one line shown by ``systemctl status``."""
    return notify("STATUS=" + _one_line(text), environ)


def stopping(environ: Mapping[str, str] | None = None) -> bool:
    """``STOPPING=1``: shutting down cleanly, do not mistake the silence for a hang."""
    return notify("STOPPING=1", environ)


def reloading(environ: Mapping[str, str] | None = None) -> bool:
    """``RELOADING=1``: re-reading the config; send :func:`ready` again when done.

    ``MONOTONIC_USEC`` is included as ``Type=notify-reload`` (systemd 253+) requires; older
    systemd ignores it.
    """
    now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify(f"RELOADING=1\nMONOTONIC_USEC={now_usec}", environ)


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """The watchdog timeout systemd enforces on us, in seconds, or ``None`` if there is none.

    From ``$WATCHDOG_USEC``, as ``sd_watchdog_enabled(3)``: when ``$WATCHDOG_PID`` is set it
    must be our own PID, else the watchdog is meant for another process and this is ``None``.
    Ping at half the returned interval or more often. Raises ``ValueError`` on a malformed
    value (systemd never sets one; someone's hand-made environment did).
    """
    env = _environ(environ)
    raw_usec = env.get("WATCHDOG_USEC", "")
    if not raw_usec:
        return None
    raw_pid = env.get("WATCHDOG_PID", "")
    if raw_pid:
        try:
            pid = int(raw_pid)
        except ValueError:
            raise ValueError(f"WATCHDOG_PID={raw_pid!r} is not a process id") from None
        if pid <= 0:
            raise ValueError(f"WATCHDOG_PID={raw_pid!r} is not a process id")
        if pid != os.getpid():
            return None
    try:
        usec = int(raw_usec)
    except ValueError:
        raise ValueError(f"WATCHDOG_USEC={raw_usec!r} is not a number of microseconds") from None
    if usec <= 0:
        raise ValueError(f"WATCHDOG_USEC={raw_usec!r} must be positive")
    return usec / 1_000_000


class Notifier:
    """The daemon's view of the protocol: a failure is logged with its reason, never raised.

    A failed notification must be visible but must not take the alerting loop down with
    it; a watchdog ping that keeps failing ends in a restart by systemd, as intended.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = environ
        self.errors = 0

    def _guard(self, call: str, send: Callable[[], bool]) -> bool:
        try:
            return send()
        except (NotifyError, ValueError) as exc:
            self.errors += 1
            structlog.get_logger().error("sd_notify_failed", call=call, error=str(exc))
            return False

    def ready(self) -> bool:
        return self._guard("ready", lambda: ready(environ=self.environ))

    def watchdog(self) -> bool:
        return self._guard("watchdog", lambda: watchdog(self.environ))

    def status(self, text: str) -> bool:
        return self._guard("status", lambda: status(text, self.environ))

    def stopping(self) -> bool:
        return self._guard("stopping", lambda: stopping(self.environ))

    def reloading(self) -> bool:
        return self._guard("reloading", lambda: reloading(self.environ))

    def watchdog_interval(self) -> float | None:
        result: list[float | None] = [None]

        def read() -> bool:
            result[0] = watchdog_interval(self.environ)
            return True

        self._guard("watchdog_interval", read)
        return result[0]
