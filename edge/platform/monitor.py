"""The Pi's five checks as ``_device`` findings and heartbeat facts, over ``now``.

- **storage** (fault, at start): the store's mount is RAM or read-only, unless
  ``storage.allow_volatile``. A fault: the delivery promise itself is broken.
- **watchdog** (warning, at start): no hardware watchdog is armed. A warning, not a
  fault: alarms still go out; only the recovery from a hung kernel is missing.
- **clock** (warning at start, normal when it syncs): events' ``ts`` may be wrong; their
  ``seq`` order and the station's own receive time are not. A warning for that reason.
- **power** (fault while under-voltage, normal after; warning once for "since boot").
- throttling and CPU temperature: heartbeat only.

The watchdog and the clock are judged (made events) only where the probe says the host
is the installed system (``judge_host``: run by systemd); a technician's manual run or a
test on a laptop reports them in the heartbeat only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from edge import logs
from edge.config import SiagaConfig
from edge.detect.types import Reason, State
from edge.platform import timesync
from edge.platform.mounts import Durability, durability, parse_mountinfo
from edge.platform.power import Finding, PowerWatch, Throttled
from edge.platform.watchdog import Read, WatchdogState, read_watchdogs

log = logs.get("platform")

CLOCK_POLL_S = 30.0
HWMON_NAME = "rpi_volt"
MOUNTINFO = Path("/proc/self/mountinfo")


def read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Probe:
    """The readers: what tests replace (a fake sysfs tree, a fixed mountinfo)."""

    read: Read = read_text
    mountinfo: Callable[[], str | None] = field(default=lambda: read_text(MOUNTINFO))
    clock_synced: Callable[[], bool | None] = timesync.clock_synced
    judge_host: bool = False

    @classmethod
    def system(cls, environ: Mapping[str, str] = os.environ) -> Probe:
        """The real readers; the host judged when systemd runs us (it sets INVOCATION_ID)."""
        return cls(judge_host="INVOCATION_ID" in environ)


@dataclass(frozen=True, slots=True)
class PlatformFacts:
    """For the heartbeat: None wherever the platform did not say."""

    storage_durable: bool | None = None
    storage_fs: str | None = None
    watchdog_armed: bool | None = None
    watchdog_timeout_s: float | None = None
    clock_synced: bool | None = None
    under_voltage: bool | None = None
    throttled: bool | None = None
    throttled_flags: str | None = None
    cpu_temp_c: float | None = None


class PlatformMonitor:
    def __init__(self, config: SiagaConfig, probe: Probe, now: float) -> None:
        self.config = config
        self.probe = probe
        self.power = PowerWatch()
        self.storage: Durability | None = None
        self.watchdog: WatchdogState | None = None
        self.synced: bool | None = None
        self._clock_warned = False
        self._started = False
        self._power_at = now
        self._clock_at = now + CLOCK_POLL_S

    def poll(self, now: float) -> list[Finding]:
        """What became news at ``now``: the start checks once, then power and clock."""
        found: list[Finding] = []
        if not self._started:
            self._started = True
            found += self._start_checks()
        if now >= self._power_at:
            self._power_at = now + self.config.platform.power_poll_s
            found += self.power.observe(now, self._read_power())
        if now >= self._clock_at:
            self._clock_at = now + CLOCK_POLL_S
            self.synced = self.probe.clock_synced()
            if self._clock_warned and self.synced:
                self._clock_warned = False
                log.info("clock_synchronised")
                found.append(Finding(State.NORMAL, Reason.CLOCK, "synchronised (NTP)"))
        return found

    def wake_at(self) -> float:
        return min(self._power_at, self._clock_at)

    def facts(self) -> PlatformFacts:
        flags = self.power.last
        dog = self.watchdog
        store = self.storage
        return PlatformFacts(
            storage_durable=None if store is None or store.mount is None else store.durable,
            storage_fs=None if store is None or store.mount is None else store.mount.fstype,
            watchdog_armed=None if dog is None else dog.armed,
            watchdog_timeout_s=None if dog is None else dog.timeout_s,
            clock_synced=self.synced,
            under_voltage=None if flags is None else flags.under_voltage,
            throttled=None if flags is None else flags.throttling,
            throttled_flags=None if flags is None else flags.hex,
            cpu_temp_c=self._temperature(),
        )

    # ------------------------------------------------------------------ checks

    def _start_checks(self) -> list[Finding]:
        found: list[Finding] = []
        storage = self.config.storage
        self.storage = durability(_resolved(storage.path), parse_mountinfo(self._mountinfo()))
        if self.storage.volatile is not None:
            if storage.allow_volatile:
                log.warning("store_volatile_allowed", why=self.storage.volatile)
            else:
                log.error(
                    "store_not_durable",
                    why=self.storage.volatile,
                    hint="put storage.path on a durable partition (docs/operations.md)",
                )
                found.append(
                    Finding(State.FAULT, Reason.STORAGE, f"not durable: {self.storage.volatile}")
                )
        self.watchdog = read_watchdogs(self.config.platform.watchdog_path, self.probe.read)
        problem = self.watchdog.problem()
        log.info(
            "hardware_watchdog",
            armed=self.watchdog.armed,
            device=self.watchdog.device,
            timeout_s=self.watchdog.timeout_s,
        )
        if problem is not None and self.probe.judge_host:
            log.warning("hardware_watchdog_off", detail=problem)
            found.append(Finding(State.WARNING, Reason.WATCHDOG, problem))
        self.synced = self.probe.clock_synced()
        if self.synced is False and self.probe.judge_host:
            self._clock_warned = True
            log.warning("clock_unsynchronised")
            found.append(
                Finding(State.WARNING, Reason.CLOCK, "not synchronised (NTP): ts may be wrong")
            )
        return found

    def _mountinfo(self) -> str:
        return self.probe.mountinfo() or ""

    def _read_power(self) -> Throttled | None:
        cfg = self.config.platform
        text = self.probe.read(cfg.throttled_path)
        if text is not None:
            return Throttled.parse(text)
        alarm = self._hwmon_alarm(cfg.hwmon_path)
        return None if alarm is None else Throttled(1 if alarm else 0)

    def _hwmon_alarm(self, root: Path) -> bool | None:
        try:
            devices = sorted(root.iterdir())
        except OSError:
            return None
        for dev in devices:
            name = self.probe.read(dev / "name")
            if name is not None and name.strip() == HWMON_NAME:
                value = self.probe.read(dev / "in0_lcrit_alarm")
                return None if value is None else value.strip() not in ("", "0")
        return None

    def _temperature(self) -> float | None:
        text = self.probe.read(self.config.platform.thermal_path)
        try:
            return None if text is None else round(int(text.strip()) / 1000.0, 1)
        except ValueError:
            return None


def _resolved(path: Path) -> str:
    """The store's real place: its folder resolved (the file may not exist yet)."""
    return os.path.join(os.path.realpath(path.parent), path.name)
