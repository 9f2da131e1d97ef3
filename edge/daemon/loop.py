"""The daemon process: the core (``core.py``) with a life around it.

:class:`Daemon` opens the store and the link, furnishes the rooms, runs the core's turn
until told to stop, and stops in one explicit order. It also answers the local control
socket (readings, calibrate taps, drills, walk and siren tests): the server's threads
ask through :meth:`Daemon.call`, and each request runs on the core thread.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from edge import __version__, homeassistant, logs, messages
from edge.clock import Clock, iso_ms
from edge.config import MqttConfig, SiagaConfig
from edge.control import (
    CALL_TIMEOUT_S,
    ControlError,
    ControlServer,
    ControlService,
    serve_control,
)
from edge.daemon.core import Core, Link
from edge.daemon.courier import Courier
from edge.daemon.drills import DrillRunner
from edge.daemon.health import Health
from edge.daemon.inbox import (
    LinkBridge,
    Message,
    Puback,
    Reload,
    Stop,
    call_on,
)
from edge.daemon.recorder import Recorder
from edge.detect.types import Reason, State
from edge.mqtt import LinkHandler, MqttLink, Will
from edge.outbox import Outbox, StorageError
from edge.outputs import Annunciator
from edge.payloads import Status
from edge.platform.monitor import Probe
from edge.sdnotify import Notifier
from edge.sensors import open_hint
from edge.topics import Topics

log = logs.get("daemon")

SHUTDOWN_FLUSH_S = 3.0  # delivering what waits, at most, at a clean stop
STATUS_WAIT_S = 2.0  # for the PUBACK of the offline status
SHUTDOWN_TURN_S = 0.05
T = TypeVar("T")


LinkFactory = Callable[[MqttConfig, str, LinkHandler, Will, tuple[str, ...]], Link]
OutboxFactory = Callable[[SiagaConfig, Clock], Outbox]


def link_args(
    cfg: SiagaConfig, topics: Topics, post: Callable[[Message], None], wall: float
) -> tuple[MqttConfig, str, LinkHandler, Will, tuple[str, ...]]:
    """The device's MQTT identity: client id, Will (offline, retained), subscriptions."""
    offline = Status(state="offline", ts=iso_ms(wall), version=__version__, reason="lost")
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


class Daemon(Core):
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
        super().__init__(config, clock, pin_factory, notifier or Notifier())
        self.config_path = config_path
        self.on_started = on_started
        self._link_factory, self._outbox_factory = link_factory, outbox_factory
        self._serve_control, self._probe = control, probe
        self.ready = threading.Event()
        self.control: ControlServer | None = None

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
            status = Status(
                state="offline", ts=iso_ms(self.clock.wall()), version=__version__, reason="stopped"
            )
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

    # ------------------------------------------------------------------ control channel
    # The server answers on its own threads; all below but `call` runs on the core
    # thread (through `call`).

    def call(self, fn: Callable[[], T], timeout: float = CALL_TIMEOUT_S) -> T:
        """Run ``fn`` on the core thread and return its result; for other threads only."""
        return call_on(self.post, fn, timeout)

    def readings(self) -> list[dict[str, Any]]:
        return self.sensors.readings(self.config.sensors, self.clock.monotonic())

    def tap(self, sensor: str, action: str) -> list[list[float | None]]:
        return self.sensors.tap(sensor, action, self.clock.monotonic())

    def drill_start(self, request: dict[str, Any], who: str) -> dict[str, Any]:
        now = self.clock.monotonic()
        present = self.sensors.present(now, Reason.DRILL)
        started = self.drills.start(request, who, self.config, now, present)
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
