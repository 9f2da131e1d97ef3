"""Whether a hardware watchdog is armed: the only thing that reboots a hung kernel.

systemd arms it (``RuntimeWatchdogSec=`` in system.conf); the Pi's BCM2835 watchdog tops
out at about 15 s, and a longer setting leaves it unarmed with only a journal line to
say so. The kernel tells the truth in sysfs: ``/sys/class/watchdog/watchdogN/state``
(``active``/``inactive``) and ``timeout`` (seconds), readable without privilege.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Read = Callable[[Path], str | None]


@dataclass(frozen=True, slots=True)
class WatchdogState:
    armed: bool | None
    """None: the kernel did not say (no sysfs state to read)."""
    device: str | None = None
    timeout_s: float | None = None
    identity: str | None = None

    def problem(self) -> str | None:
        """The warning's detail when none is armed; None when one is or nothing is known."""
        if self.armed is not False:
            return None
        if self.device is None:
            return "no hardware watchdog device: a hung kernel is never rebooted"
        return (
            f"{self.device} is not armed: set RuntimeWatchdogSec=15s (deploy kit); "
            "a hung kernel is never rebooted"
        )


def read_watchdogs(root: Path, read: Read) -> WatchdogState:
    """The first armed watchdog under ``root`` (``/sys/class/watchdog``), else the first."""
    try:
        devices = sorted(p for p in root.iterdir() if p.name.startswith("watchdog"))
    except OSError:
        devices = []
    if not devices:
        return WatchdogState(armed=False if root.exists() else None)
    seen: list[WatchdogState] = []
    for dev in devices:
        state = read(dev / "state")
        timeout = read(dev / "timeout")
        identity = read(dev / "identity")
        try:
            seconds = float(timeout) if timeout is not None else None
        except ValueError:
            seconds = None
        armed = None if state is None else state.strip() == "active"
        seen.append(WatchdogState(armed, dev.name, seconds, identity.strip() if identity else None))
    for found in seen:
        if found.armed:
            return found
    known = [s for s in seen if s.armed is not None]
    return known[0] if known else seen[0]
