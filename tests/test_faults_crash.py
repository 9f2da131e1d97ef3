"""An exception where no one expects one: inside a paho callback, or inside paho itself.

Either would leave paho's network thread dead while ``publish()`` keeps queueing: a zombie
that looks alive. The daemon must exit non-zero instead (systemd restarts it), and the
outbox must still hold everything, so the next run delivers it.
"""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest
from broker import Mosquitto
from faultkit import (
    DaemonProcess,
    assert_every_event_arrived,
    config_text,
    prefill,
    read_store,
    storm_config,
)
from gpiozero.pins.mock import MockFactory
from harness import Listener, ThreadedDaemon, running_daemon

from edge.mqtt import MqttLink


def test_an_exception_in_a_paho_callback_ends_the_daemon_non_zero_and_loses_nothing(
    broker: Mosquitto, listener: Listener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "outbox.sqlite3"
    prefill(store, 500)
    calls = 0
    on_publish = MqttLink._on_publish

    def failing(self: MqttLink, *args: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 100:
            raise RuntimeError("injected: a bug in on_publish")
        on_publish(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(MqttLink, "_on_publish", failing)
    device = ThreadedDaemon(storm_config(broker.url, store), MockFactory())
    device.thread.join(20)
    assert not device.thread.is_alive()
    assert device.exit_code == 1
    assert read_store(store).undelivered  # it died mid-drain
    monkeypatch.undo()
    with running_daemon(storm_config(broker.url, store), MockFactory()):  # systemd's restart
        assert_every_event_arrived(listener, store, timeout=30)


INJECT = {
    "callback": """
        import edge.mqtt as target
        name = "_on_publish"
        owner = target.MqttLink
    """,
    "paho itself": """
        import paho.mqtt.client as target
        name = "_handle_pubackcomp"
        owner = target.Client
    """,
}


def injected_run(config: Path, where: str) -> list[str]:
    """``siaga-edge run`` with an exception injected at the 200th call of ``where``."""
    code = textwrap.dedent(INJECT[where]) + textwrap.dedent(f"""
        import sys
        from edge.cli import main
        original = getattr(owner, name)
        calls = [0]
        def failing(*args, **kwargs):
            calls[0] += 1
            if calls[0] == 200:
                raise RuntimeError("injected fault in " + name)
            return original(*args, **kwargs)
        setattr(owner, name, failing)
        raise SystemExit(main(["run", "-c", {str(config)!r}]))
    """)
    return [sys.executable, "-c", code]


@pytest.mark.faults
@pytest.mark.timeout(120)
@pytest.mark.parametrize("where", ["callback", "paho itself"])
def test_a_process_whose_mqtt_thread_fails_exits_non_zero_and_the_restart_delivers_all(
    broker: Mosquitto, listener: Listener, tmp_path: Path, where: str
) -> None:
    store = tmp_path / "outbox.sqlite3"
    prefill(store, 3000)
    config = tmp_path / "config.toml"
    config.write_text(config_text(broker.url, store))
    log = tmp_path / "daemon.log"
    broken = DaemonProcess(config, log, argv=injected_run(config, where))
    t0 = time.monotonic()
    try:
        code = broken.wait(timeout=60)
    finally:
        broken.kill()
    died_after = time.monotonic() - t0
    assert code == 1
    reason = "mqtt_callback_failed" if where == "callback" else "mqtt_thread_died"
    assert broken.logged(reason)[0]["level"] == "critical"
    left = len(read_store(store).undelivered)
    assert left > 0
    restarted = DaemonProcess(config, log)
    try:
        restarted.wait_logged("daemon_ready")
        verdict = assert_every_event_arrived(listener, store, timeout=60)
        assert restarted.terminate() == 0
    finally:
        restarted.kill()
    print(
        f"{where}: exit 1 after {died_after:.1f} s with {left} undelivered; "
        f"after the restart all {verdict.created} arrived ({verdict.duplicates} duplicates)"
    )
