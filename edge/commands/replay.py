"""Run a recorded trace through one sensor's detection as configured; print its events.
``replay ZONE SENSOR=TRACE.csv …``: each member of a zone on its own trace, and the zone.

No MQTT, no GPIO: the events the sensor would have sent, on the trace's own timestamps.
By default a table for people; ``--json`` prints one MQTT API event a line plus ``t_s``
(seconds into the trace); ``--plot FILE.png`` draws the trace, thresholds and states.

The trace is ``t_s,value`` CSV in the sensor's unit after calibration (metres, ppm, g);
for a contact 1 is closed (the hazard) and 0 open; for a pulse input each row with 1 is
one pulse. Nothing is invented after the last sample: a change still waiting for its
delay at the end is shown as pending, not as an event.

Exit 2 for a bad config, an unknown sensor or a malformed trace (the message names the
line), 1 when the plot cannot be drawn.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from edge.commands import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from edge.config import SensorConfig, SiagaConfig, ZoneConfig, load_config
from edge.payloads import Event
from edge.replay import Pending, Replay, ZoneReplay, rate_mismatch, replay, replay_zone
from edge.trace import TraceError, load_trace


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sensor", metavar="SENSOR|ZONE", help="sensor or zone id from the config")
    parser.add_argument(
        "traces",
        metavar="TRACE.csv|SENSOR=TRACE.csv",
        nargs="+",
        help="t_s,value CSV; for a zone one SENSOR=TRACE.csv per member",
    )
    parser.add_argument(
        "--json", action="store_true", help="one event a line, as in the MQTT API plus t_s"
    )
    parser.add_argument("--plot", metavar="FILE.png", type=Path, help="draw the replay here")


PLOT_FORMATS = {".png", ".svg", ".pdf"}


def _usage(message: str) -> int:
    print(f"siaga-edge replay: {message}", file=sys.stderr)
    return EXIT_USAGE


def _plot_ready(plot: Path | None) -> int | None:
    """None when the plot can be drawn (or none is asked for), else the exit code."""
    if plot is None:
        return None
    if plot.suffix.lower() not in PLOT_FORMATS:
        return _usage(f"--plot {plot}: name a {', '.join(sorted(PLOT_FORMATS))} file")
    from edge.plot import PlotUnavailableError, require_matplotlib

    try:
        require_matplotlib()
    except PlotUnavailableError as exc:
        print(f"siaga-edge replay: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return None


def _print_json(events: list[tuple[float, Event]]) -> None:
    for t_s, event in events:
        line = {"t_s": round(t_s, 6), **event.model_dump(mode="json", by_alias=True)}
        print(json.dumps(line, ensure_ascii=False))


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)  # an invalid one: exit 2 from the command line
    if any(z.id == args.sensor for z in config.zones):
        return run_zone(args, config, config.zone(args.sensor))
    try:
        cfg = config.sensor(args.sensor)
    except KeyError as exc:
        zones = ", ".join(z.id for z in config.zones)
        return _usage(exc.args[0] + (f"; no zone of that name (zones: {zones})" if zones else ""))
    if len(args.traces) != 1:
        return _usage(f"{cfg.id} is a sensor: give one TRACE.csv")
    trace = args.traces[0]
    prefix, _, rest = trace.partition("=")
    path = Path(rest if rest and prefix == cfg.id else trace)
    try:
        samples = load_trace(path)
    except TraceError as exc:
        return _usage(f"malformed trace: {exc}")
    code = _plot_ready(args.plot)
    if code is not None:
        return code
    _warn_rate(rate_mismatch(cfg, samples))
    result = replay(config, cfg.id, samples)

    def plot(path: Path) -> None:
        from edge.plot import plot_replay

        plot_replay(cfg, samples, result, path)

    return _show(args, result.events, lambda: table(cfg, result, len(samples)), plot)


def _warn_rate(problem: str | None) -> None:
    if problem is not None:
        print(f"siaga-edge replay: warning: {problem}", file=sys.stderr)


def _show(
    args: argparse.Namespace,
    events: list[tuple[float, Event]],
    text: Callable[[], str],
    plot: Callable[[Path], None],
) -> int:
    """The events as JSON lines or a table, then the plot if one was asked for."""
    if args.json:
        _print_json(events)
    else:
        print(text())
    if args.plot is not None:
        try:
            plot(args.plot)
        except OSError as exc:
            print(f"siaga-edge replay: cannot write {args.plot}: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        if not args.json:
            print(f"plot written to {args.plot}")
    return EXIT_OK


def member_traces(zone: ZoneConfig, specs: list[str]) -> dict[str, Path] | str:
    """``SENSOR=TRACE.csv`` arguments as member -> path, or what is wrong with them."""
    paths: dict[str, Path] = {}
    for spec in specs:
        member, eq, path = spec.partition("=")
        if not eq or not member or not path:
            return f"{spec!r}: for a zone, give SENSOR=TRACE.csv for each member"
        if member not in zone.members:
            return f"{member!r} is not a member of zone {zone.id} ({', '.join(zone.members)})"
        if member in paths:
            return f"{member!r} has two traces"
        paths[member] = Path(path)
    missing = [m for m in zone.members if m not in paths]
    if missing:
        return f"zone {zone.id} needs a trace for every member; missing: {', '.join(missing)}"
    return paths


def run_zone(args: argparse.Namespace, config: SiagaConfig, zone: ZoneConfig) -> int:
    paths = member_traces(zone, args.traces)
    if isinstance(paths, str):
        return _usage(paths)
    traces = {}
    for member, path in paths.items():
        try:
            traces[member] = load_trace(path)
        except TraceError as exc:
            return _usage(f"malformed trace for {member}: {exc}")
    code = _plot_ready(args.plot)
    if code is not None:
        return code
    for member, samples in traces.items():
        _warn_rate(rate_mismatch(config.sensor(member), samples))
    result = replay_zone(config, zone.id, traces)

    def plot(path: Path) -> None:
        from edge.plot import plot_zone_replay

        plot_zone_replay(config, zone, traces, result, path)

    counts = {m: len(t) for m, t in traces.items()}
    return _show(args, result.events, lambda: zone_table(zone, result, counts), plot)


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.4g}"


def _columns(head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Fixed-width columns; the last one (the message) left ragged."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in [head, *rows]
    ]


def _pending_line(p: Pending, who: str = "") -> str:
    stage = f" ({p.stage})" if p.stage else ""
    return (
        f"pending at the end{who}: {p.state.value}{stage} at t_s {p.t_s:.2f} "
        "if the input had stayed as it was (not an event: the trace ends first)"
    )


def table(cfg: SensorConfig, result: Replay, n_samples: int) -> str:
    """The events as a fixed-width table, then how the trace ended."""
    head = ("t_s", "state", "previous", "reason", "stage", "value", "threshold", "message")
    rows = [
        (
            f"{t_s:.2f}",
            e.state.value,
            e.previous.value,
            e.reason.value,
            e.stage or "",
            _num(e.value),
            _num(e.threshold),
            e.message,
        )
        for t_s, e in result.events
    ]
    lines = _columns(head, rows)
    lines.append("")
    lines.append(
        f"{cfg.id} ({cfg.hazard.value}): {n_samples} samples up to t_s "
        f"{result.end_t_s:.2f}, {len(result.events)} events"
    )
    if result.pending is not None:
        lines.append(_pending_line(result.pending))
    return "\n".join(lines)


def zone_table(zone: ZoneConfig, result: ZoneReplay, n_samples: dict[str, int]) -> str:
    """The zone's and its members' events in one table (``*`` marks the zone's), then how
    each trace ended."""
    head = ("t_s", "sensor", "state", "previous", "reason", "value", "threshold", "message")
    rows = [
        (
            f"{t_s:.2f}",
            ("* " if e.sensor == zone.id else "  ") + e.sensor,
            e.state.value,
            e.previous.value,
            e.reason.value,
            _num(e.value),
            _num(e.threshold),
            e.message,
        )
        for t_s, e in result.events
    ]
    lines = _columns(head, rows)
    lines.append("")
    own = sum(1 for _, e in result.events if e.sensor == zone.id)
    samples = sum(n_samples.values())
    lines.append(
        f"{zone.id} ({zone.rule.value}): {len(n_samples)} members, {samples} samples up to "
        f"t_s {result.end_t_s:.2f}, {own} zone events, {len(result.events) - own} member events"
    )
    for member, p in result.pending.items():
        lines.append(_pending_line(p, f" ({member})"))
    return "\n".join(lines)
