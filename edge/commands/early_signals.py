"""Signals that arrive while the daemon is still starting are kept, not fatal.

Python's default for SIGHUP is to end the process, and importing and opening everything
takes a few hundred milliseconds on a Pi: a reload asked for in that window would kill
the daemon. The command line calls :func:`hold` before it imports the daemon; the daemon
takes over the signals once it can act on them and replays what :func:`held` kept.
"""

from __future__ import annotations

import signal
from types import FrameType

_HELD: list[int] = []
_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)


def _keep(signum: int, _frame: FrameType | None) -> None:
    _HELD.append(signum)


def hold() -> None:
    for signum in _SIGNALS:
        signal.signal(signum, _keep)


def held() -> list[int]:
    """The signals kept so far, in order, each once; the list is then empty."""
    out = list(dict.fromkeys(_HELD))
    _HELD.clear()
    return out
