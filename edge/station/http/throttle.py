"""Repeated wrong passwords are slowed down: pure, times passed in.

After :data:`FREE_FAILURES` wrong passwords for one account name or from one address, the
next attempt for it is refused until ``BASE_S × 2^(failures − FREE)`` seconds (at most
:data:`MAX_S`) after the last failure. A success clears that name's and that address's
record; a record unused for :data:`FORGET_S` is forgotten. Refused attempts are not
checked at all (no argon2 work), so guessing costs the guesser time, not the station CPU.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

FREE_FAILURES = 3
BASE_S = 2.0
MAX_S = 300.0
FORGET_S = 3600.0
MAX_RECORDS = 10_000


@dataclass(slots=True)
class _Record:
    failures: int
    last: float


class LoginThrottle:
    def __init__(self) -> None:
        self._records: dict[str, _Record] = {}

    def wait(self, keys: Iterable[str], now: float) -> float:
        """Seconds until an attempt for these keys is allowed (0: now)."""
        longest = 0.0
        for key in keys:
            rec = self._records.get(key)
            if rec is None or now - rec.last > FORGET_S:
                continue
            longest = max(longest, rec.last + delay(rec.failures) - now)
        return max(longest, 0.0)

    def failed(self, keys: Iterable[str], now: float) -> None:
        for key in keys:
            rec = self._records.get(key)
            if rec is None or now - rec.last > FORGET_S:
                rec = self._records[key] = _Record(0, now)
            rec.failures += 1
            rec.last = now
        if len(self._records) > MAX_RECORDS:
            oldest = sorted(self._records, key=lambda k: self._records[k].last)
            for key in oldest[: len(oldest) - MAX_RECORDS]:
                del self._records[key]

    def succeeded(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._records.pop(key, None)


def delay(failures: int) -> float:
    if failures < FREE_FAILURES:
        return 0.0
    return float(min(BASE_S * 2 ** (failures - FREE_FAILURES), MAX_S))
