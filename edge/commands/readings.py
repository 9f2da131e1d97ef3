"""Live table of every sensor: raw and calibrated value, state, stage, thresholds, age.

Where the readings come from: a running daemon owns the pins, so ``readings`` first asks
it over the local control socket (``control.socket``) for a snapshot of what its
detection sees (the same samples, the real states). When no daemon answers it opens the
sensors itself on the configured pin factory and runs their detection locally (nothing
is published). ``--simulate SCENARIO`` always reads locally, from mock pins driven by the
scenario, as ``run --simulate`` does. If a daemon runs but this user may not use its
socket, nothing is opened: the message says so.

The table refreshes in place every ``--interval`` seconds; ``--once`` prints one
snapshot; ``--json`` prints one line per sensor per refresh (``--count N`` stops after
N refreshes).

Exit 0, 2 for a bad config, 1 when neither the daemon nor the pins can be read.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from rich import box
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from edge.clock import Clock, SystemClock, iso_ms
from edge.commands import EXIT_FAILURE, EXIT_OK, argtypes
from edge.config import (
    DigitalInput,
    PulseInput,
    SensorConfig,
    SiagaConfig,
    config_path,
    load_config,
)
from edge.console.render import STATE_STYLE
from edge.control import (
    ControlClient,
    ControlDeniedError,
    ControlError,
    NoDaemonError,
)
from edge.sensors import Sample, pin_factory
from edge.usererror import UserInputError

FIRST_SAMPLE_TIMEOUT_S = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="print one snapshot and exit")
    parser.add_argument("--json", action="store_true", help="one JSON line per sensor per refresh")
    parser.add_argument(
        "--interval", type=argtypes.seconds, default=1.0, metavar="S", help="refresh period"
    )
    parser.add_argument("--count", type=argtypes.count, metavar="N", help="stop after N refreshes")
    parser.add_argument(
        "--simulate", metavar="SCENARIO", type=Path, help="read mock pins driven by a scenario"
    )


class Source(Protocol):
    label: str

    def snapshot(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class DaemonSource:
    """Snapshots from the running daemon over its control socket."""

    def __init__(self, client: ControlClient) -> None:
        self.client = client
        self.label = f"running daemon ({client.path})"

    def snapshot(self) -> list[dict[str, Any]]:
        return list(self.client.request("readings")["sensors"])

    def close(self) -> None:
        self.client.close()


class LocalSensors:
    """The configured sensors opened here, with their detection run locally (no MQTT):
    the daemon's own :class:`~edge.daemon.sensor_set.SensorSet`, polled on the caller's
    thread instead of a core loop. Pins that cannot be opened raise here (there is no
    daemon to keep retrying them)."""

    def __init__(
        self,
        config: SiagaConfig,
        clock: Clock,
        *,
        scenario: Path | None = None,
        only: str | None = None,
    ) -> None:
        from edge.daemon.sensor_set import SensorSet

        self.config = config
        self.clock = clock
        self.inbox: queue.SimpleQueue[Sample] = queue.SimpleQueue()
        self.simulator: Any = None
        if scenario is not None:
            from gpiozero.pins.mock import MockFactory

            from edge.simulate import load_scenario
            from edge.simulate.driver import Simulator

            loaded = load_scenario(scenario)
            factory: Any = MockFactory()
            self.simulator = Simulator(loaded, config, factory, clock, loaded.load_traces())
            self.simulator.prepare()
            self.label = f"simulated pins ({scenario.name})"
        else:
            factory = pin_factory(config.gpio.pin_factory)
            self.label = f"pins, {config.gpio.pin_factory.value} pin factory (no daemon running)"
        self.configs: list[SensorConfig] = [
            s for s in config.sensors if only is None or s.id == only
        ]
        self.sensors = SensorSet(factory, clock, self.inbox.put)
        now = clock.monotonic()
        for cfg in self.configs:
            self.sensors.add(cfg, now)
        if self.sensors.open_errors:
            self.close()
            raise next(iter(self.sensors.open_errors.values()))
        if self.simulator is not None:
            self.simulator.start()
        self.started = clock.monotonic()

    def poll(self) -> list[Sample]:
        drained: list[Sample] = []
        while True:
            try:
                sample = self.inbox.get_nowait()
            except queue.Empty:
                break
            drained.append(sample)
            self.sensors.sample(sample)
        self.sensors.tick(self.clock.monotonic())
        return drained

    def wait_first(self, timeout: float = FIRST_SAMPLE_TIMEOUT_S) -> None:
        """Until every enabled sensor has given a sample since everything started (sampled
        inputs) or at all (contacts report only changes), or ``timeout``."""
        deadline = self.clock.monotonic() + timeout
        sampled = {s.id for s in self.configs if s.enabled and not _contact(s)}
        contacts = {s.id for s in self.configs if s.enabled and _contact(s)}
        while self.clock.monotonic() < deadline:
            self.poll()
            last = self.sensors.last
            fresh = {k for k, v in last.items() if v.t >= self.started}
            if sampled <= fresh and contacts <= set(last):
                return
            time.sleep(0.02)

    def snapshot(self) -> list[dict[str, Any]]:
        self.poll()
        return self.sensors.readings(self.configs, self.clock.monotonic())

    def close(self) -> None:
        self.sensors.close()
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None


def _contact(cfg: SensorConfig) -> bool:
    return isinstance(cfg.input, DigitalInput | PulseInput)


@contextmanager
def open_source(
    config: SiagaConfig, clock: Clock, simulate: Path | None, err: Console
) -> Iterator[Source | None]:
    source: Source | None = None
    try:
        if simulate is None:
            try:
                source = DaemonSource(ControlClient(config.control.socket))
            except ControlDeniedError as exc:
                err.print(f"siaga-edge readings: a daemon owns the pins; {exc}")
            except NoDaemonError:
                source = _local(config, clock, None, err)
        else:
            source = _local(config, clock, simulate, err)
        yield source
    finally:
        if source is not None:
            source.close()


def _local(config: SiagaConfig, clock: Clock, simulate: Path | None, err: Console) -> Source | None:
    try:
        local = LocalSensors(config, clock, scenario=simulate)
    except UserInputError:
        raise  # a bad scenario is the technician's to fix, not a hardware problem
    except Exception as exc:
        err.print(
            f"siaga-edge readings: no daemon answers on {config.control.socket}, and the "
            f"pins cannot be opened here: {exc}",
            markup=False,
        )
        return None
    local.wait_first()
    return local


def run(args: argparse.Namespace) -> int:
    config = load_config(config_path(args.config))
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=160)  # a file or a pipe: never truncate
    clock = SystemClock()
    with open_source(config, clock, args.simulate, err) as source:
        if source is None:
            return EXIT_FAILURE
        count = 1 if args.once else args.count
        try:
            if args.json:
                _json_loop(source, clock, args.interval, count)
            elif count == 1 or not out.is_terminal:
                _print_loop(source, out, args.interval, count)
            else:
                _live_loop(source, out, args.interval, count)
        except ControlError as exc:
            err.print(f"siaga-edge readings: {exc}", markup=False)
            return EXIT_FAILURE
        except KeyboardInterrupt:
            pass
    return EXIT_OK


def _refreshes(count: int | None) -> Iterator[int]:
    n = 0
    while count is None or n < count:
        yield n
        n += 1


def _json_loop(source: Source, clock: Clock, interval: float, count: int | None) -> None:
    for n in _refreshes(count):
        if n:
            time.sleep(interval)
        ts = iso_ms(clock.wall())
        for row in source.snapshot():
            sys.stdout.write(json.dumps({"ts": ts, **row}, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def _print_loop(source: Source, out: Console, interval: float, count: int | None) -> None:
    for n in _refreshes(count):
        if n:
            time.sleep(interval)
        out.print(readings_table(source.snapshot(), source.label))


def _live_loop(source: Source, out: Console, interval: float, count: int | None) -> None:
    with Live(readings_table(source.snapshot(), source.label), console=out) as live:
        for n in _refreshes(count):
            if n:
                time.sleep(interval)
                live.update(readings_table(source.snapshot(), source.label))


SHOWN_RAW_UNIT = {"m": "m"}  # an ADC fraction, a pin level or a pulse needs no unit


def _number(value: Any, unit: str = "") -> str:
    if not isinstance(value, int | float):
        return "-"
    text = f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return f"{text} {unit}".strip()


def readings_table(rows: list[dict[str, Any]], label: str) -> Table:
    table = Table(
        box=box.ROUNDED,
        title=f"Siaga Edge readings — {escape(label)} — {time.strftime('%H:%M:%S')}",
        title_justify="left",
        expand=False,
    )
    table.add_column("sensor", no_wrap=True)
    table.add_column("hazard", no_wrap=True)
    table.add_column("input", no_wrap=True)
    table.add_column("raw", justify="right", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("stage", no_wrap=True)
    table.add_column("thresholds")
    table.add_column("good", justify="right", no_wrap=True)
    for row in rows:
        state = str(row.get("state") or "-")
        age, late = _age(row)
        shown = Text(f" {state.upper()} ", style=STATE_STYLE.get(state, ""))
        if state == "fault" and row.get("reason"):
            shown.append(f" {row['reason']}", style="bold yellow")
        table.add_row(
            Text(row["sensor"], style="bold"),
            escape(str(row.get("hazard") or "")),
            row["input"],
            _number(row.get("raw"), SHOWN_RAW_UNIT.get(row.get("raw_unit", ""), "")),
            _value(row),
            shown,
            escape(str(row.get("stage") or "")),
            escape(str(row.get("thresholds") or "")),
            Text(
                "never" if age is None else f"{age:.1f} s",
                style="bold red" if late or age is None else "dim",
            ),
        )
    return table


def _value(row: dict[str, Any]) -> str:
    """The calibrated value; for a pulse input, the pulses in its window now."""
    if isinstance(row.get("pulses"), int):
        return f"{row['pulses']} / {row.get('window_s', 0):g} s"
    return _number(row.get("value"), row.get("unit", ""))


def _age(row: dict[str, Any]) -> tuple[float | None, bool]:
    """The age of the last good sample (of any sample, from an older daemon), and whether
    it is late: a sampled input 3 periods behind. An HC-SR04 with no echo keeps sampling
    but gives nothing good: it goes red."""
    age = row.get("good_age_s", row.get("age_s"))
    period = 1.0 / row["sample_hz"] if row.get("sample_hz") else None
    late = age is not None and period is not None and age > 3 * period + 0.5
    return age, late
