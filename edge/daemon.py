"""The daemon: one core thread between the sensors, the outbox and the MQTT link.

Everything that changes state happens on the core thread, in order: samples from sensor
callbacks, PUBACKs and inbound messages from paho's thread, signals, drills. Each
arrives as a message on one queue; the loop feeds detection with the sample's own
timestamp, commits every resulting event to the outbox, then hands it to MQTT. Between
messages it sleeps exactly until the earliest deadline (a debounce expiring, a heartbeat,
an alarm repeat), so a delay-off completes even when no sample comes.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from edge import __version__, homeassistant, logs
from edge.clock import Clock, iso_ms, wall_at
from edge.config import DEVICE_SENSOR, ConfigError, SensorConfig, SiagaConfig, load_config
from edge.control import (
    CALL_TIMEOUT_S,
    TAP_LIMIT,
    ControlError,
    ControlServer,
    ControlService,
    sensor_reading,
)
from edge.delivery import Delivery, Purpose
from edge.detect.build import machine_for
from edge.detect.machine import SensorMachine
from edge.detect.types import Reason, State, Transition
from edge.drill import Drill, DrillError
from edge.events import EventBuilder, new_event_id
from edge.mqtt import MqttLink, Will
from edge.outbox import Outbox, StorageError, Stored
from edge.outputs import Annunciator
from edge.payloads import (
    MAX_INBOUND_BYTES,
    Ack,
    Event,
    Heartbeat,
    Reading,
    Resend,
    SensorHealth,
    Status,
)
from edge.sdnotify import Notifier
from edge.sensors import Sample, Sensor, open_hint, open_sensor
from edge.simulate.scenario import Scenario, ScenarioError
from edge.topics import Topics

log = logs.get("daemon")

IDLE_WAKE_S = 1.0
FLUSH_MARKS_S = 0.05
EVICT_EVERY_S = 3600.0
REPEAT_CHECK_S = 1.0
STORE_RETRY_S = 1.0
SHUTDOWN_FLUSH_S = 3.0
MAX_BATCH = 500
MAX_QUEUED_RESENDS = 10_000  # repeats and resends waiting for the window, at most
OVERDUE_KEEPALIVES = 4  # no PUBACK after this many keepalives while connected: send again
OVERDUE_MIN_S = 30.0
# MQTT v5 user properties on an event published again (a first delivery has none): what
# it is, and whether the device still waits for its acknowledgement (docs/mqtt-api.md).
REPEAT_PROPERTIES = {"sent": "repeat", "ack": "open"}
DRILL_CLOSED_BY = "(drill ended)"  # who acknowledges the drill events still open at its end
DRILL_TICK_S = 0.05  # a drill feeds its machines in batches at most this often
TAP_EXPIRY_S = 60.0  # a calibrate tap nobody has read for this long is dropped
SENSOR_RETRY_S = 30.0  # a sensor whose pins could not be opened is tried again this often

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Puback:
    mid: int
    ok: bool
    reason: str


@dataclass(frozen=True, slots=True)
class _Inbound:
    topic: str
    payload: bytes
    retained: bool = False


@dataclass(frozen=True, slots=True)
class _Control:
    what: str  # "stop" | "reload" | "connected" | "disconnected"
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Fatal:
    error: BaseException


@dataclass(frozen=True, slots=True)
class _Call:
    """Run a function on the core thread (drills, readings snapshots)."""

    fn: Callable[[], None]


Message = Sample | _Puback | _Inbound | _Control | _Fatal | _Call


def cpu_temperature() -> float | None:
    try:
        return int(Path("/sys/class/thermal/thermal_zone0/temp").read_text()) / 1000.0
    except (OSError, ValueError):
        return None


class Daemon:
    def __init__(
        self,
        config: SiagaConfig,
        clock: Clock,
        *,
        config_path: Path | None = None,
        pin_factory: Any = None,
        notifier: Notifier | None = None,
        on_started: Callable[[Daemon], None] | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.clock = clock
        self.factory = pin_factory
        self.notifier = notifier or Notifier()
        self.on_started = on_started
        self.inbox: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self.topics = Topics(config.mqtt.topic_prefix, config.site.id, config.site.device)
        self.builder = EventBuilder(config)
        self.machines: dict[str, SensorMachine] = {}
        self.sensors: dict[str, Sensor] = {}
        self.last_samples: dict[str, Sample] = {}
        self.outbox: Outbox | None = None
        self.link: MqttLink | None = None
        self.annunciator: Annunciator | None = None
        self.delivery = Delivery(config.mqtt.inflight, config.mqtt.drain_per_s)
        self.exit_code = 0
        self._running = False
        self._started_mono = clock.monotonic()
        # Built but not yet stored (disk full), each with whether it is a real alarm: the
        # siren counts those too, it needs neither the disk nor the network.
        self._mark_failures = logs.Streak(log, "mark_delivered_failed")
        self._mark_sent_failures = logs.Streak(log, "mark_sent_failed")
        self._pending: list[tuple[Callable[[int], Event], float | None]] = []
        """Events a full disk could not take yet, in order: (build, alarm decided at)."""
        self._to_mark: list[int] = []
        self._marks_due = 0.0  # when the oldest unflushed PUBACK mark must be committed
        self._extra: deque[tuple[Stored, Purpose]] = deque()  # repeats, resends waiting for room
        self._store_retry_at = 0.0  # when to try the store again after a failed write
        # Retained states: the newest per sensor waiting to go, and those in flight (mid ->
        # sensor, sent at); at most one in flight per sensor, see _flush_states.
        self._state_due: dict[str, bytes] = {}
        self._state_sent: dict[int, tuple[str, float]] = {}
        self._backlog = False  # the last pump filled its room: more events may be waiting
        self._alarm_t: dict[int, float] = {}  # seq -> monotonic time the alarm was decided
        self.last_alarm_latency: float | None = None
        self._next: dict[str, float] = {}
        self._drill_machines: dict[str, SensorMachine] = {}
        self._drill: Drill | None = None
        self._drill_count = 0
        self._drill_log: list[Event] = []  # the last drill's events, for `siaga-edge drill`
        self._unopened: dict[str, float] = {}  # sensor -> when to try opening it again
        self._taps: dict[str, list[Sample]] = {}  # sensor -> samples for `calibrate`
        self._tap_read: dict[str, float] = {}
        self.control: ControlServer | None = None
        self.ready = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    def run(self) -> int:
        """Start everything, loop until told to stop, stop cleanly; the exit code."""
        self._start()
        try:
            self._loop()
        except Exception:
            # A bug in the loop must end in a restart by systemd, not in a silent zombie;
            # everything committed is in the outbox and goes out after the restart.
            log.exception("core_loop_crashed")
            self.exit_code = 1
        finally:
            self._shutdown()
        return self.exit_code

    def post(self, message: Message) -> None:
        """Thread-safe and signal-safe (SimpleQueue.put is reentrant)."""
        self.inbox.put(message)

    def stop(self) -> None:
        self.post(_Control("stop"))

    def reload(self) -> None:
        self.post(_Control("reload"))

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        signal.signal(signal.SIGINT, lambda *_: self.stop())
        signal.signal(signal.SIGHUP, lambda *_: self.reload())

    def _start(self) -> None:
        cfg = self.config
        try:
            self.outbox = Outbox(
                cfg.storage.path,
                retain_days=cfg.storage.retain_days,
                max_mb=cfg.storage.max_mb,
                wall=self.clock.wall,
                max_page_count=cfg.storage.max_page_count,
            )
        except StorageError as exc:
            log.critical("store_unavailable", path=str(cfg.storage.path), error=str(exc))
            raise
        self.delivery.restart_from(self.outbox.first_undelivered(), self.outbox.last_seq())
        self.annunciator = Annunciator(cfg.outputs, self.factory)
        now = self.clock.monotonic()
        self._started_mono = now
        if self.outbox.moved_aside is not None:
            self._device_event(State.FAULT, Reason.STORAGE, self._store_replaced_message())
        for field, error in self.annunciator.failed:
            log.error("output_unavailable", field=field, error=str(error), hint=open_hint(error))
            self._device_event(State.FAULT, Reason.OUTPUTS, f"{field}: {error}")
        self.outbox.audit("daemon_started", f"version={__version__}")
        for sensor_cfg in cfg.sensors:
            self._add_sensor(sensor_cfg, now)
        status_offline = Status(state="offline", ts=iso_ms(self.clock.wall()), version=__version__)
        self.link = MqttLink(
            cfg.mqtt,
            client_id=f"siaga-{cfg.site.id}-{cfg.site.device}",
            handler=_LinkBridge(self),
            will=Will(self.topics.status, status_offline.to_json()),
            subscriptions=(self.topics.ack, self.topics.resend)
            + ((homeassistant.status_topic(cfg),) if cfg.homeassistant.enabled else ()),
        )
        self.link.start()
        self._running = True
        t = self.clock.monotonic()
        self._next = {
            "heartbeat": t,
            "repeat": t + REPEAT_CHECK_S,
            "evict": t + 60.0,
            "watchdog": t,
            "telemetry": t + cfg.telemetry.interval_s if cfg.telemetry.interval_s else float("inf"),
            "drill": float("inf"),
        }
        # Alerts are accepted from here on, whether or not the broker answers.
        self.notifier.ready()
        self.notifier.status(f"running: {len(self.machines)} sensors")
        self.ready.set()
        log.info(
            "daemon_ready",
            site=cfg.site.id,
            device=cfg.site.device,
            sensors=len(self.machines),
            last_seq=self.outbox.last_seq(),
            undelivered=self.outbox.depth(),
        )
        self._start_control()
        if self.on_started is not None:
            self.on_started(self)

    def _store_replaced_message(self) -> str:
        assert self.outbox is not None
        saved = self.outbox.salvaged
        said = f"store was unreadable, moved to {self.outbox.moved_aside}"
        if saved is None or not saved.last_seq:
            return f"{said}; its last seq could not be read, seq starts again at 1"
        return (
            f"{said}; {saved.recovered} events still owed were recovered from it, "
            f"seq continues after {saved.last_seq}"
            + (
                f" ({saved.damaged_reads + saved.damaged_rows} damaged stretches or events lost)"
                if saved.damaged_reads or saved.damaged_rows
                else ""
            )
        )

    def _add_sensor(self, sensor_cfg: SensorConfig, now: float) -> None:
        machine = machine_for(sensor_cfg)
        self.machines[sensor_cfg.id] = machine
        self._emit(machine.start(now))
        if sensor_cfg.enabled:
            self._open_sensor(sensor_cfg, now)

    def _open_sensor(self, sensor_cfg: SensorConfig, now: float) -> None:
        """Open the sensor's pins; one that cannot be opened is a fault, tried again later.

        A pin held by another program, SPI switched off or no GPIO library must not stop
        the daemon (the other sensors, the siren and the outbox still work): the control
        room gets a fault for what is not watched, and the daemon keeps trying."""
        sensor_id = sensor_cfg.id
        sensor: Sensor | None = None
        try:
            sensor = open_sensor(sensor_cfg, self.factory, self.clock, self.post)
            sensor.start()
        except Exception as exc:
            if sensor is not None:
                with contextlib.suppress(Exception):
                    sensor.close()
            first = sensor_id not in self._unopened
            self._unopened[sensor_id] = now + SENSOR_RETRY_S
            if first:
                log.error(
                    "sensor_unavailable",
                    sensor=sensor_id,
                    error=str(exc) or type(exc).__name__,
                    hint=open_hint(exc),
                    retry_s=SENSOR_RETRY_S,
                )
                self._emit(self.machines[sensor_id].lost(now))
            return
        self.sensors[sensor_id] = sensor
        if self._unopened.pop(sensor_id, None) is not None:
            log.info("sensor_opened", sensor=sensor_id)

    def _retry_unopened(self, now: float) -> None:
        for sensor_id, due in list(self._unopened.items()):
            if due <= now and sensor_id in self.machines:
                self._open_sensor(self.config.sensor(sensor_id), now)

    def _remove_sensor(self, sensor_id: str) -> None:
        self._unopened.pop(sensor_id, None)
        sensor = self.sensors.pop(sensor_id, None)
        if sensor is not None:
            sensor.close()
        self.machines.pop(sensor_id, None)
        self.last_samples.pop(sensor_id, None)

    def _shutdown(self) -> None:
        self.notifier.stopping()
        log.info("daemon_stopping")
        if self.control is not None:
            self.control.stop()
        if self._drill is not None:
            self._drill_end("interrupted", "daemon stopping")
        for sensor_id in list(self.sensors):
            sensor = self.sensors.pop(sensor_id)
            try:
                sensor.close()
            except Exception as exc:
                log.warning("sensor_close_failed", sensor=sensor_id, error=str(exc))
        # Edges that arrived before the sensors closed are real: store them.
        try:
            self._drain(block=False)
            self._flush_marks()
        except Exception:
            log.exception("shutdown_drain_failed")
        link, outbox = self.link, self.outbox
        if link is not None and outbox is not None and self.exit_code == 0:
            deadline = self.clock.monotonic() + SHUTDOWN_FLUSH_S
            while link.connected.is_set() and self.clock.monotonic() < deadline:
                self._pump()
                if not self.delivery.inflight and outbox.depth() == 0:
                    break
                self._drain(block=True, timeout=0.05)
                self._flush_marks()
            status = Status(state="offline", ts=iso_ms(self.clock.wall()), version=__version__)
            mid = link.publish(self.topics.status, status.to_json(), qos=1, retain=True)
            if mid is not None:
                self._await_puback(mid, timeout=2.0)
            self._flush_marks()
        if link is not None:
            link.stop()
        if self.annunciator is not None:
            self.annunciator.close()
        if outbox is not None:
            outbox.audit("daemon_stopped", f"exit_code={self.exit_code}")
            outbox.close()
        log.info("daemon_stopped", exit_code=self.exit_code)

    def _await_puback(self, mid: int, timeout: float) -> None:
        deadline = self.clock.monotonic() + timeout
        while self.clock.monotonic() < deadline:
            try:
                msg = self.inbox.get(timeout=0.05)
            except queue.Empty:
                continue
            self._handle(msg)
            if isinstance(msg, _Puback) and msg.mid == mid:
                return

    # ------------------------------------------------------------------ loop

    def _loop(self) -> None:
        while self._running:
            self._drain(block=True, timeout=self._sleep_for())
            now = self.clock.monotonic()
            for machine in list(self.machines.values()) + list(self._drill_machines.values()):
                due = machine.deadline()
                if due is not None and due <= now:
                    self._emit(machine.tick(now), drill=machine in self._drill_machines.values())
            self._retry_pending()
            if now >= self._marks_due or len(self._to_mark) >= MAX_BATCH:
                self._flush_marks()  # one commit (fsync) per FLUSH_MARKS_S, not per PUBACK
            self._periodic(now)
            self._pump()

    def _sleep_for(self) -> float:
        now = self.clock.monotonic()
        times = [now + IDLE_WAKE_S, *self._next.values()]
        for machine in list(self.machines.values()) + list(self._drill_machines.values()):
            due = machine.deadline()
            if due is not None:
                times.append(due)
        if self._to_mark:
            times.append(self._marks_due)
        if self._pending:
            times.append(self._store_retry_at)
        if self.link is not None and self.link.connected.is_set():
            # (while disconnected, the reconnection itself wakes the loop)
            if self.delivery.paused_until > now:
                times.append(self.delivery.paused_until)
            elif self._backlog or self._extra:  # a paced drain: wake for the next tokens
                due = self.delivery.refill_at(now)
                if due is not None:
                    times.append(due)
        return max(0.0, min(times) - now)

    def _drain(self, *, block: bool, timeout: float = 0.0) -> None:
        try:
            msg = self.inbox.get(timeout=timeout) if block else self.inbox.get_nowait()
        except queue.Empty:
            return
        self._handle(msg)
        for _ in range(MAX_BATCH):
            try:
                msg = self.inbox.get_nowait()
            except queue.Empty:
                return
            self._handle(msg)

    def _handle(self, msg: Message) -> None:
        if isinstance(msg, Sample):
            self._on_sample(msg)
        elif isinstance(msg, _Puback):
            self._on_puback(msg)
        elif isinstance(msg, _Inbound):
            self._on_inbound(msg.topic, msg.payload, retained=msg.retained)
        elif isinstance(msg, _Control):
            self._on_control(msg)
        elif isinstance(msg, _Fatal):
            log.critical("daemon_fatal", error=repr(msg.error))
            self.exit_code = 1
            self._running = False
        else:
            msg.fn()

    def _on_sample(self, sample: Sample) -> None:
        machine = self.machines.get(sample.sensor)
        if machine is None:
            return
        self.last_samples[sample.sensor] = sample
        tap = self._taps.get(sample.sensor)
        if tap is not None and len(tap) < TAP_LIMIT:
            tap.append(sample)
        self._emit(machine.sample(sample.t, sample.value))

    def _on_control(self, msg: _Control) -> None:
        if msg.what == "stop":
            self._running = False
        elif msg.what == "reload":
            self._reload()
        elif msg.what == "connected":
            self._on_connected()
        elif msg.what == "disconnected":
            self.notifier.status(f"broker disconnected: {msg.detail}")

    # ------------------------------------------------------------------ events

    def _emit(self, transitions: list[Transition], *, drill: bool = False) -> None:
        if not transitions:
            return  # most samples change nothing: no outputs to drive, no SQL to run
        for tr in transitions:
            if drill and tr.reason is Reason.STARTUP:
                continue  # a drill's own machines warming up is not news
            wall = wall_at(self.clock, tr.t)
            previous = tr.previous
            if tr.reason is Reason.STARTUP and tr.state in (State.STARTING, State.DISABLED):
                previous = self._last_known_state(tr.sensor) or previous

            def build(
                seq: int, tr: Transition = tr, previous: State = previous, wall: float = wall
            ) -> Event:
                return self.builder.sensor_event(
                    Transition(
                        tr.t,
                        tr.sensor,
                        tr.state,
                        previous,
                        tr.reason,
                        tr.stage,
                        tr.value,
                        tr.threshold,
                        tr.onset,
                    ),
                    seq=seq,
                    event_id=new_event_id(),
                    wall=wall,
                    drill=drill,
                )

            alarm = tr.state is State.ALARM and not drill
            # committed, on its way: then the log
            event = self._store(build, alarm_at=tr.t if alarm else None)
            log_fn = log.warning if tr.state in (State.ALARM, State.FAULT) else log.info
            log_fn(
                "sensor_state_changed",
                sensor=tr.sensor,
                state=tr.state.value,
                previous=previous.value,
                reason=tr.reason.value,
                stage=tr.stage,
                value=tr.value,
                drill=drill,
                seq=None if event is None else event.seq,
            )
            if event is not None and drill:
                self._drill_log.append(event)
        self._update_outputs()

    def _report_damage(self) -> None:
        """Events the store could not give back intact: the control room sees their seqs
        as a gap it cannot fill, so say why, and that the card needs replacing."""
        if self.outbox is None:
            return
        seqs = self.outbox.take_damaged()
        if seqs:
            shown = ", ".join(str(s) for s in seqs[:10]) + (" …" if len(seqs) > 10 else "")
            self._device_event(
                State.FAULT,
                Reason.STORAGE,
                f"stored events seq {shown} no longer match their checksum and cannot be "
                "sent: the SD card may be failing, replace it",
            )

    def _device_event(self, state: State, reason: Reason, detail: str) -> None:
        def build(seq: int) -> Event:
            return self.builder.device_event(
                state=state,
                previous=State.NORMAL,
                reason=reason,
                detail=detail,
                seq=seq,
                event_id=new_event_id(),
                wall=self.clock.wall(),
            )

        log.warning("device_event", state=state.value, reason=reason.value, detail=detail)
        self._store(build)

    def _store(
        self, build: Callable[[int], Event], *, alarm_at: float | None = None
    ) -> Event | None:
        """Commit first; publish only what is committed. On a full disk, hold and retry.

        ``alarm_at``: a real alarm, decided at this monotonic instant. It sounds the siren
        before it goes to MQTT, stored or held; held, it is announced at once in an
        extra heartbeat (the live state of every sensor), since its event must wait."""
        assert self.outbox is not None
        if alarm_at is not None and self.annunciator is not None:
            self.annunciator.alarm_raised()
        if not self._pending:
            try:
                event = self.outbox.append(build)
            except StorageError as exc:
                log.error("store_write_failed", error=str(exc), held_in_memory=1)
                self._store_retry_at = self.clock.monotonic() + STORE_RETRY_S
            else:
                if alarm_at is not None:
                    self._alarm_t[event.seq] = alarm_at
                if self._pump() and self.link is not None:
                    self.link.wait_written()  # on the wire before the bookkeeping below
                self._publish_state(event)  # after the event: retained state is for late ones
                return event
        self._pending.append((build, alarm_at))
        if alarm_at is not None and self.link is not None and self.link.connected.is_set():
            self._heartbeat(self.clock.monotonic())
        return None

    def _retry_pending(self) -> None:
        if not self._pending or self.outbox is None:
            return
        now = self.clock.monotonic()
        if now < self._store_retry_at:
            return  # a full disk stays full for a while: not one attempt per sample
        held, self._pending = self._pending, []
        for i, (build, alarm_at) in enumerate(held):
            try:
                event = self.outbox.append(build)
            except StorageError:
                self._pending = held[i:]
                self._store_retry_at = now + STORE_RETRY_S
                return
            if alarm_at is not None:  # measured from its decision: a full disk made it late
                self._alarm_t[event.seq] = alarm_at
            self._publish_state(event)
        log.info("store_recovered", written=len(held))
        self._pump()

    def _last_known_state(self, sensor: str) -> State | None:
        assert self.outbox is not None
        stored = self.outbox.latest().get(sensor)
        if stored is None:
            return None
        try:
            return Event.model_validate_json(stored.payload).state
        except ValidationError:
            return None

    # ------------------------------------------------------------------ delivery

    def _publish_state(self, event: Event) -> None:
        # The retained state is the real present: a drill never overwrites it.
        if event.sensor != DEVICE_SENSOR and not event.drill:
            self._state_due[event.sensor] = event.to_json()
            self._flush_states()

    def _flush_states(self) -> None:
        """Hand paho the newest retained state of each sensor, one in flight per sensor.

        A state is the present, so only the newest matters: during a storm (or a dead link
        not yet noticed) thousands of stale states would otherwise queue in paho, unbounded
        and ahead of the events, and be re-sent on reconnect before them."""
        link = self.link
        if link is None or not self._state_due or not link.connected.is_set():
            return
        busy = {sensor for sensor, _ in self._state_sent.values()}
        now = self.clock.monotonic()
        for sensor in [s for s in self._state_due if s not in busy]:
            mid = link.publish(
                self.topics.state(sensor), self._state_due[sensor], qos=1, retain=True
            )
            if mid is None:
                return
            self._state_sent[mid] = (sensor, now)
            del self._state_due[sensor]

    def _on_connected(self) -> None:
        assert self.outbox is not None and self.link is not None
        self._fit_window(self.link.receive_maximum)
        now = self.clock.monotonic()
        self.delivery.resent_all(now)  # paho sends what it held again, now
        for mid, (sensor, _) in self._state_sent.items():
            self._state_sent[mid] = (sensor, now)
        status = Status(state="online", ts=iso_ms(self.clock.wall()), version=__version__)
        self.link.publish(self.topics.status, status.to_json(), qos=1, retain=True)
        for sensor, stored in self.outbox.latest().items():
            if sensor != DEVICE_SENSOR and b'"drill":true' not in stored.payload:
                self._state_due.setdefault(sensor, stored.payload)
        self._flush_states()
        self._publish_discovery()
        self.notifier.status("broker connected")
        self._pump()

    def _pump(self) -> int:
        """Hand MQTT as much as the window and the pace allow, first deliveries first.

        Returns how many first deliveries were handed over."""
        link, outbox = self.link, self.outbox
        if link is None or outbox is None or not link.connected.is_set():
            return 0
        now = self.clock.monotonic()
        room = self.delivery.room(now)
        if room <= 0:
            # Whatever waits goes when a PUBACK frees the window or the pace allows
            # (_sleep_for wakes for that): never an idle second for a new alarm.
            self._backlog = True
            return 0
        batch = outbox.undelivered(self.delivery.cursor, room)
        self._backlog = len(batch) >= room
        for i, stored in enumerate(batch):
            if not self._send(stored, Purpose.EVENT, now):
                return i
        room -= len(batch)
        sent: list[int] = []
        while room > 0 and self._extra:
            stored, purpose = self._extra.popleft()
            if not self._send(stored, purpose, now):
                self._extra.appendleft((stored, purpose))
                break
            sent.append(stored.seq)
            room -= 1
        try:
            outbox.mark_sent(sent)
        except (StorageError, sqlite3.Error) as exc:  # the repeat timer's: a repeat comes early
            self._mark_sent_failures.failed(error=str(exc), events=len(sent))
        else:
            if sent:
                self._mark_sent_failures.ok()
        return len(batch)

    def _send(self, stored: Stored, purpose: Purpose, now: float) -> bool:
        assert self.link is not None
        user = None
        if purpose is Purpose.REPEAT:
            user = REPEAT_PROPERTIES
        elif purpose is Purpose.RESEND:
            user = {"sent": "resend", "ack": "closed" if stored.settled else "open"}
        mid = self.link.publish(self.topics.events, stored.payload, qos=1, user=user)
        if mid is None:
            return False
        self.delivery.sent(mid, stored.seq, purpose, now)
        return True

    def _on_puback(self, msg: _Puback) -> None:
        now = self.clock.monotonic()
        state = self._state_sent.pop(msg.mid, None)
        if state is not None:
            if not msg.ok:
                log.error("state_publish_refused", sensor=state[0], reason=msg.reason)
            self._flush_states()
            return
        entry = self.delivery.acked(msg.mid, msg.ok, now)
        if entry is None:
            return
        if not msg.ok:
            log.error(
                "publish_refused",
                seq=entry.seq,
                reason=msg.reason,
                retry_in_s=round(self.delivery.paused_until - now, 1),
            )
            return
        if entry.purpose is Purpose.EVENT:
            if not self._to_mark:
                self._marks_due = now + FLUSH_MARKS_S
            self._to_mark.append(entry.seq)
            decided = self._alarm_t.pop(entry.seq, None)
            if decided is not None:
                self._alarm_delivered(entry.seq, now - decided)

    def _alarm_delivered(self, seq: int, latency: float) -> None:
        self.last_alarm_latency = latency
        budget = self.config.alerts.latency_budget_s
        log.info("alarm_delivered", seq=seq, latency_s=round(latency, 4))
        if latency > budget:
            self._device_event(
                State.FAULT,
                Reason.LATENCY,
                f"event seq {seq} took {latency:.1f} s (budget {budget:g} s)",
            )

    def _flush_marks(self) -> None:
        if self._to_mark and self.outbox is not None:
            marks, self._to_mark = self._to_mark, []
            try:
                self.outbox.mark_delivered(marks)
            except (StorageError, sqlite3.Error) as exc:
                # Kept and tried again: a mark lost here would leave the event undelivered
                # in the store until a restart re-sent it.
                self._mark_failures.failed(error=str(exc), events=len(marks))
                self._to_mark = marks + self._to_mark
                self._marks_due = self.clock.monotonic() + STORE_RETRY_S
            else:
                self._mark_failures.ok()

    def _fit_window(self, receive_maximum: int) -> None:
        """Keep what is in flight within the broker's MQTT v5 Receive Maximum (paho does
        not): a broker that enforces it disconnects a client that exceeds it, and paho would
        then exceed it again with its re-sends, forever. Room is kept for the retained
        states, the status and discovery."""
        fits = max(1, min(self.config.mqtt.inflight, receive_maximum - len(self.machines) - 2))
        if fits != self.delivery.window:
            log.info("inflight_window", window=fits, broker_receive_maximum=receive_maximum)
            self.delivery.window = fits

    def _check_overdue(self, now: float) -> None:
        """A PUBACK that never comes while connected (a broker that lost the message, a
        session gone astray) must not stall delivery: after a few keepalives the event is
        forgotten as in flight and sent again from the outbox (same id: at least once)."""
        link = self.link
        if link is None or not link.connected.is_set():
            return
        max_age = max(OVERDUE_MIN_S, OVERDUE_KEEPALIVES * self.config.mqtt.keepalive_s)
        overdue = self.delivery.overdue(now, max_age)
        if overdue:
            seqs = sorted(e.seq for e in overdue)
            log.warning("puback_overdue", events=len(seqs), first_seq=seqs[0], after_s=max_age)
        stale = [m for m, (_, t) in self._state_sent.items() if now - t > max_age]
        if stale:
            assert self.outbox is not None
            latest = self.outbox.latest()
            for mid in stale:
                sensor, _ = self._state_sent.pop(mid)
                if sensor not in self._state_due and sensor in latest:
                    self._state_due[sensor] = latest[sensor].payload
            self._flush_states()

    # ------------------------------------------------------------------ inbound

    def _on_inbound(self, topic: str, payload: bytes, *, retained: bool = False) -> None:
        if len(payload) > MAX_INBOUND_BYTES:
            log.warning("inbound_dropped", topic=topic, reason="too large", size=len(payload))
            return
        if retained and topic in (self.topics.ack, self.topics.resend):
            # A retained command is acted on again at every (re)subscribe: a retained resend
            # would replay its range after every reconnect, for as long as it stays retained.
            log.warning(
                "inbound_dropped",
                topic=topic,
                reason="retained: commands are never retained; clear it with "
                f"mosquitto_pub -r -n -t {topic}",
                size=len(payload),
            )
            return
        try:
            if topic == self.topics.ack:
                self._on_ack(Ack.model_validate_json(payload))
            elif topic == self.topics.resend:
                self._on_resend(Resend.model_validate_json(payload))
            elif self.config.homeassistant.enabled and topic == homeassistant.status_topic(
                self.config
            ):
                if homeassistant.is_birth(payload):
                    self._publish_discovery()
            else:
                log.warning("inbound_dropped", topic=topic, reason="unexpected topic")
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}"
                for e in exc.errors(include_url=False)[:3]
            )
            log.warning("inbound_dropped", topic=topic, reason=reasons, size=len(payload))
        except Exception:  # whatever a message holds, it must not stop the alarms: drop it, loudly
            log.exception("inbound_failed", topic=topic, size=len(payload))

    def _on_ack(self, ack: Ack) -> None:
        assert self.outbox is not None
        try:
            recorded = self.outbox.ack(ack.event_id, ack.by)
        except (StorageError, sqlite3.Error) as exc:  # a full disk: the ack is asked for again
            log.error("ack_not_recorded", event_id=ack.event_id, by=ack.by, error=str(exc))
            return
        if recorded:
            log.info("event_acknowledged", event_id=ack.event_id, by=ack.by)
            self._update_outputs()
        else:
            log.info("ack_ignored", event_id=ack.event_id, reason="unknown or already acknowledged")

    def _on_resend(self, req: Resend) -> None:
        assert self.outbox is not None
        span = req.span()
        room = MAX_QUEUED_RESENDS - len(self._extra)
        if room <= 0:  # bounded memory whatever the control room (or a forger) asks
            log.warning("resend_refused", from_seq=req.from_seq, to_seq=req.to_seq, reason="busy")
            return
        try:
            stored = self.outbox.span(span.start, min(span.stop - 1, span.start + room - 1))
        except sqlite3.Error as exc:  # the control room asks again when it sees the gap still open
            log.error("resend_failed", from_seq=req.from_seq, to_seq=req.to_seq, error=str(exc))
            return
        self._extra.extend((s, Purpose.RESEND) for s in stored)
        log.info("resend_requested", from_seq=req.from_seq, to_seq=req.to_seq, found=len(stored))

    # ------------------------------------------------------------------ periodic

    def _periodic(self, now: float) -> None:
        self._report_damage()
        nxt = self._next
        if now >= nxt["heartbeat"]:
            nxt["heartbeat"] = now + self.config.heartbeat.interval_s
            self._heartbeat(now)
        if self.link is not None and not self.link.alive:
            # paho's network thread is gone: publish() would queue forever. Exit for systemd.
            log.critical("mqtt_thread_died", error=repr(self.link.fatal))
            self.exit_code = 1
            self._running = False
        if now >= nxt["repeat"]:
            nxt["repeat"] = now + REPEAT_CHECK_S
            self._check_overdue(now)
            self._queue_repeats()
        if now >= nxt["telemetry"]:
            nxt["telemetry"] = now + (self.config.telemetry.interval_s or float("inf"))
            self._telemetry()
        if now >= nxt["drill"]:
            self._drill_step(now)
        if self._unopened:
            self._retry_unopened(now)
        if now >= nxt["evict"]:
            nxt["evict"] = now + EVICT_EVERY_S
            assert self.outbox is not None
            self.outbox.evict()
        if now >= nxt["watchdog"]:
            interval = self.notifier.watchdog_interval()
            nxt["watchdog"] = now + (interval / 2 if interval else IDLE_WAKE_S * 10)
            if interval and self.healthy():
                self.notifier.watchdog()

    def healthy(self) -> bool:
        """The watchdog is fed only while the loop turns, paho lives and the store answers."""
        if self.link is None or not self.link.alive:
            return False
        try:
            assert self.outbox is not None
            self.outbox.last_seq()
        except Exception:
            return False
        return True

    def _queue_repeats(self) -> None:
        assert self.outbox is not None
        queued = {s.seq for s, _ in self._extra}
        inflight = {e.seq for e in self.delivery.inflight.values() if e.purpose is Purpose.REPEAT}
        for stored in self.outbox.due_repeats(self.config.alerts.repeat_s, limit=100):
            if stored.seq not in queued and stored.seq not in inflight:
                self._extra.append((stored, Purpose.REPEAT))

    def heartbeat_payload(self) -> Heartbeat:
        assert self.outbox is not None and self.link is not None
        now = self.clock.monotonic()
        sensors = {}
        for sensor_id, machine in self.machines.items():
            cfg = self.builder.sensors[sensor_id]
            last = self.last_samples.get(sensor_id)
            sensors[sensor_id] = SensorHealth(
                state=machine.state,
                stage=machine.stage,
                value=machine.value,
                unit=cfg.unit,
                age_s=None if last is None else round(now - last.t, 3),
            )
        return Heartbeat(
            ts=iso_ms(self.clock.wall()),
            version=__version__,
            uptime_s=round(now - self._started_mono, 3),
            interval_s=self.config.heartbeat.interval_s,
            sensors=sensors,
            outbox_depth=self.outbox.depth() + len(self._pending),
            oldest_undelivered_age_s=self.outbox.oldest_undelivered_age(),
            last_seq=self.outbox.last_seq(),
            broker_connected=self.link.connected.is_set(),
            unacknowledged_alarms=self.outbox.unacked_alarms(),
            storage_ok=not self._pending and self.outbox.last_error is None,
            storage_error=self.outbox.last_error,
            cpu_temp_c=cpu_temperature(),
            last_alarm_latency_s=self.last_alarm_latency,
        )

    def _heartbeat(self, now: float) -> None:
        assert self.link is not None
        beat = self.heartbeat_payload()
        self.link.publish(self.topics.heartbeat, beat.to_json(), qos=0)
        states = ", ".join(f"{k}={v.state.value}" for k, v in beat.sensors.items())
        self.notifier.status(
            f"{'online' if beat.broker_connected else 'OFFLINE'}; seq {beat.last_seq}; "
            f"outbox {beat.outbox_depth}; {states}"[:200]
        )

    def _telemetry(self) -> None:
        assert self.link is not None
        for sensor_id, sample in self.last_samples.items():
            reading = Reading(
                ts=iso_ms(wall_at(self.clock, sample.t)),
                value=sample.value,
                unit=self.builder.sensors[sensor_id].unit,
                raw=sample.raw,
            )
            self.link.publish(self.topics.reading(sensor_id), reading.to_json(), qos=0)

    def _update_outputs(self) -> None:
        if self.annunciator is None or self.outbox is None:
            return
        states = [m.state for m in self.machines.values()]
        held = sum(alarm_at is not None for _, alarm_at in self._pending)
        self.annunciator.update(states, self.outbox.unacked_alarms() + held)

    # ------------------------------------------------------------------ reload

    def _reload(self) -> None:
        assert self.outbox is not None
        self.notifier.reloading()
        path = self.config_path
        try:
            new = load_config(path)
        except ConfigError as exc:
            log.error("config_reload_rejected", path=str(path), reason=str(exc))
            self.outbox.audit("config_reload_rejected", str(exc))
            self.notifier.ready()
            return
        old = self.config
        fixed = ("site", "mqtt", "storage", "gpio", "control")
        needs_restart = [name for name in fixed if getattr(old, name) != getattr(new, name)]
        if needs_restart:
            log.warning(
                "config_reload_partial",
                kept=needs_restart,
                reason="these sections take effect on restart",
            )
        old_sensors = {s.id: s for s in old.sensors}
        new_sensors = {s.id: s for s in new.sensors}
        both = [i for i in old_sensors if i in new_sensors and old_sensors[i] != new_sensors[i]]
        # A new name or place changes the words of the next events, not what is watched:
        # the sensor keeps its machine, its state and its history (an alarm stays an alarm).
        changed = [i for i in both if _watched(old_sensors[i]) != _watched(new_sensors[i])]
        renamed = [i for i in both if i not in changed]
        removed = [i for i in old_sensors if i not in new_sensors]
        added = [i for i in new_sensors if i not in old_sensors]
        if self._drill is not None and set(self._drill.sensors) & set(changed + removed):
            self._drill_end("stopped", "config reloaded")  # its machines are of the old config
        for sensor_id in changed + removed:
            self._remove_sensor(sensor_id)
        merged = new.model_copy(update={name: getattr(old, name) for name in needs_restart})
        self.config = merged
        self.builder = EventBuilder(merged)
        now = self.clock.monotonic()
        for sensor_id in changed + added:
            self._add_sensor(new_sensors[sensor_id], now)
        detail = (
            f"changed={','.join(changed) or '-'} added={','.join(added) or '-'} "
            f"removed={','.join(removed) or '-'}"
            + (f" renamed={','.join(renamed)}" if renamed else "")
        )
        self.outbox.audit("config_reloaded", detail)
        self._device_event(State.NORMAL, Reason.RELOAD, detail)
        self._publish_discovery()
        log.info("config_reloaded", changed=changed, added=added, removed=removed, renamed=renamed)
        self.notifier.ready()

    # ------------------------------------------------------------------ control channel
    # The server answers on its own threads; everything below except `call` and
    # `_start_control` runs on the core thread (through `call`).

    def _start_control(self) -> None:
        server = ControlServer(self.config.control.socket, ControlService(self))
        try:
            server.start()
        except OSError as exc:
            # Never a reason not to watch: only readings, calibrate and drill lose the daemon.
            log.warning("control_unavailable", socket=str(server.path), error=str(exc))
            return
        self.control = server

    def call(self, fn: Callable[[], T], timeout: float = CALL_TIMEOUT_S) -> T:
        """Run ``fn`` on the core thread and return its result; for other threads only."""
        done = threading.Event()
        box: list[tuple[bool, Any]] = []

        def run() -> None:
            try:
                box.append((True, fn()))
            except BaseException as exc:
                box.append((False, exc))
            finally:
                done.set()

        self.post(_Call(run))
        if not done.wait(timeout):
            raise TimeoutError("the daemon's core loop did not answer in time")
        ok, value = box[0]
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def readings(self) -> list[dict[str, Any]]:
        now = self.clock.monotonic()
        return [
            sensor_reading(cfg, self.machines.get(cfg.id), self.last_samples.get(cfg.id), now)
            for cfg in self.config.sensors
        ]

    def tap(self, sensor: str, action: str) -> list[list[float | None]]:
        """Raw samples of one sensor for ``calibrate``: start, read (and clear), stop."""
        now = self.clock.monotonic()
        for stale in [s for s, t in self._tap_read.items() if now - t > TAP_EXPIRY_S]:
            self._taps.pop(stale, None)
            self._tap_read.pop(stale, None)
        if sensor not in self.sensors:
            known = ", ".join(self.sensors) or "none"
            raise ControlError(f"no enabled sensor {sensor!r} (known: {known})")
        if action == "start":
            self._taps[sensor] = []
            self._tap_read[sensor] = now
            return []
        if action == "stop":
            self._taps.pop(sensor, None)
            self._tap_read.pop(sensor, None)
            return []
        samples = self._taps.get(sensor)
        if samples is None:
            raise ControlError(f"no tap on {sensor!r}: tap_start first")
        self._taps[sensor] = []
        self._tap_read[sensor] = now
        return [[s.t, s.value, s.raw] for s in samples]

    # ------------------------------------------------------------------ drills

    def drill_start(self, request: dict[str, Any], who: str) -> dict[str, Any]:
        assert self.outbox is not None
        if self._drill is not None:
            raise ControlError(f"a drill is already running ({self._drill.name})")
        try:
            scenario = Scenario.model_validate(request.get("scenario"))
            traces = {
                str(name): [(float(t), float(v)) for t, v in samples]
                for name, samples in dict(request.get("traces") or {}).items()
            }
            drill = Drill(scenario, traces, self.config, name=str(request.get("name") or "-"))
        except (ValidationError, ScenarioError, DrillError, KeyError, TypeError, ValueError) as exc:
            raise ControlError(f"drill refused: {exc}") from None
        now = self.clock.monotonic()
        self._drill = drill
        self._drill_count += 1
        self._drill_log = []
        self._drill_machines = drill.machines
        sensors = ", ".join(drill.sensors)
        self.outbox.audit(
            "drill_started",
            f"scenario={drill.name} sensors={sensors} duration_s={drill.duration_s:g} by {who}",
        )
        log.warning("drill_started", scenario=drill.name, sensors=list(drill.sensors), by=who)
        english = self.config.site.language.value == "en"
        self._drill_marker(
            f"{'started' if english else 'dimulai'}: {drill.name} "
            f"({drill.duration_s:g} s; {sensors})"
        )
        self._emit(drill.start(now), drill=True)
        self._next["drill"] = now
        return {
            "drill": self._drill_count,
            "name": drill.name,
            "duration_s": drill.duration_s,
            "sensors": list(drill.sensors),
        }

    def drill_status(self, since: int = 0) -> dict[str, Any]:
        drill = self._drill
        now = self.clock.monotonic()
        return {
            "drill": self._drill_count,
            "running": drill is not None,
            "name": None if drill is None else drill.name,
            "elapsed_s": None if drill is None else round(drill.elapsed(now), 3),
            "duration_s": None if drill is None else drill.duration_s,
            "events": [e.model_dump(mode="json", by_alias=True) for e in self._drill_log[since:]],
            "next": len(self._drill_log),
        }

    def drill_stop(self, who: str) -> dict[str, Any]:
        if self._drill is None:
            raise ControlError("no drill is running")
        self._drill_end("stopped", f"by {who}")
        return {"drill": self._drill_count}

    def _drill_step(self, now: float) -> None:
        drill = self._drill
        if drill is None:
            self._next["drill"] = float("inf")
            return
        self._emit(drill.advance(now), drill=True)
        if drill.finished(now):
            self._drill_end("ended", "")
        else:
            self._next["drill"] = max(drill.next_due(), now + DRILL_TICK_S)

    def _drill_end(self, how: str, detail: str) -> None:
        """End the drill: audit always; the marker event only while running (a clean
        shutdown publishes nothing new)."""
        drill, self._drill = self._drill, None
        self._drill_machines = {}
        self._next["drill"] = float("inf")
        if drill is None:
            return
        text = f"scenario={drill.name} how={how} samples={drill.samples_fed} {detail}".strip()
        closed = 0
        if self.outbox is not None:
            self.outbox.audit("drill_ended", text)
            try:
                closed = self.outbox.close_drill(DRILL_CLOSED_BY)
            except (StorageError, sqlite3.Error) as exc:  # they repeat until acked by hand
                log.error("drill_close_failed", error=str(exc))
        log.warning("drill_ended", scenario=drill.name, how=how, detail=detail, closed=closed)
        if self._running:
            english = self.config.site.language.value == "en"
            words = {
                "ended": "ended" if english else "selesai",
                "stopped": "stopped" if english else "dihentikan",
            }
            note = ""
            if closed:
                note = (
                    f"; {closed} unacknowledged drill events closed"
                    if english
                    else f"; {closed} kejadian latihan yang belum dikonfirmasi ditutup"
                )
            self._drill_marker(f"{words.get(how, how)}: {drill.name}{note}")
            self._update_outputs()

    def _drill_marker(self, detail: str) -> None:
        """The drill's start or end, as an info event of the device flagged as a drill."""

        def build(seq: int) -> Event:
            event = self.builder.device_event(
                state=State.NORMAL,
                previous=State.NORMAL,
                reason=Reason.DRILL,
                detail=detail,
                seq=seq,
                event_id=new_event_id(),
                wall=self.clock.wall(),
            )
            return event.model_copy(update={"drill": True})

        event = self._store(build)
        if event is not None:
            self._drill_log.append(event)

    # ------------------------------------------------------------------ Home Assistant

    def _publish_discovery(self) -> None:
        if not self.config.homeassistant.enabled or self.link is None:
            return
        topic, payload = homeassistant.discovery_message(self.config)
        self.link.publish(topic, payload, qos=1, retain=False)


def _watched(cfg: SensorConfig) -> SensorConfig:
    """The part of a sensor's config that decides what it detects: all but its words."""
    return cfg.model_copy(update={"name": "", "location": ""})


class _LinkBridge:
    """paho's thread -> the core queue. Nothing here touches daemon state."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def on_connected(self, url: str, session_present: bool) -> None:
        self.daemon.post(_Control("connected", url))

    def on_disconnected(self, reason: str) -> None:
        self.daemon.post(_Control("disconnected", reason))

    def on_puback(self, mid: int, ok: bool, reason: str) -> None:
        self.daemon.post(_Puback(mid, ok, reason))

    def on_message(
        self, topic: str, payload: bytes, retained: bool, user: Mapping[str, str]
    ) -> None:
        self.daemon.post(_Inbound(topic, payload, retained))

    def on_fatal(self, error: BaseException) -> None:
        self.daemon.post(_Fatal(error))
