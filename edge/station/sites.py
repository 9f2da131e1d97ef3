"""Every site and device heard, sans I/O: status, liveness, sensors, seq gaps.

Time is the station's wall clock in seconds, passed in (it must survive a restart: the
archive keeps ``last_heard``). Rules:

- **Heard** means a message that is not retained: a retained ``status`` or ``state``
  replayed by the broker at subscribe time says nothing about now.
- **Silent**: a device is silent when nothing was heard for
  ``HEARTBEAT_MISSES × interval_s + SLACK_S``, the interval being the one its heartbeat
  announces (``DEFAULT_HEARTBEAT_S`` before any). Heartbeats are QoS 0, so one or two
  may be lost on a healthy link without anything being wrong; three in a row are not
  (the same 3 intervals the MQTT API tells every listener), and the slack covers
  transport jitter for short intervals. **Offline** and **silent** by its status: the
  status says why (``reason``): ``lost`` is its Last Will (the broker lost it: frozen,
  cut off, crashed), so the site is **silent** at once (the silent-site alarm);
  ``stopped`` is a clean stop: the site is **offline**, no alarm of its own, but its
  sensors are not watched and its open alarms stay marked. A status without ``reason``
  (older devices) is offline, and an alarm, as before.
- **The station's own deafness is never the sites' silence.** Silence is measured from
  ``max(last_heard, listening_since)``, where ``listening_since`` is when the station
  last became able to hear (a broker connected and the database open); while it cannot
  (``None``) no device turns silent. The station's loss is one banner (``health``).
- **Not watched**: a sensor in ``fault``, ``disabled`` or ``starting``, and every sensor
  of a device that is offline or silent.
- **Gaps**: each device's :class:`edge.gaps.SeqLedger`, fed every event seq and every
  heartbeat's delivered mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge.clock import iso_ms
from edge.gaps import GapVerdict, SeqLedger, due

HEARTBEAT_MISSES = 3
SLACK_S = 5.0
DEFAULT_HEARTBEAT_S = 30.0
NOT_WATCHED_STATES = frozenset({"fault", "disabled", "starting"})

DeviceKey = tuple[str, str]

WHY: dict[str, dict[str, str]] = {
    "en": {
        "silent": "silent: nothing heard for {age:.0f} s (heartbeat every {interval:g} s)",
        "lost": "silent: the broker lost the device (its Last Will)",
        "offline": "offline: the device's status says offline",
        "heard_again": "heard again",
    },
    "id": {
        "silent": "senyap: tidak terdengar apa pun selama {age:.0f} dtk "
        "(detak setiap {interval:g} dtk)",
        "lost": "senyap: broker kehilangan perangkat (pesan wasiatnya)",
        "offline": "luring: status perangkat menyatakan luring",
        "heard_again": "terdengar lagi",
    },
}
"""The site alarm's reasons, in the station's language (they are its state and message)."""


@dataclass(slots=True)
class SensorSeen:
    state: str
    epoch: int = 0
    seq: int = 0


@dataclass(slots=True)
class DeviceSeen:
    site: str
    device: str
    status: str | None = None
    status_reason: str | None = None
    """The status's ``reason`` (running | stopped | lost), None from an older device."""
    status_at: float | None = None
    last_heard: float | None = None
    heartbeat: dict[str, Any] | None = None
    heartbeat_at: float | None = None
    interval_s: float = DEFAULT_HEARTBEAT_S
    broker: str | None = None
    """The broker this device was last heard on: where acks and resends go."""
    sensors: dict[str, SensorSeen] = field(default_factory=dict)
    ledger: SeqLedger = field(default_factory=SeqLedger)
    flag: str = ""
    """What the silence watch last decided: "", "silent", "offline" (an alarm) or
    "stopped" (offline after a clean stop: no alarm)."""
    flag_at: float = 0.0
    """When it decided so: only a message heard after it clears the flag."""

    @property
    def key(self) -> DeviceKey:
        return (self.site, self.device)

    def quiet_since(self, listening_since: float | None) -> float | None:
        heard = self.last_heard
        if listening_since is None:
            return None
        return listening_since if heard is None else max(heard, listening_since)

    def silent(self, now: float, listening_since: float | None) -> bool:
        since = self.quiet_since(listening_since)
        if since is None or self.status == "offline":
            return False
        return now - since > HEARTBEAT_MISSES * self.interval_s + SLACK_S

    def condition(self, now: float, listening_since: float | None) -> str:
        """``online`` | ``offline`` | ``silent`` (what the board shows)."""
        if self.status == "offline":
            return "silent" if self.status_reason == "lost" else "offline"
        return "silent" if self.silent(now, listening_since) else "online"

    def watch_flag(self, now: float, listening_since: float | None) -> str:
        """What the silence watch decides: "" (fine), "stopped" (no alarm), or the
        site-alarm kinds "silent" / "lost" / "offline"."""
        if self.status == "offline":
            return {"lost": "lost", "stopped": "stopped"}.get(self.status_reason or "", "offline")
        return "silent" if self.silent(now, listening_since) else ""


@dataclass(frozen=True, slots=True)
class Transition:
    """A device turned silent/offline (``why`` set) or was heard again (``why`` None)."""

    site: str
    device: str
    why: str | None


class SiteBook:
    def __init__(self, language: str = "id") -> None:
        self.devices: dict[DeviceKey, DeviceSeen] = {}
        self.words = WHY.get(language, WHY["en"])

    def device(self, site: str, device: str) -> DeviceSeen:
        dev = self.devices.get((site, device))
        if dev is None:
            dev = self.devices[(site, device)] = DeviceSeen(site, device)
        return dev

    # ------------------------------------------------------------------ input

    def heard(self, site: str, device: str, at: float, broker: str | None) -> DeviceSeen:
        dev = self.device(site, device)
        dev.last_heard = at if dev.last_heard is None else max(dev.last_heard, at)
        if broker is not None:
            dev.broker = broker
        if dev.status == "offline":
            dev.status, dev.status_reason = "online", None  # it speaks: its Will is old
        return dev

    def on_status(
        self,
        site: str,
        device: str,
        state: str,
        at: float,
        retained: bool,
        reason: str | None = None,
    ) -> None:
        dev = self.device(site, device)
        dev.status = state
        dev.status_reason = reason
        dev.status_at = at

    def on_heartbeat(self, site: str, device: str, data: dict[str, Any], at: float) -> bool:
        """True when its counters show the device's numbering started over."""
        dev = self.device(site, device)
        dev.heartbeat, dev.heartbeat_at = data, at
        interval = data.get("interval_s")
        if isinstance(interval, int | float) and not isinstance(interval, bool) and interval > 0:
            dev.interval_s = float(interval)
        started_over = False
        last_seq, depth = data.get("last_seq"), data.get("outbox_depth")
        if isinstance(last_seq, int) and isinstance(depth, int):
            started_over = dev.ledger.note_delivered(last_seq, depth)
        sensors = data.get("sensors")
        if isinstance(sensors, dict):
            for sensor, health in sensors.items():
                if isinstance(health, dict) and isinstance(health.get("state"), str):
                    seen = dev.sensors.get(str(sensor))
                    if seen is None:
                        dev.sensors[str(sensor)] = SensorSeen(health["state"])
                    else:
                        seen.state = health["state"]
        return started_over

    def on_sensor(
        self, site: str, device: str, sensor: str, state: str, seq: int, epoch: int | None = None
    ) -> None:
        """A real event (or retained state) of a sensor: newest by (epoch, seq) wins;
        ``epoch``: the numbering it belongs to (None: the device's present one)."""
        dev = self.device(site, device)
        epoch = dev.ledger.epoch if epoch is None else epoch
        seen = dev.sensors.get(sensor)
        if seen is None or (epoch, seq) >= (seen.epoch, seen.seq):
            dev.sensors[sensor] = SensorSeen(state, epoch, seq)

    # ------------------------------------------------------------------ time

    def watch(self, now: float, listening_since: float | None) -> list[Transition]:
        """Devices that turned silent or offline, or were heard again, since last time."""
        out = []
        for dev in self.devices.values():
            flag = dev.watch_flag(now, listening_since)
            if flag == dev.flag:
                continue
            if flag in ("", "stopped") and (
                listening_since is None
                or (dev.flag and (dev.last_heard is None or dev.last_heard <= dev.flag_at))
            ):
                continue  # not heard since: a station that only started listening again
            dev.flag, dev.flag_at = flag, now
            if flag == "silent":
                age = now - (dev.quiet_since(listening_since) or now)
                why: str | None = self.words["silent"].format(age=age, interval=dev.interval_s)
            elif flag in ("lost", "offline"):
                why = self.words[flag]
            else:
                why = None  # heard again, or stopped cleanly: no alarm of its own
            out.append(Transition(dev.site, dev.device, why))
        return out

    def gaps(self, now: float) -> list[tuple[DeviceSeen, GapVerdict]]:
        out = []
        for dev in self.devices.values():
            verdict = due(dev.ledger, now, dev.heartbeat_at)
            if verdict.ask or verdict.lost:
                out.append((dev, verdict))
        return out

    # ------------------------------------------------------------------ views

    def view(
        self, now: float, listening_since: float | None, open_alarms: dict[DeviceKey, int]
    ) -> list[dict[str, Any]]:
        rows = []
        for dev in sorted(self.devices.values(), key=lambda d: d.key):
            condition = dev.condition(now, listening_since)
            sensors = []
            for name, seen in sorted(dev.sensors.items()):
                watched = condition == "online" and seen.state not in NOT_WATCHED_STATES
                sensors.append({"sensor": name, "state": seen.state, "watched": watched})
            rows.append(
                {
                    "site": dev.site,
                    "device": dev.device,
                    "status": condition,
                    "last_heard": None if dev.last_heard is None else iso_ms(dev.last_heard),
                    "open_alarms": open_alarms.get(dev.key, 0),
                    "heartbeat_interval_s": dev.interval_s,
                    "sensors": sensors,
                    "not_watched": [s["sensor"] for s in sensors if not s["watched"]],
                    "lost": dev.ledger.lost,
                }
            )
        return rows
