"""The control room's board as a pure model: messages in, state and messages to send out.

``Board.feed(topic, payload, now)`` takes every MQTT message heard under the prefix;
``Board.tick(now)`` lets time pass. Both return what the console must publish (resend
requests) and the new, de-duplicated events. No I/O, no clock: ``now`` is monotonic
seconds passed in, so silence and gap timing are tested with a fake clock.

Rules:

- **De-duplication.** An event is new once per ``id``; repeats of an unacknowledged alarm
  and re-sent events carry the same ``id`` and change nothing.
- **Present state.** A sensor shows its last real event by ``seq`` (from ``events`` or
  the retained ``state`` topic), its live value from the heartbeat.
- **Drills** (``"drill": true``) and **walk tests** (``"test": true``) never touch a
  sensor's real state: they are kept apart, per device, and cleared by the device's next
  drill or test marker (``_device``, reason ``drill`` or ``test``: a start or an end) or
  when the device goes offline. The marker also
  closes the drill events still waiting for an ack: the device closes them then too.
- **Unacknowledged.** An event with ``requires_ack`` heard on ``events`` is open until an
  ``ack`` for its ``id`` is heard (from this console or any other: the ack topic is
  under the prefix too). The device repeats open events every ``alerts.repeat_s``, so a
  console that joins late learns them within that time.
- **Silent.** A device whose ``status`` is ``offline`` is offline; one whose last
  heartbeat (or, before any, the first message heard) is older than
  :data:`HEARTBEAT_MISSES` intervals is silent. The interval is the heartbeat's own
  ``interval_s``, else :data:`DEFAULT_HEARTBEAT_S`.
- **Gaps.** ``seq`` grows by exactly 1 per event per device. The first event or
  heartbeat heard from a device sets its baseline (history before it is not asked for,
  unless a saved watermark says where this console left off). Any seq missing above it,
  up to the highest seen or the heartbeat's ``last_seq - outbox_depth`` (what the device
  has delivered), is a gap; a gap still open after :data:`GAP_GRACE_S` is asked for on
  ``resend``, again after :data:`RESEND_RETRY_S` doubling up to :data:`RESEND_MAX_S`.
- **Lost.** A gap asked for :data:`GIVE_UP_REQUESTS` times, with a heartbeat from the
  device heard after the first request (it is there and has had the requests), is no
  longer stored on the device (older than its ``retain_days``, or on a damaged store's
  lost pages): it is counted as lost, told to the operator once, and not asked for again.
- **A store that started over.** A device whose store was unreadable and could not be
  salvaged numbers from 1 again; its first event is a ``_device`` fault with reason
  ``storage``. Such an event with a new id and a seq below the highest heard from the
  device starts the device's seq accounting afresh (and its sensors' rows accept the
  lower seqs), rather than taking every new event for old history.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from edge.clock import iso_ms
from edge.config import DEVICE_SENSOR
from edge.gaps import (
    GAP_GRACE_S,
    GIVE_UP_REQUESTS,
    MAX_GAP_RANGES,
    RESEND_MAX_S,
    RESEND_RETRY_S,
    SeqLedger,
    due,
)
from edge.payloads import MAX_INBOUND_BYTES, Ack
from edge.topics import Topics, parse_device_topic

__all__ = [
    "GAP_GRACE_S",
    "GIVE_UP_REQUESTS",
    "MAX_GAP_RANGES",
    "RESEND_MAX_S",
    "RESEND_RETRY_S",
    "Board",
    "Device",
    "Outgoing",
    "SensorRow",
    "Update",
]

DRILL_CLOSED_BY = "(drill ended)"  # as the device records it
ACKED_ELSEWHERE = "(acknowledged, said the device)"
ACK_IN_FLIGHT_S = 5.0  # a repeat the device sent just before it had the ack
HEARTBEAT_MISSES = 3
DEFAULT_HEARTBEAT_S = 30.0
RECENT = 14
MAX_SEEN_IDS = 200_000

RANK = {"alarm": 0, "fault": 1, "warning": 2, "starting": 3, "disabled": 4, "normal": 5}

Json = dict[str, Any]
DeviceKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message the console must publish (QoS 1, not retained)."""

    topic: str
    payload: bytes


@dataclass(slots=True)
class Update:
    """What one ``feed`` or ``tick`` produced."""

    events: list[Json] = field(default_factory=list)
    """New events from the ``events`` topics, each once, in arrival order."""
    outgoing: list[Outgoing] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Things an operator should read: a device silent or back, a gap asked for."""


@dataclass(slots=True)
class SensorRow:
    site: str
    device: str
    sensor: str
    event: Json | None = None
    """The last real event (highest seq) for this sensor."""
    health: Json | None = None
    """This sensor in the device's last heartbeat: live state, value, sample age."""
    health_ts: str = ""
    """That heartbeat's ``ts``."""

    @property
    def state(self) -> str:
        if self.event is not None:
            return "alarm" if self.live_alarm else str(self.event["state"])
        if self.health is not None:
            return str(self.health.get("state", "?"))
        return "?"

    @property
    def live_alarm(self) -> bool:
        """A heartbeat newer than the last event says alarm: an alarm whose event has not
        come yet (a device whose store is full holds it, and says so in its heartbeat)."""
        return (
            self.event is not None
            and self.health is not None
            and self.health.get("state") == "alarm"
            and self.event.get("state") != "alarm"
            and self.health_ts > str(self.event.get("ts", ""))
        )

    epoch: int = 0
    """The device's numbering the event belongs to (see ``Device.epoch``)."""

    @property
    def seq(self) -> int:
        return int(self.event["seq"]) if self.event is not None else 0

    def newer(self, event: Json, epoch: int) -> bool:
        return self.event is None or (epoch, int(event["seq"])) > (self.epoch, self.seq)


@dataclass(slots=True)
class Device(SeqLedger):
    """One device as heard; its seq accounting is the shared :class:`edge.gaps.SeqLedger`."""

    site: str
    device: str
    first_heard: float
    status: str | None = None
    version: str | None = None
    heartbeat: Json | None = None
    heartbeat_at: float | None = None
    device_event: Json | None = None
    drill_note: Json | None = None
    """The device's last drill marker event (a drill's start or end)."""
    flagged: str = ""
    """What the operator was last told about this device: "", "silent" or "offline"."""
    heard_floor: float = 0.0
    """When this console last began to hear (its broker link came up): silence is counted
    from no earlier, so the console's own link loss is never a site's silence."""
    deaf: bool = False
    """The console's broker link is down: no device can be judged silent."""

    @property
    def key(self) -> DeviceKey:
        return (self.site, self.device)

    @property
    def interval_s(self) -> float:
        if self.heartbeat is not None:
            value = self.heartbeat.get("interval_s")
            if isinstance(value, int | float) and value > 0:
                return float(value)
        return DEFAULT_HEARTBEAT_S

    @property
    def offline(self) -> bool:
        return self.status == "offline"

    def silent(self, now: float) -> bool:
        """Nothing heard for longer than HEARTBEAT_MISSES heartbeat intervals."""
        if self.offline or self.deaf:
            return False
        since = self.heartbeat_at if self.heartbeat_at is not None else self.first_heard
        return now - max(since, self.heard_floor) > HEARTBEAT_MISSES * self.interval_s

    def heartbeat_age(self, now: float) -> float | None:
        return None if self.heartbeat_at is None else now - self.heartbeat_at


class Board:
    def __init__(self, prefix: str = "siaga/v1", *, watermarks: dict[str, int] | None = None):
        self.prefix = prefix
        self.devices: dict[DeviceKey, Device] = {}
        self.sensors: dict[tuple[str, str, str], SensorRow] = {}
        self.drills: dict[DeviceKey, dict[str, Json]] = {}
        self.open: dict[str, Json] = {}
        """Events waiting for an acknowledgement, by id."""
        self.ack_sent: dict[str, str] = {}
        """Acks this console published and has not yet heard back: id -> by."""
        self.acked_by: dict[str, str] = {}
        self._acked_at: dict[str, float] = {}
        """When each ack was heard (monotonic), to tell a repeat in flight from a refusal."""
        self.recent: deque[Json] = deque(maxlen=RECENT)
        self.events_seen = 0
        self.duplicates = 0
        self.malformed = 0
        self._seen: dict[str, None] = {}
        self._saved = dict(watermarks or {})
        self.link_up = True
        """The console's broker link, as the session last said (assumed up until told)."""
        self.link_since: float | None = None

    # ------------------------------------------------------------------ input

    def feed(
        self, topic: str, payload: bytes, now: float, user: Mapping[str, str] | None = None
    ) -> Update:
        """One message; ``user``: its MQTT v5 user properties (``sent``, ``ack``)."""
        update = Update()
        parsed = parse_device_topic(self.prefix, topic)
        if parsed is None:
            return update
        site, device, rest = parsed
        try:
            data = json.loads(payload)
        except ValueError:
            self.malformed += 1
            return update
        if not isinstance(data, dict):
            self.malformed += 1
            return update
        dev = self._device(site, device, now)
        if rest == "events":
            if _is_event(data):
                self._on_event(dev, data, update, user or {}, now)
            else:
                self.malformed += 1
        elif rest.startswith("state/"):
            if _is_event(data):
                self._on_state(dev, data)
            else:
                self.malformed += 1
        elif rest == "status":
            self._on_status(dev, data)
        elif rest == "heartbeat":
            self._on_heartbeat(dev, data, now, update.notes)
        elif rest == "ack":
            self._on_ack(dev, payload, update, now)
        self._check(dev, now, update)
        return update

    def tick(self, now: float) -> Update:
        update = Update()
        for dev in self.devices.values():
            self._check(dev, now, update)
        return update

    def _check(self, dev: Device, now: float, update: Update) -> None:
        sent = self._gaps(dev, now, update)
        if sent:
            asked = [json.loads(o.payload) for o in sent[:3]]
            spans = ", ".join(f"{a['from_seq']}-{a['to_seq']}" for a in asked)
            update.notes.append(f"{dev.site}/{dev.device}: seq {spans} missing, asked on resend")
        update.outgoing += sent
        flag = "offline" if dev.offline else "silent" if dev.silent(now) else ""
        if flag != dev.flagged:
            if flag == "silent":
                age = now - (dev.heartbeat_at if dev.heartbeat_at is not None else dev.first_heard)
                update.notes.append(
                    f"{dev.site}/{dev.device}: SILENT, nothing heard for {age:.0f} s "
                    f"(heartbeat every {dev.interval_s:g} s)"
                )
            elif flag == "offline":
                update.notes.append(f"{dev.site}/{dev.device}: OFFLINE")
            elif dev.flagged:
                update.notes.append(f"{dev.site}/{dev.device}: heard again")
            dev.flagged = flag

    # ------------------------------------------------------------------ acknowledging

    def unacknowledged(self) -> list[Json]:
        """Open alarms and faults not yet acknowledged by this console, worst first."""
        pending = [e for i, e in self.open.items() if i not in self.ack_sent]
        return sorted(pending, key=lambda e: (RANK.get(e["state"], 9), e["seq"]))

    def ack_all(self, by: str, wall: float) -> list[Outgoing]:
        """Acknowledge every open *real* event as operator ``by`` (drills are acknowledged
        one by one, never together with real alarms); the ack messages to publish."""
        out = []
        for event in self.unacknowledged():
            if not event.get("drill"):
                out.append(self.ack(event, by, wall))
        return out

    def link(self, up: bool, now: float) -> None:
        """The console's own broker link came up or went down."""
        self.link_up = up
        self.link_since = now
        for dev in self.devices.values():
            dev.deaf = not up
            if up:
                dev.heard_floor = now

    def ack(self, event: Json, by: str, wall: float) -> Outgoing:
        topics = Topics(self.prefix, event["site"], event["device"])
        self.ack_sent[event["id"]] = by
        payload = {"event_id": event["id"], "by": by, "ts": iso_ms(wall)}
        return Outgoing(topics.ack, json.dumps(payload, ensure_ascii=False).encode())

    # ------------------------------------------------------------------ views

    def rows(self) -> list[SensorRow]:
        """Real sensor rows: alarms first, then faults, warnings, ...; unacknowledged first."""
        open_by_sensor = {
            (e["site"], e["device"], e["sensor"]) for e in self.open.values() if not _exercise(e)
        }

        def key(row: SensorRow) -> tuple[int, int, str, str, str]:
            unacked = (row.site, row.device, row.sensor) in open_by_sensor
            return (RANK.get(row.state, 9), 0 if unacked else 1, row.site, row.device, row.sensor)

        return sorted(self.sensors.values(), key=key)

    def has_open(self, row: SensorRow) -> bool:
        return any(
            (e["site"], e["device"], e["sensor"]) == (row.site, row.device, row.sensor)
            and not _exercise(e)
            for e in self.open.values()
        )

    def drill_rows(self) -> list[Json]:
        out = [e for events in self.drills.values() for e in events.values()]
        return sorted(out, key=lambda e: (RANK.get(e["state"], 9), e["site"], e["device"]))

    def watermarks(self) -> dict[str, int]:
        """What to save so a restarted console can ask for what it missed."""
        saved = dict(self._saved)
        for dev in self.devices.values():
            if dev.watermark is not None:
                saved[f"{dev.site}/{dev.device}"] = dev.watermark
        return saved

    # ------------------------------------------------------------------ internals

    def _device(self, site: str, device: str, now: float) -> Device:
        dev = self.devices.get((site, device))
        if dev is None:
            dev = Device(site, device, first_heard=now, deaf=not self.link_up)
            saved = self._saved.get(f"{site}/{device}")
            if saved is not None:
                dev.watermark = saved
            self.devices[(site, device)] = dev
        return dev

    def _on_event(
        self, dev: Device, event: Json, update: Update, user: Mapping[str, str], now: float
    ) -> None:
        seq = int(event["seq"])
        new = event["id"] not in self._seen
        self._ack_state(dev, event, user.get("ack"), now, update)
        if new and seq < dev.high_seq and _store_started_over(event):
            dev.start_over(seq)
            update.notes.append(
                f"{dev.site}/{dev.device}: its store was replaced and numbering started "
                f"again at seq {seq}"
            )
        dev.note_seq(seq)
        if not new:
            self.duplicates += 1
            return
        self._remember(event["id"])
        self.events_seen += 1
        update.events.append(event)
        self.recent.append(event)
        if (
            event.get("requires_ack")
            and event["id"] not in self.acked_by
            and user.get("ack") != "closed"
        ):
            self.open[event["id"]] = event
        sensor = event["sensor"]
        if _exercise(event):
            if sensor == DEVICE_SENSOR:
                dev.drill_note = event
                self.drills.pop(dev.key, None)
                # A drill's start or end: the device closes what the last one left open.
                for event_id, waiting in list(self.open.items()):
                    if _exercise(waiting) and (waiting["site"], waiting["device"]) == dev.key:
                        del self.open[event_id]
                        self.acked_by[event_id] = DRILL_CLOSED_BY
            else:
                self.drills.setdefault(dev.key, {})[sensor] = event
            return
        if sensor == DEVICE_SENSOR:
            dev.device_event = event
            return
        self._present(dev, event)

    def _on_state(self, dev: Device, event: Json) -> None:
        if _exercise(event) or event["sensor"] == DEVICE_SENSOR:
            return
        self._present(dev, event)

    def _present(self, dev: Device, event: Json) -> None:
        key = (dev.site, dev.device, event["sensor"])
        row = self.sensors.get(key)
        if row is None:
            row = self.sensors[key] = SensorRow(dev.site, dev.device, event["sensor"])
        if row.newer(event, dev.epoch):
            row.event, row.epoch = event, dev.epoch

    def _on_status(self, dev: Device, data: Json) -> None:
        state = data.get("state")
        if state in ("online", "offline"):
            dev.status = str(state)
        if isinstance(data.get("version"), str):
            dev.version = data["version"]
        if dev.offline:
            self.drills.pop(dev.key, None)

    def _on_heartbeat(self, dev: Device, data: Json, now: float, notes: list[str]) -> None:
        dev.heartbeat = data
        dev.heartbeat_at = now
        if dev.status is None:
            dev.status = "online"
        last_seq, depth = data.get("last_seq"), data.get("outbox_depth")
        if (
            isinstance(last_seq, int)
            and isinstance(depth, int)
            and dev.note_delivered(last_seq, depth)
        ):
            notes.append(
                f"{dev.site}/{dev.device}: its store was replaced and numbering started "
                f"again (last seq {last_seq})"
            )
        sensors = data.get("sensors")
        if isinstance(sensors, dict):
            for sensor, health in sensors.items():
                if not isinstance(health, dict):
                    continue
                key = (dev.site, dev.device, str(sensor))
                row = self.sensors.get(key)
                if row is None:
                    row = self.sensors[key] = SensorRow(dev.site, dev.device, str(sensor))
                row.health = health
                row.health_ts = str(data.get("ts", ""))

    def _ack_state(
        self, dev: Device, event: Json, said: str | None, now: float, update: Update
    ) -> None:
        """What the device says of an event it publishes again: the device is the judge
        of what is still open, whatever this console heard (or missed) on ``ack``."""
        event_id = event["id"]
        if said == "closed":
            self.open.pop(event_id, None)
            if event_id not in self.acked_by:
                self.acked_by[event_id] = ACKED_ELSEWHERE
                _trim(self.acked_by)
        elif said == "open" and event_id in self.acked_by and event_id not in self.open:
            heard = self._acked_at.get(event_id)
            if heard is not None and now - heard < ACK_IN_FLIGHT_S:
                return  # sent before the device had the ack: not news
            del self.acked_by[event_id]
            self.open[event_id] = event
            update.notes.append(
                f"{dev.site}/{dev.device}: seq {event['seq']} is still unacknowledged on the "
                "device (it did not record the ack heard for it): open again"
            )

    def _on_ack(self, dev: Device, payload: bytes, update: Update, now: float) -> None:
        """An ack counts only as the device will take it: valid by the device's own model
        and on the topic of the device whose event it names. Anything else leaves the
        alarm open, as the device will keep repeating it (and sounding its siren)."""
        try:
            ack = Ack.model_validate_json(payload) if len(payload) <= MAX_INBOUND_BYTES else None
        except ValidationError:
            ack = None
        event = None if ack is None else self.open.get(ack.event_id)
        if ack is None or (event is not None and (event["site"], event["device"]) != dev.key):
            self.malformed += 1
            update.notes.append(
                f"{dev.site}/{dev.device}: an ack the device will refuse was heard and ignored"
            )
            return
        self.acked_by[ack.event_id] = ack.by
        self._acked_at[ack.event_id] = now
        _trim(self.acked_by)
        _trim(self._acked_at)
        self.open.pop(ack.event_id, None)
        self.ack_sent.pop(ack.event_id, None)

    def _gaps(self, dev: Device, now: float, update: Update) -> list[Outgoing]:
        verdict = due(dev, now, dev.heartbeat_at)
        if verdict.lost:
            spans = ", ".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in verdict.lost[:3])
            update.notes.append(
                f"{dev.site}/{dev.device}: seq {spans} LOST: asked {GIVE_UP_REQUESTS} times, "
                "the device no longer has them"
            )
        topic = Topics(self.prefix, dev.site, dev.device).resend
        return [
            Outgoing(topic, json.dumps({"from_seq": lo, "to_seq": hi}).encode())
            for lo, hi in verdict.ask
        ]

    def _remember(self, event_id: str) -> None:
        self._seen[event_id] = None
        _trim(self._seen)


def _exercise(event: Json) -> bool:
    """A drill's or a walk test's event: never a sensor's real state."""
    return bool(event.get("drill") or event.get("test"))


def _trim(ids: dict[str, Any]) -> None:
    """Months of events in bounded memory: past MAX_SEEN_IDS, forget the oldest tenth."""
    if len(ids) > MAX_SEEN_IDS:
        for old in list(ids)[: MAX_SEEN_IDS // 10]:
            del ids[old]


def _store_started_over(event: Json) -> bool:
    return (
        event["sensor"] == DEVICE_SENSOR
        and event.get("reason") == "storage"
        and event["state"] == "fault"
        and not event.get("drill")
    )


def _is_event(data: Json) -> bool:
    return (
        isinstance(data.get("id"), str)
        and isinstance(data.get("seq"), int)
        and data["seq"] >= 1
        and all(isinstance(data.get(k), str) for k in ("site", "device", "sensor", "state"))
        and isinstance(data.get("message", ""), str)
    )
