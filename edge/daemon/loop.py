"""The daemon: one core thread between the sensors, the store and the MQTT link.

Everything that changes state happens on the core thread, in order: samples, PUBACKs
and inbound messages, signals, drills, control requests each arrive as a message in the
:class:`~edge.daemon.inbox.Inbox`. The loop only orchestrates:

- :meth:`Daemon.wait` is its one blocking call: until a message comes or the earliest
  deadline any collaborator names (``wake_at``), as trio's loop asks its clock;
- :meth:`Daemon.step` handles what is waiting, ticks what is due, and pumps delivery,
  all at the ``now`` it is given: tests drive it with a ``FakeClock``.

The alarm path has one order, written in :meth:`Daemon._record`: siren, commit, publish,
on the wire, retained state; then the log. Collaborators never hold each other or the
daemon: they take ports (the store, the publisher) and return values; only this loop
calls across them.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TypeVar, assert_never

from edge import __version__, homeassistant, logs, messages
from edge.clock import Clock, iso_ms, wall_at
from edge.config import ConfigError, MqttConfig, SiagaConfig, load_config
from edge.control import (
    CALL_TIMEOUT_S,
    ControlError,
    ControlServer,
    ControlService,
    serve_control,
)
from edge.daemon.courier import Courier, Publisher
from edge.daemon.drills import DrillRunner
from edge.daemon.health import Health, StoreFigures
from edge.daemon.inbound import (
    AckTaken,
    Dropped,
    HaBirth,
    Ignored,
    parse_inbound,
    receipt,
    take_ack,
)
from edge.daemon.inbox import (
    Call,
    Fatal,
    Inbound,
    Inbox,
    LinkBridge,
    LinkDown,
    LinkUp,
    Message,
    Puback,
    Reload,
    Stop,
    call_on,
)
from edge.daemon.recorder import Build, Recorder
from edge.daemon.reload import plan_reload
from edge.daemon.sensor_set import SensorSet
from edge.detect.types import Reason, State, Transition
from edge.events import EventBuilder, new_event_id
from edge.mqtt import LinkHandler, MqttLink, Will
from edge.outbox import Outbox, StorageError
from edge.outputs import Annunciator
from edge.payloads import Ack, Event, Heartbeat, Resend, Status
from edge.platform.monitor import Probe
from edge.sdnotify import Notifier
from edge.sensors import Sample, open_hint
from edge.topics import Topics
from edge.walktest import Change, ChangeKind, WalkTest

log = logs.get("daemon")

IDLE_WAKE_S = 1.0  # the loop looks at paho's thread at least this often
SHUTDOWN_FLUSH_S = 3.0  # delivering what waits, at most, at a clean stop
STATUS_WAIT_S = 2.0  # for the PUBACK of the offline status
SHUTDOWN_TURN_S = 0.05
T = TypeVar("T")


class Link(Publisher, Protocol):
    """The publisher the daemon also starts and stops; :class:`MqttLink` is one."""

    fatal: BaseException | None

    def start(self) -> None: ...

    def stop(self, timeout: float = ...) -> None: ...

    @property
    def alive(self) -> bool: ...


LinkFactory = Callable[[MqttConfig, str, LinkHandler, Will, tuple[str, ...]], Link]
OutboxFactory = Callable[[SiagaConfig, Clock], Outbox]


def link_args(
    cfg: SiagaConfig, topics: Topics, post: Callable[[Message], None], wall: float
) -> tuple[MqttConfig, str, LinkHandler, Will, tuple[str, ...]]:
    """The device's MQTT identity: client id, Will (offline, retained), subscriptions."""
    offline = Status(state="offline", ts=iso_ms(wall), version=__version__)
    ha = (homeassistant.status_topic(cfg),) if cfg.homeassistant.enabled else ()
    return (
        cfg.mqtt,
        f"siaga-{cfg.site.id}-{cfg.site.device}",
        LinkBridge(post),
        Will(topics.status, offline.to_json()),
        (topics.ack, topics.resend, *ha),
    )


def mqtt_link(
    cfg: MqttConfig, client_id: str, handler: LinkHandler, will: Will, subs: tuple[str, ...]
) -> Link:
    return MqttLink(cfg, client_id, handler, will=will, subscriptions=subs)


def sqlite_outbox(cfg: SiagaConfig, clock: Clock) -> Outbox:
    s = cfg.storage
    return Outbox(
        s.path,
        retain_days=s.retain_days,
        max_mb=s.max_mb,
        wall=clock.wall,
        max_page_count=s.max_page_count,
    )


def log_transition(tr: Transition, drill: bool, seq: int | None) -> None:
    (log.warning if tr.state in (State.ALARM, State.FAULT) else log.info)(
        "sensor_state_changed",
        sensor=tr.sensor,
        state=tr.state.value,
        previous=tr.previous.value,
        reason=tr.reason.value,
        stage=tr.stage,
        value=tr.value,
        drill=drill,
        seq=seq,
    )


def healthy(link: Link, outbox: Outbox) -> bool:
    """The watchdog is fed only while the loop turns, paho lives and the store answers."""
    if not link.alive:
        return False
    try:
        outbox.last_seq()
    except Exception:
        return False
    return True


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
        link_factory: LinkFactory = mqtt_link,
        outbox_factory: OutboxFactory = sqlite_outbox,
        control: bool = True,
        probe: Probe | None = None,
    ) -> None:
        """``link_factory``/``outbox_factory``/``probe`` (the Pi's readers): what tests
        inject; ``control``: whether to serve the local control socket."""
        self.config = config
        self.config_path = config_path
        self.clock = clock
        self.factory = pin_factory
        self.notifier = notifier or Notifier()
        self.on_started = on_started
        self._link_factory, self._outbox_factory = link_factory, outbox_factory
        self._serve_control, self._probe = control, probe
        self.inbox = Inbox()
        self.topics = Topics(config.mqtt.topic_prefix, config.site.id, config.site.device)
        self.builder = EventBuilder(config)
        self.walk = WalkTest(s.id for s in config.sensors)
        self.sensors = SensorSet(pin_factory, clock, self.post, muted=self.walk.in_test)
        self.exit_code = 0
        self.ready = threading.Event()
        self.control: ControlServer | None = None
        self._running = False
        self._first: Message | None = None  # what `wait` received, for `step`
        self.outbox: Outbox
        self.link: Link
        self.annunciator: Annunciator
        self.recorder: Recorder
        self.courier: Courier
        self.health: Health
        self.drills: DrillRunner

    # ------------------------------------------------------------------ lifecycle

    def run(self) -> int:
        """Start, loop until told to stop, stop cleanly; the exit code."""
        self.start()
        try:
            while self._running:
                self.wait()
                self.step(self.clock.monotonic())
        except Exception:
            # A bug in the loop must end in a restart by systemd, not in a silent zombie;
            # everything committed is in the store and goes out after the restart.
            log.exception("core_loop_crashed")
            self.exit_code = 1
        finally:
            self.shutdown()
        return self.exit_code

    def post(self, message: Message) -> None:
        self.inbox.post(message)

    def stop(self) -> None:
        self.post(Stop())

    def reload(self) -> None:
        self.post(Reload())

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        signal.signal(signal.SIGINT, lambda *_: self.stop())
        signal.signal(signal.SIGHUP, lambda *_: self.reload())

    def start(self) -> None:
        cfg, now = self.config, self.clock.monotonic()
        try:
            self.outbox = self._outbox_factory(cfg, self.clock)
        except StorageError as exc:
            log.critical("store_unavailable", path=str(cfg.storage.path), error=str(exc))
            raise
        self.link = self._link_factory(*link_args(cfg, self.topics, self.post, self.clock.wall()))
        self.recorder = Recorder(self.outbox, now)
        self.courier = Courier(
            self.outbox, self.link, self.topics, cfg.mqtt, repeat_s=cfg.alerts.repeat_s, now=now
        )
        self.health = Health(cfg, now, self.notifier.watchdog_interval(), self._probe)
        self.drills = DrillRunner(self.outbox)
        self.annunciator = Annunciator(cfg.outputs, self.factory)
        replaced = self.recorder.replaced()
        if replaced is not None:
            self._device_event(State.FAULT, Reason.STORAGE, replaced)
        for field, error in self.annunciator.failed:
            log.error("output_unavailable", field=field, error=str(error), hint=open_hint(error))
            self._device_event(State.FAULT, Reason.OUTPUTS, f"{field}: {error}")
        self.outbox.audit("daemon_started", f"version={__version__}")
        self._emit(self.sensors.start(cfg, now))
        self.link.start()
        self._running = True
        # Alerts are accepted from here on, whether or not the broker answers.
        self.notifier.ready()
        self.notifier.status(f"running: {len(self.sensors.machines)} sensors")
        self.ready.set()
        log.info(
            "daemon_ready",
            site=cfg.site.id,
            device=cfg.site.device,
            sensors=len(self.sensors.machines),
            last_seq=self.outbox.last_seq(),
            undelivered=self.outbox.depth(),
        )
        if self._serve_control:
            self.control = serve_control(self.config.control.socket, ControlService(self))
        if self.on_started is not None:
            self.on_started(self)

    def shutdown(self) -> None:
        """One order: stop taking requests, end a drill, release the pins, store what came
        in, deliver what the broker will take in a few seconds, say offline, close."""
        self.notifier.stopping()
        log.info("daemon_stopping")
        if self.control is not None:
            self.control.stop()
        self.drills.end("interrupted", "daemon stopping", self.config.site.language.value)
        self.sensors.close()
        try:  # edges that arrived before the pins closed are real: store them
            for msg in self.inbox.take():
                self.handle(msg, self.clock.monotonic())
            self.courier.flush_marks(self.clock.monotonic())
        except Exception:
            log.exception("shutdown_drain_failed")
        if self.exit_code == 0:
            # Bounded by turns, not by the clock: a clock that does not move ends it too.
            for _ in range(int(SHUTDOWN_FLUSH_S / SHUTDOWN_TURN_S)):
                self.courier.pump(self.clock.monotonic())
                if not self.courier.connected or self.courier.idle:
                    break
                self._handle_next(SHUTDOWN_TURN_S)
            status = Status(state="offline", ts=iso_ms(self.clock.wall()), version=__version__)
            mid = self.link.publish(self.topics.status, status.to_json(), qos=1, retain=True)
            for _ in range(int(STATUS_WAIT_S / SHUTDOWN_TURN_S) if mid is not None else 0):
                answer = self._handle_next(SHUTDOWN_TURN_S)
                if isinstance(answer, Puback) and answer.mid == mid:
                    break
        self.link.stop()
        self.annunciator.close()
        self.outbox.audit("daemon_stopped", f"exit_code={self.exit_code}")
        self.outbox.close()
        log.info("daemon_stopped", exit_code=self.exit_code)

    def _handle_next(self, timeout: float) -> Message | None:
        """At shutdown: one message, if one comes within ``timeout``, and its marks."""
        msg = self.inbox.wait(timeout)
        if msg is not None:
            self.handle(msg, self.clock.monotonic())
        self.courier.flush_marks(self.clock.monotonic())
        return msg

    # ------------------------------------------------------------------ the loop

    def wait(self) -> None:
        """Block until a message comes or the earliest deadline passes."""
        if self._first is None:
            self._first = self.inbox.wait(self.sleep_for(self.clock.monotonic()))

    def sleep_for(self, now: float) -> float:
        times = [
            now + IDLE_WAKE_S,
            self.courier.wake_at(now),
            self.health.wake_at(),
            self.recorder.wake_at(),
        ]
        more = (self.sensors.wake_at(), self.drills.wake_at(), self.walk.due())
        times += [t for t in (*more, self.annunciator.deadline()) if t is not None]
        return max(0.0, min(times) - now)

    def step(self, now: float) -> None:
        """Handle what waits, without blocking; then everything due at ``now``."""
        waiting = ([self._first] if self._first is not None else []) + self.inbox.take()
        self._first = None
        for msg in waiting:
            self.handle(msg, now)
        self._emit(self.sensors.tick(now))
        transitions, finished = self.drills.step(now)
        self._emit(transitions, drill=True)
        if finished:
            self._end_drill("ended", "")
        for change in self.walk.expire(now):
            self._walk_changed(change, "")
        self.annunciator.tick(now)  # a siren test that is over gives the siren back
        for done in self.recorder.retry(now):
            if done.alarm_at is not None:  # measured from its decision: the disk made it late
                self.health.alarm_committed(done.event.seq, done.alarm_at)
            self.courier.retain(done.event, now)
        self.courier.run_due(now)
        self._periodic(now)
        self.courier.pump(now)

    def handle(self, msg: Message, now: float) -> None:
        match msg:
            case Sample():
                self._emit(self.sensors.sample(msg))
            case Puback(mid, ok, reason):
                seq = self.courier.on_puback(mid, ok, reason, now)
                late = None if seq is None else self.health.delivered(seq, now)
                if late is not None:
                    self._device_event(State.FAULT, Reason.LATENCY, late)
            case Inbound(topic, payload, retained):
                self._on_inbound(topic, payload, retained, now)
            case LinkUp():
                online = Status(state="online", ts=iso_ms(self.clock.wall()), version=__version__)
                self.courier.on_connected(now, online.to_json(), sensors=len(self.sensors.machines))
                self._publish_discovery()
                self.notifier.status("broker connected")
            case LinkDown(reason):
                self.notifier.status(f"broker disconnected: {reason}")
            case Stop():
                self._running = False
            case Reload():
                self._reload(now)
            case Fatal(error):
                log.critical("daemon_fatal", error=repr(error))
                self.exit_code = 1
                self._running = False
            case Call(fn):
                fn()
            case _:
                assert_never(msg)

    def _periodic(self, now: float) -> None:
        damage = self.recorder.damage()
        if damage is not None:
            self._device_event(State.FAULT, Reason.STORAGE, damage)
        for found in self.health.findings(now):  # the Pi: storage, watchdog, clock, power
            self._device_event(found.state, found.reason, found.detail)
        if self.health.heartbeat_due(now):
            self._heartbeat(now)
        if not self.link.alive:
            # paho's network thread is gone: publish() would queue forever. Exit for systemd.
            log.critical("mqtt_thread_died", error=repr(self.link.fatal))
            self.exit_code = 1
            self._running = False
        if self.health.telemetry_due(now):
            offset = self.clock.wall() - self.clock.monotonic()
            for sensor_id, reading in Health.readings(
                self.sensors.last, self.sensors.configs, offset
            ):
                self.courier.publish(self.topics.reading(sensor_id), reading.to_json(), qos=0)
        self.recorder.upkeep(now)
        if self.health.watchdog_due(now) and healthy(self.link, self.outbox):
            self.notifier.watchdog()

    # ------------------------------------------------------------------ the alarm path

    def _emit(self, transitions: list[Transition], *, drill: bool = False) -> None:
        if not transitions:
            return  # most samples change nothing: no outputs to drive, no SQL to run
        for found in transitions:
            if drill and found.reason is Reason.STARTUP:
                continue  # a drill's own machines warming up is not news
            tr = found
            if tr.reason is Reason.STARTUP and tr.state in (State.STARTING, State.DISABLED):
                # what the sensor really was before this start (never a drill's state)
                tr = replace(tr, previous=self.courier.real_state(tr.sensor) or tr.previous)
            test = not drill and self.walk.in_test(tr.sensor, tr.t)
            alarm = tr.state is State.ALARM and not drill and not test
            wall = wall_at(self.clock, tr.t)
            build = self.builder.sensor_build(tr, wall, drill=drill, test=test)
            event = self._record(build, alarm_at=tr.t if alarm else None)
            log_transition(tr, drill, None if event is None else event.seq)
            if event is not None and drill:
                self.drills.events.append(event)
        self._update_outputs()

    def _record(self, build: Build, *, alarm_at: float | None = None) -> Event | None:
        """Siren, commit, publish, on the wire, retained state: the one order. ``alarm_at``:
        a real alarm decided then; held by a full disk, it is announced at once in an
        extra heartbeat (the live state of every sensor), since its event must wait."""
        now = self.clock.monotonic()
        if alarm_at is not None:
            self.annunciator.alarm_raised()
        event = self.recorder.store(build, now, alarm_at)
        if event is None:
            if alarm_at is not None and self.courier.connected:
                self._heartbeat(now)
            return None
        if alarm_at is not None:
            self.health.alarm_committed(event.seq, alarm_at)
        self.courier.send_new(now)
        self.courier.retain(event, now)
        return event

    def _device_event(
        self, state: State, reason: Reason, detail: str, drill: bool = False, test: bool = False
    ) -> None:
        wall = self.clock.wall()

        def build(seq: int) -> Event:
            return self.builder.device_event(
                state,
                reason,
                detail,
                seq=seq,
                event_id=new_event_id(),
                wall=wall,
                drill=drill,
                test=test,
            )

        (log.info if state is State.NORMAL else log.warning)(
            "device_event", state=state.value, reason=reason.value, detail=detail, drill=drill
        )
        event = self._record(build)
        if event is not None and drill:
            self.drills.events.append(event)

    def _update_outputs(self) -> None:
        unacked = self.outbox.unacked_alarms() + self.recorder.held_alarms
        self.annunciator.update(self.sensors.states(), unacked)

    def heartbeat_payload(self) -> Heartbeat:
        store = StoreFigures.of(self.outbox, len(self.recorder.held))
        now, wall = self.clock.monotonic(), self.clock.wall()
        return self.health.heartbeat(now, wall, self.sensors, store, self.courier.connected)

    def _heartbeat(self, now: float) -> None:
        beat = self.heartbeat_payload()
        self.courier.publish(self.topics.heartbeat, beat.to_json(), qos=0)
        self.notifier.status(Health.status_line(beat))

    # ------------------------------------------------------------------ inbound

    def _on_inbound(self, topic: str, payload: bytes, retained: bool, now: float) -> None:
        ha = homeassistant.status_topic(self.config) if self.config.homeassistant.enabled else None
        command = parse_inbound(topic, payload, retained=retained, topics=self.topics, ha_status=ha)
        try:
            match command:
                case Ack():
                    taken = take_ack(self.outbox, command)
                    self._receipt(command.event_id, command.by, taken)
                    if taken.recorded:
                        sensor = self.outbox.sensor_of(command.event_id)  # a latch may let go
                        self._emit(self.sensors.acknowledge(sensor or "", now))
                        self._update_outputs()
                case Resend():
                    self.courier.resend(command)
                case HaBirth():
                    self._publish_discovery()
                case Ignored():
                    pass
                case Dropped(reason, event_id, by):
                    log.warning("inbound_dropped", topic=topic, reason=reason, size=len(payload))
                    if event_id is not None:
                        self._receipt(event_id, by or "", AckTaken(False, False, reason))
                case _:
                    assert_never(command)
        except Exception:  # whatever a message holds, it must not stop the alarms: drop it, loudly
            log.exception("inbound_failed", topic=topic, size=len(payload))

    def _receipt(self, event_id: str, by: str, taken: AckTaken) -> None:
        payload = receipt(event_id, by, self.clock.wall(), taken)
        self.courier.publish(self.topics.acked, payload, qos=1)

    def _publish_discovery(self) -> None:
        if self.config.homeassistant.enabled:
            topic, payload = homeassistant.discovery_message(self.config)
            self.courier.publish(topic, payload, qos=1)

    # ------------------------------------------------------------------ reload

    def _reload(self, now: float) -> None:
        self.notifier.reloading()
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("config_reload_rejected", path=str(self.config_path), reason=str(exc))
            self.outbox.audit("config_reload_rejected", str(exc))
            self.notifier.ready()
            return
        plan = plan_reload(self.config, new)
        if plan.needs_restart:
            log.warning(
                "config_reload_partial",
                kept=plan.needs_restart,
                reason="these sections take effect on restart",
            )
        if self.drills.touches(plan.changed + plan.removed):
            self._end_drill("stopped", "config reloaded")  # its machines are of the old config
        self.config, self.builder = plan.config, EventBuilder(plan.config)
        self.walk.stop(plan.removed + plan.changed, now)  # their tests were of the old sensor
        self.walk.sensors = [s.id for s in plan.config.sensors]
        self.health.config, self.courier.repeat_s = plan.config, plan.config.alerts.repeat_s
        self._emit(self.sensors.apply(plan, now))
        self.outbox.audit("config_reloaded", plan.detail)
        self._device_event(State.NORMAL, Reason.RELOAD, plan.detail)
        self._publish_discovery()
        log.info("config_reloaded", detail=plan.detail)
        self.notifier.ready()

    # ------------------------------------------------------------------ control channel
    # The server answers on its own threads; all below but `call` runs on the core thread
    # (through `call`).

    def call(self, fn: Callable[[], T], timeout: float = CALL_TIMEOUT_S) -> T:
        """Run ``fn`` on the core thread and return its result; for other threads only."""
        return call_on(self.post, fn, timeout)

    def readings(self) -> list[dict[str, Any]]:
        return self.sensors.readings(self.config.sensors, self.clock.monotonic())

    def tap(self, sensor: str, action: str) -> list[list[float | None]]:
        return self.sensors.tap(sensor, action, self.clock.monotonic())

    def drill_start(self, request: dict[str, Any], who: str) -> dict[str, Any]:
        started = self.drills.start(request, who, self.config, self.clock.monotonic())
        self._device_event(State.NORMAL, Reason.DRILL, started.marker, drill=True)
        self._emit(started.transitions, drill=True)
        return started.answer

    def drill_status(self, since: int = 0) -> dict[str, Any]:
        return self.drills.status(self.clock.monotonic(), since)

    def drill_stop(self, who: str) -> dict[str, Any]:
        if self.drills.drill is None:
            raise ControlError("no drill is running")
        self._end_drill("stopped", f"by {who}")
        return {"drill": self.drills.count}

    def walk_test_start(self, sensors: list[str], minutes: float, who: str) -> dict[str, Any]:
        now = self.clock.monotonic()
        changes = self.walk.start(sensors, minutes, now, who)
        for change in changes:
            self._walk_changed(change, who)
        return {
            "sensors": [c.sensor for c in changes],
            "minutes": minutes,
            "remaining_s": round(minutes * 60.0, 1),
        }

    def walk_test_stop(self, sensors: list[str] | None, who: str) -> dict[str, Any]:
        changes = self.walk.stop(sensors, self.clock.monotonic())
        for change in changes:
            self._walk_changed(change, who)
        return {"sensors": [c.sensor for c in changes]}

    def walk_test_status(self) -> dict[str, Any]:
        return {"sensors": self.walk.status(self.clock.monotonic())}

    def siren_test(self, seconds: float, who: str) -> dict[str, Any]:
        if self.annunciator.siren is None and self.annunciator.led is None:
            raise ControlError("no siren and no status LED are configured (outputs)")
        try:
            self.annunciator.siren_test(self.clock.monotonic(), seconds)
        except ValueError as exc:
            raise ControlError(str(exc)) from None
        lang = self.config.site.language.value
        self._device_event(
            State.NORMAL, Reason.TEST, messages.siren_test(lang, seconds, who), test=True
        )
        return {"seconds": seconds}

    def _walk_changed(self, change: Change, who: str) -> None:
        """Audited as a test event of the device; a sensor back from test goes back to
        real service: its present state is published as real if it is not the last one."""
        minutes = None if change.until is None else (change.until - change.at) / 60.0
        lang = self.config.site.language.value
        detail = messages.walk_test_changed(lang, change.why, change.sensor, minutes, who)
        self.outbox.audit(f"walk_test_{change.kind.value}", detail)
        self._device_event(State.NORMAL, Reason.TEST, detail, test=True)
        if change.kind is ChangeKind.END:
            present = self.sensors.rejoin(change.sensor, self.clock.monotonic())
            real = self.courier.real_state(change.sensor)
            if present is not None and present.state is not real:
                self._emit([replace(present, previous=real or present.state)])

    def _end_drill(self, how: str, detail: str) -> None:
        """The marker event only while running: a clean shutdown publishes nothing new."""
        marker = self.drills.end(how, detail, self.config.site.language.value)
        if marker is not None and self._running:
            self._device_event(State.NORMAL, Reason.DRILL, marker, drill=True)
            self._update_outputs()
