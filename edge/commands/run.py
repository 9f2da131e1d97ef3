"""The daemon. SIGTERM/SIGINT stop it cleanly; SIGHUP reloads the config.

``--simulate SCENARIO`` drives the configured sensors' pins on gpiozero's mock pin
factory from a scenario file instead of real hardware; detection, storage, MQTT and the
local outputs run their production code.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from edge import logs
from edge.clock import SystemClock
from edge.commands import early_signals
from edge.config import PinFactoryName, config_path, load_config
from edge.daemon import Daemon
from edge.mqtt import SecretError
from edge.sensors import pin_factory

log = logs.get("run")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--simulate", metavar="SCENARIO", type=Path, help="drive mock pins from a scenario file"
    )


def run(args: argparse.Namespace) -> int:
    path = config_path(args.config)
    config = load_config(path)
    logs.configure(config.logging.level, config.logging.format)
    clock = SystemClock()
    simulator = None
    if args.simulate is not None:
        from gpiozero.pins.mock import MockFactory

        from edge.simulate import load_scenario
        from edge.simulate.driver import Simulator

        scenario = load_scenario(args.simulate)
        factory = MockFactory()
        simulator = Simulator(scenario, config, factory, clock, scenario.load_traces())
        simulator.prepare()
        log.info("simulating", scenario=str(args.simulate), duration_s=scenario.duration_s)
    else:
        factory = pin_factory(config.gpio.pin_factory)
        if config.gpio.pin_factory is PinFactoryName.MOCK:
            log.warning("mock_pins", reason="gpio.pin_factory = mock: no real sensor is read")
    try:
        daemon = Daemon(
            config,
            clock,
            config_path=path,
            pin_factory=factory,
            on_started=(lambda _d: simulator.start()) if simulator is not None else None,
        )
        daemon.install_signal_handlers()
        for signum in early_signals.held():  # asked for while starting: done now
            if signum == signal.SIGHUP:
                daemon.reload()
            else:
                daemon.stop()
        return daemon.run()
    except SecretError as exc:
        print(f"siaga-edge: {exc}", file=sys.stderr)
        return 2
    finally:
        if simulator is not None:
            simulator.stop()
