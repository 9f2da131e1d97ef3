"""Under-voltage and throttling, from the firmware's flags.

``get_throttled`` (vcgencmd's word, in sysfs as hex): bits 0-3 are now (under-voltage,
ARM frequency capped, throttled, soft temperature limit), bits 16-19 the same "has
occurred since boot". The mainline ``raspberrypi-hwmon`` device says only the first, as
``in0_lcrit_alarm``. Under-voltage is the commonest Pi fault in the field: a weak supply
or a long thin cable corrupts SD cards and resets the board under load.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.detect.types import Reason, State

UNDER_VOLTAGE, FREQ_CAPPED, THROTTLED, SOFT_TEMP_LIMIT = 1 << 0, 1 << 1, 1 << 2, 1 << 3
SINCE_BOOT = 16
CLEAR_AFTER_S = 10.0  # under-voltage gone this long before it is called over (it flickers)
WORDS = {
    UNDER_VOLTAGE: "under-voltage",
    FREQ_CAPPED: "ARM frequency capped",
    THROTTLED: "throttled",
    SOFT_TEMP_LIMIT: "soft temperature limit",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One ``_device`` event to publish: its state, reason and detail."""

    state: State
    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True)
class Throttled:
    raw: int

    @classmethod
    def parse(cls, text: str) -> Throttled | None:
        """``50005`` or ``0x50005`` (sysfs writes hex without the prefix); None if not."""
        try:
            return cls(int(text.strip(), 16))
        except ValueError:
            return None

    @property
    def under_voltage(self) -> bool:
        return bool(self.raw & UNDER_VOLTAGE)

    @property
    def throttling(self) -> bool:
        """Slowed down now, whatever the cause."""
        return bool(self.raw & (FREQ_CAPPED | THROTTLED | SOFT_TEMP_LIMIT))

    def now(self) -> list[str]:
        return [word for bit, word in WORDS.items() if self.raw & bit]

    def since_boot(self) -> list[str]:
        return [word for bit, word in WORDS.items() if self.raw & (bit << SINCE_BOOT)]

    @property
    def hex(self) -> str:
        return f"0x{self.raw:x}"


class PowerWatch:
    """Under-voltage now is a fault at once and over after :data:`CLEAR_AFTER_S` without
    it; what happened since boot is told once, at the first reading."""

    def __init__(self, clear_after_s: float = CLEAR_AFTER_S) -> None:
        self.clear_after_s = clear_after_s
        self.last: Throttled | None = None
        self.faulted = False
        self._seen = False
        self._ok_since: float | None = None

    def observe(self, now: float, flags: Throttled | None) -> list[Finding]:
        self.last = flags
        if flags is None:
            return []  # not a Pi, or no firmware interface: nothing to say
        found: list[Finding] = []
        if not self._seen:
            self._seen = True
            past = flags.since_boot()
            if past and not flags.under_voltage:
                found.append(Finding(State.WARNING, Reason.POWER, f"since boot: {', '.join(past)}"))
        if flags.under_voltage:
            self._ok_since = None
            if not self.faulted:
                self.faulted = True
                found.append(
                    Finding(State.FAULT, Reason.POWER, f"{', '.join(flags.now())} ({flags.hex})")
                )
        elif self.faulted:
            self._ok_since = now if self._ok_since is None else self._ok_since
            if now - self._ok_since >= self.clear_after_s:
                self.faulted, self._ok_since = False, None
                found.append(Finding(State.NORMAL, Reason.POWER, "supply voltage back to normal"))
        return found
