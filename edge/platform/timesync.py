"""Whether the system clock is synchronised: events carry wall-clock ``ts``.

Two readers, first answer wins: systemd-timesyncd's flag file (it touches
``/run/systemd/timesync/synchronized`` on each sync; where timesyncd runs, its absence
means not yet) and the kernel's own word through ``adjtimex(2)`` with no modes (read
only; ``TIME_ERROR`` or ``STA_UNSYNC`` means not synchronised). The daemon's sandbox may
refuse adjtimex (seccomp ``@clock``): then the answer is None, unknown.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

TIMESYNCD = Path("/run/systemd/timesync")
TIME_ERROR = 5
STA_UNSYNC = 0x0040


class _Timex(ctypes.Structure):
    # struct timex (linux/timex.h); the tail is padding the kernel reserves.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("pad", ctypes.c_int * 11),
    ]


def adjtimex_synced() -> bool | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        timex = _Timex()
        state = int(libc.adjtimex(ctypes.byref(timex)))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None  # refused (EPERM in the sandbox): unknown, not unsynchronised
    return state != TIME_ERROR and not timex.status & STA_UNSYNC


def timesyncd_synced(folder: Path = TIMESYNCD) -> bool | None:
    if not folder.is_dir():
        return None  # timesyncd does not run here (chrony, ntpd, none)
    return (folder / "synchronized").exists()


def clock_synced() -> bool | None:
    for reader in (timesyncd_synced, adjtimex_synced):
        answer = reader()
        if answer is not None:
            return answer
    return None
