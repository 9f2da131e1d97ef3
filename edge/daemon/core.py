"""The core thread's turn: wait for the next message or deadline, then step.

Everything that changes state happens here, on the core thread, in order: samples,
PUBACKs and inbound messages, signals, drills, control requests each arrive as a message
in the :class:`~edge.daemon.inbox.Inbox`. The core only orchestrates:

- :meth:`Core.wait` is its one blocking call: until a message comes or the earliest
  deadline any room names (``wake_at``), as trio's loop asks its clock;
- :meth:`Core.step` handles what is waiting, ticks what is due, and pumps delivery, all
  at the ``now`` it is given: tests drive it with a ``FakeClock``.

The alarm path has one order, written in :meth:`Core._record`: siren, commit, publish,
on the wire, retained state; then the log. The rooms never hold each other or the core:
they take ports (the store, the publisher) and return values; only the core calls across
them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, assert_never

from edge import __version__, homeassistant, logs, messages
from edge.clock import Clock, iso_ms, wall_at
from edge.config import ConfigError, SiagaConfig, load_config
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
    LinkDown,
    LinkUp,
    Message,
    Puback,
    Reload,
    Stop,
)
from edge.daemon.recorder import Build, Recorder
from edge.daemon.reload import plan_reload
from edge.daemon.sensor_set import SensorSet
from edge.detect.types import Reason, State, Transition
from edge.events import EventBuilder, new_event_id
from edge.outbox import Outbox
from edge.outputs import Annunciator
from edge.payloads import Ack, Event, Heartbeat, Resend, Status
from edge.sdnotify import Notifier
from edge.sensors import Sample
from edge.topics import Topics
from edge.walktest import Change, ChangeKind, WalkTest

log = logs.get("daemon")

IDLE_WAKE_S = 1.0  # the loop looks at paho's thread at least this often


class Link(Publisher, Protocol):
    """The publisher the daemon also starts and stops; :class:`MqttLink` is one."""

    fatal: BaseException | None

    def start(self) -> None: ...

    def stop(self, timeout: float = ...) -> None: ...

    @property
    def alive(self) -> bool: ...


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


class Core:
    """The core thread's turn: :meth:`wait`, :meth:`step`, the handling of each message
    and the alarm path. :class:`~edge.daemon.loop.Daemon` is this core with a process
    around it (start, run, shutdown, the control surface)."""

    def __init__(
        self, config: SiagaConfig, clock: Clock, pin_factory: Any, notifier: Notifier
    ) -> None:
        self.config = config
        self.config_path: Path | None = None
        self.clock = clock
        self.factory = pin_factory
        self.notifier = notifier
        self.inbox = Inbox()
        self.topics = Topics(config.mqtt.topic_prefix, config.site.id, config.site.device)
        self.builder = EventBuilder(config)
        self.walk = WalkTest(s.id for s in config.sensors)
        self.sensors = SensorSet(pin_factory, clock, self.inbox.post, muted=self.walk.in_test)
        self.exit_code = 0
        self._running = False
        self._first: Message | None = None  # what `wait` received, for `step`
        # The rooms, furnished by Daemon.start:
        self.outbox: Outbox
        self.link: Link
        self.annunciator: Annunciator
        self.recorder: Recorder
        self.courier: Courier
        self.health: Health
        self.drills: DrillRunner

    # ------------------------------------------------------------------ the turn

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
                for found in [] if seq is None else self.health.delivered(seq, now):
                    self._device_event(found.state, found.reason, found.detail)
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
            alarm = tr.state is State.ALARM and not (drill or test or self.builder.votes(tr))
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

    # ------------------------------------------------------------------ reload, exercises

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
