"""How the device is doing, and when to say so: heartbeat, telemetry, the systemd
watchdog, the latency budget of every real alarm, and the Pi under it all (the
:mod:`edge.platform` checks: storage, hardware watchdog, clock, power).

Plain bookkeeping over ``now``: the loop asks what is due, gives the facts (sensor
states, store figures), and publishes what comes back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edge import __version__, logs, messages
from edge.clock import iso_ms
from edge.config import SensorConfig, SiagaConfig
from edge.daemon.sensor_set import SensorSet
from edge.detect.types import Reason, State
from edge.outbox import Outbox
from edge.payloads import Heartbeat, Reading, SensorHealth
from edge.platform.monitor import PlatformMonitor, Probe
from edge.platform.power import Finding
from edge.sensors import Sample

log = logs.get("health")

WATCHDOG_IDLE_S = 10.0  # how often to look again when systemd wants no watchdog


@dataclass(frozen=True, slots=True)
class StoreFigures:
    """What the store says of itself, for the heartbeat."""

    depth: int
    oldest_undelivered_age_s: float | None
    last_seq: int
    unacknowledged_alarms: int
    ok: bool
    error: str | None

    @classmethod
    def of(cls, outbox: Outbox, held: int) -> StoreFigures:
        """``held``: events a full disk has not taken yet (they count as undelivered)."""
        return cls(
            depth=outbox.depth() + held,
            oldest_undelivered_age_s=outbox.oldest_undelivered_age(),
            last_seq=outbox.last_seq(),
            unacknowledged_alarms=outbox.unacked_alarms(),
            ok=not held and outbox.last_error is None,
            error=outbox.last_error,
        )


class Health:
    def __init__(
        self,
        config: SiagaConfig,
        now: float,
        watchdog_interval_s: float | None,
        probe: Probe | None = None,
    ) -> None:
        """``probe``: the platform's readers (tests give a fake sysfs); None: the real ones."""
        self.config = config
        self.platform = PlatformMonitor(config, probe or Probe.system(), now)
        self.started = now
        self.watchdog_interval_s = watchdog_interval_s
        self.heartbeat_at = now
        self.telemetry_at = (
            now + config.telemetry.interval_s if config.telemetry.interval_s else None
        )
        self.watchdog_at = now
        self.last_alarm_latency: float | None = None
        self._alarm_t: dict[int, float] = {}  # seq -> monotonic time the alarm was decided
        self._late = 0  # late alarms in this spell (0: delivery is on time)
        self._worst = 0.0  # the slowest of them

    # ------------------------------------------------------------------ schedule

    def heartbeat_due(self, now: float) -> bool:
        if now < self.heartbeat_at:
            return False
        self.heartbeat_at = now + self.config.heartbeat.interval_s
        return True

    def telemetry_due(self, now: float) -> bool:
        if self.telemetry_at is None or now < self.telemetry_at:
            return False
        self.telemetry_at = now + self.config.telemetry.interval_s
        return True

    def watchdog_due(self, now: float) -> bool:
        """True when systemd wants a keep-alive now (at half its interval)."""
        if now < self.watchdog_at:
            return False
        interval = self.watchdog_interval_s
        self.watchdog_at = now + (interval / 2 if interval else WATCHDOG_IDLE_S)
        return bool(interval)

    def findings(self, now: float) -> list[Finding]:
        """``_device`` events the platform checks have for ``now`` (the loop records them)."""
        return self.platform.poll(now)

    def wake_at(self) -> float:
        times = [self.heartbeat_at, self.watchdog_at, self.platform.wake_at()]
        if self.telemetry_at is not None:
            times.append(self.telemetry_at)
        return min(times)

    # ------------------------------------------------------------------ latency budget

    def alarm_committed(self, seq: int, decided_at: float) -> None:
        self._alarm_t[seq] = decided_at

    def delivered(self, seq: int, now: float) -> list[Finding]:
        """A first delivery reached the broker: the ``latency`` events it calls for.

        Lateness is one condition, not one event per alarm: the first late alarm raises
        the fault; the late ones after it (a backlog drains alarm after alarm) only add
        to it, as a flood of faults would bury the alarms themselves and lengthen the
        backlog that made them late; once no alarm is waiting any more, ``normal`` says
        delivery has caught up and how bad the spell was."""
        decided = self._alarm_t.pop(seq, None)
        if decided is None:
            return []
        latency = now - decided
        self.last_alarm_latency = latency
        budget = self.config.alerts.latency_budget_s
        log.info("alarm_delivered", seq=seq, latency_s=round(latency, 4))
        out = []
        if latency > budget:
            if not self._late:
                detail = messages.latency_exceeded(seq, latency, budget)
                out.append(Finding(State.FAULT, Reason.LATENCY, detail))
            self._late += 1
            self._worst = max(self._worst, latency)
        if self._late and not self._alarm_t:
            detail = messages.latency_caught_up(self._late, self._worst, budget)
            out.append(Finding(State.NORMAL, Reason.LATENCY, detail))
            self._late, self._worst = 0, 0.0
        return out

    # ------------------------------------------------------------------ payloads

    def heartbeat(
        self, now: float, wall: float, sensors: SensorSet, store: StoreFigures, connected: bool
    ) -> Heartbeat:
        health = {}
        for sensor_id, machine in sensors.machines.items():
            sample = sensors.last.get(sensor_id)
            health[sensor_id] = SensorHealth(
                state=machine.state,
                stage=machine.stage,
                value=machine.value,
                unit=sensors.configs[sensor_id].unit,
                age_s=None if sample is None else round(now - sample.t, 3),
            )
        pi = self.platform.facts()
        return Heartbeat(
            ts=iso_ms(wall),
            version=__version__,
            uptime_s=round(now - self.started, 3),
            interval_s=self.config.heartbeat.interval_s,
            sensors=health,
            outbox_depth=store.depth,
            oldest_undelivered_age_s=store.oldest_undelivered_age_s,
            last_seq=store.last_seq,
            broker_connected=connected,
            unacknowledged_alarms=store.unacknowledged_alarms,
            storage_ok=store.ok,
            storage_error=store.error,
            cpu_temp_c=pi.cpu_temp_c,
            storage_durable=pi.storage_durable,
            storage_fs=pi.storage_fs,
            watchdog_armed=pi.watchdog_armed,
            watchdog_timeout_s=pi.watchdog_timeout_s,
            clock_synced=pi.clock_synced,
            under_voltage=pi.under_voltage,
            throttled=pi.throttled,
            throttled_flags=pi.throttled_flags,
            last_alarm_latency_s=self.last_alarm_latency,
        )

    @staticmethod
    def readings(
        last: Mapping[str, Sample], configs: Mapping[str, SensorConfig], wall_of: float
    ) -> list[tuple[str, Reading]]:
        """Telemetry: each sensor's last sample. ``wall_of``: wall minus monotonic now."""
        return [
            (
                sensor_id,
                Reading(
                    ts=iso_ms(sample.t + wall_of),
                    value=sample.value,
                    unit=configs[sensor_id].unit,
                    raw=sample.raw,
                ),
            )
            for sensor_id, sample in last.items()
            if sensor_id in configs
        ]

    @staticmethod
    def status_line(beat: Heartbeat) -> str:
        """systemd's STATUS= line, what ``systemctl status`` shows."""
        states = ", ".join(f"{k}={v.state.value}" for k, v in beat.sensors.items())
        return (
            f"{'online' if beat.broker_connected else 'OFFLINE'}; seq {beat.last_seq}; "
            f"outbox {beat.outbox_depth}; {states}"
        )[:200]
