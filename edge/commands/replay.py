"""Run a recorded trace through one sensor's detection as configured; print its events.

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
from pathlib import Path

from edge.commands import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from edge.config import SensorConfig, load_config
from edge.replay import Replay, replay
from edge.trace import TraceError, load_trace


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sensor", metavar="SENSOR", help="sensor id from the config")
    parser.add_argument("trace", metavar="TRACE.csv", type=Path, help="t_s,value CSV")
    parser.add_argument(
        "--json", action="store_true", help="one event a line, as in the MQTT API plus t_s"
    )
    parser.add_argument("--plot", metavar="FILE.png", type=Path, help="draw the replay here")


PLOT_FORMATS = {".png", ".svg", ".pdf"}


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)  # an invalid one: exit 2 from the command line
    try:
        cfg = config.sensor(args.sensor)
    except KeyError as exc:
        print(f"siaga-edge replay: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    try:
        samples = load_trace(args.trace)
    except TraceError as exc:
        print(f"siaga-edge replay: malformed trace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.plot is not None and args.plot.suffix.lower() not in PLOT_FORMATS:
        print(
            f"siaga-edge replay: --plot {args.plot}: name a {', '.join(sorted(PLOT_FORMATS))} file",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.plot is not None:
        from edge.plot import PlotUnavailableError, require_matplotlib

        try:
            require_matplotlib()
        except PlotUnavailableError as exc:
            print(f"siaga-edge replay: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    result = replay(config, cfg.id, samples)
    if args.json:
        for t_s, event in result.events:
            line = {"t_s": round(t_s, 6), **event.model_dump(mode="json", by_alias=True)}
            print(json.dumps(line, ensure_ascii=False))
    else:
        print(table(cfg, result, len(samples)))
    if args.plot is not None:
        from edge.plot import plot_replay

        try:
            plot_replay(cfg, samples, result, args.plot)
        except OSError as exc:
            print(f"siaga-edge replay: cannot write {args.plot}: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        if not args.json:
            print(f"plot written to {args.plot}")
    return EXIT_OK


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.4g}"


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
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in [head, *rows]
    ]
    lines.append("")
    lines.append(
        f"{cfg.id} ({cfg.hazard.value}): {n_samples} samples up to t_s "
        f"{result.end_t_s:.2f}, {len(result.events)} events"
    )
    if result.pending is not None:
        p = result.pending
        stage = f" ({p.stage})" if p.stage else ""
        lines.append(
            f"pending at the end: {p.state.value}{stage} at t_s {p.t_s:.2f} "
            "if the input had stayed as it was (not an event: the trace ends first)"
        )
    return "\n".join(lines)
